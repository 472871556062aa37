//! Copying an old attachment's file into the service's attachment storage.

use std::path::{Component, Path, PathBuf};

use sha2::{Digest, Sha256};

/// The storage key of an imported attachment: the service's layout
/// ("YYYY/MM/<uuid>") with a uuid derived from the old id, so a resumed
/// run writes the same file again instead of leaving an orphan.
pub fn storage_key(old_id: i64, created_at: chrono::DateTime<chrono::Utc>) -> String {
    let digest = Sha256::digest(format!("legacy-attachment:{old_id}").as_bytes());
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    let id = uuid::Builder::from_random_bytes(bytes).into_uuid();
    format!("{}/{id}", created_at.format("%Y/%m"))
}

/// The old file under `files_dir`, refusing paths that leave it.
pub fn source_path(files_dir: &Path, stored_filename: &str) -> Option<PathBuf> {
    let rel = Path::new(stored_filename);
    if rel
        .components()
        .any(|c| !matches!(c, Component::Normal(_) | Component::CurDir))
    {
        return None;
    }
    Some(files_dir.join(rel))
}

/// Copies `src` into the attachment storage under `key`; returns the
/// bytes copied.
pub async fn copy_attachment(
    storage: &crate::storage::Storage,
    key: &str,
    src: &Path,
) -> std::io::Result<u64> {
    let bytes = tokio::fs::read(src).await?;
    let len = bytes.len() as u64;
    storage
        .put(key, bytes.into())
        .await
        .map_err(|e| std::io::Error::other(e.to_string()))?;
    Ok(len)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_stable_and_dated() {
        let t = chrono::DateTime::parse_from_rfc3339("2024-03-07T13:00:00Z")
            .unwrap()
            .to_utc();
        let k = storage_key(2, t);
        assert!(k.starts_with("2024/03/"), "{k}");
        assert_eq!(k, storage_key(2, t));
        assert_ne!(k, storage_key(3, t));
    }

    #[test]
    fn paths_stay_inside_the_files_dir() {
        let d = Path::new("/srv/files");
        assert_eq!(
            source_path(d, "ab/cd/x.pdf"),
            Some(PathBuf::from("/srv/files/ab/cd/x.pdf"))
        );
        assert_eq!(source_path(d, "../etc/passwd"), None);
        assert_eq!(source_path(d, "/etc/passwd"), None);
    }
}
