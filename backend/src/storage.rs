//! Where attachment bytes live: a thin wrapper over `object_store`, so the
//! same code writes to a folder under DATA_DIR (the default) or to an
//! S3-compatible bucket that several app instances share. It owns object
//! keys and bytes only; which user may read which object is decided in
//! `domain::attachments`, never here.

use std::sync::Arc;

use bytes::Bytes;
use chrono::{Datelike, Utc};
use futures_util::StreamExt;
use futures_util::stream::BoxStream;
use object_store::aws::AmazonS3Builder;
use object_store::buffered::BufWriter;
use object_store::local::LocalFileSystem;
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};
use tokio::io::AsyncWriteExt;

use crate::config::StorageSettings;

/// Objects up to this size are written with one request; larger ones are
/// streamed as a multipart upload (S3 parts must be at least 5 MiB).
const SINGLE_PUT_BYTES: usize = 5 * 1024 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    #[error("no such object")]
    NotFound,
    #[error("invalid object key {0:?}")]
    InvalidKey(String),
    #[error("object store: {0}")]
    Store(#[from] object_store::Error),
    #[error("object store: {0}")]
    Io(#[from] std::io::Error),
}

fn map_err(e: object_store::Error) -> StorageError {
    match e {
        object_store::Error::NotFound { .. } => StorageError::NotFound,
        other => StorageError::Store(other),
    }
}

/// An object being read: its size and a stream of its bytes.
pub struct ObjectReader {
    pub size: u64,
    pub stream: BoxStream<'static, Result<Bytes, StorageError>>,
}

/// The attachment store shared by every request and background job.
#[derive(Clone)]
pub struct Storage {
    store: Arc<dyn ObjectStore>,
    /// "local" or "s3", for the log.
    kind: &'static str,
}

impl std::fmt::Debug for Storage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Storage({}: {})", self.kind, self.store)
    }
}

/// The S3-compatible bucket settings, checked.
#[derive(Debug, Clone)]
pub struct S3Config {
    pub bucket: String,
    pub endpoint: Option<String>,
    pub region: String,
    pub access_key_id: Option<String>,
    pub secret_access_key: Option<String>,
}

impl Storage {
    /// The store the settings ask for: the S3 bucket when
    /// ATTACHMENTS_S3_BUCKET is set, otherwise DATA_DIR/attachments.
    pub fn from_settings(
        settings: &StorageSettings,
        data_dir: &std::path::Path,
    ) -> Result<Self, String> {
        match settings.s3_config()? {
            Some(s3) => Self::s3(&s3),
            None => Self::local(&data_dir.join("attachments")),
        }
    }

    /// Files under `dir` (created if missing).
    pub fn local(dir: &std::path::Path) -> Result<Self, String> {
        std::fs::create_dir_all(dir).map_err(|e| {
            format!(
                "the attachments directory {} cannot be created: {e}",
                dir.display()
            )
        })?;
        let fs = LocalFileSystem::new_with_prefix(dir)
            .map_err(|e| format!("attachments directory {}: {e}", dir.display()))?
            // Removing an object also removes the YYYY/MM folders it emptied.
            .with_automatic_cleanup(true)
            // An upload answered 201 must survive a power cut.
            .with_fsync(true);
        Ok(Self {
            store: Arc::new(fs),
            kind: "local",
        })
    }

    /// An S3-compatible bucket (AWS, MinIO, Ceph, Garage…). Builds the
    /// client without contacting the server.
    pub fn s3(cfg: &S3Config) -> Result<Self, String> {
        crate::tls::install_crypto_provider();
        let mut b = AmazonS3Builder::new()
            .with_bucket_name(&cfg.bucket)
            .with_region(&cfg.region);
        if let Some(endpoint) = &cfg.endpoint {
            // Self-hosted servers on a private network often speak plain http.
            b = b
                .with_endpoint(endpoint)
                .with_allow_http(endpoint.starts_with("http://"));
        }
        if let (Some(id), Some(secret)) = (&cfg.access_key_id, &cfg.secret_access_key) {
            b = b.with_access_key_id(id).with_secret_access_key(secret);
        }
        let s3 = b
            .build()
            .map_err(|e| format!("ATTACHMENTS_S3_*: the S3 client cannot be built: {e}"))?;
        Ok(Self {
            store: Arc::new(s3),
            kind: "s3",
        })
    }

    /// "local" or "s3".
    pub fn kind(&self) -> &'static str {
        self.kind
    }

    /// A fresh, unguessable key: `YYYY/MM/<uuid>`.
    pub fn new_key() -> String {
        let now = Utc::now();
        format!(
            "{:04}/{:02}/{}",
            now.year(),
            now.month(),
            uuid::Uuid::new_v4().simple()
        )
    }

    fn path(key: &str) -> Result<ObjectPath, StorageError> {
        let p = ObjectPath::parse(key).map_err(|_| StorageError::InvalidKey(key.to_owned()))?;
        if p.as_ref().is_empty() {
            return Err(StorageError::InvalidKey(key.to_owned()));
        }
        Ok(p)
    }

    /// Stores `bytes` under `key` (replacing what was there), atomically:
    /// readers never see a partial object.
    pub async fn put(&self, key: &str, bytes: Bytes) -> Result<(), StorageError> {
        let path = Self::path(key)?;
        self.store
            .put(&path, PutPayload::from_bytes(bytes))
            .await
            .map_err(map_err)?;
        Ok(())
    }

    /// A writer that streams an object of unknown size into `key`; nothing
    /// is visible under the key until `finish`, and `abort` leaves nothing.
    pub fn writer(&self, key: &str) -> Result<ObjectWriter, StorageError> {
        let path = Self::path(key)?;
        Ok(ObjectWriter {
            inner: BufWriter::with_capacity(self.store.clone(), path, SINGLE_PUT_BYTES),
        })
    }

    /// The object's size and a stream of its bytes.
    pub async fn get(&self, key: &str) -> Result<ObjectReader, StorageError> {
        let path = Self::path(key)?;
        let res = self.store.get(&path).await.map_err(map_err)?;
        let size = res.meta.size;
        Ok(ObjectReader {
            size,
            stream: res.into_stream().map(|r| r.map_err(map_err)).boxed(),
        })
    }

    /// The whole object in memory (for small objects: images to thumbnail).
    pub async fn get_bytes(&self, key: &str) -> Result<Bytes, StorageError> {
        let path = Self::path(key)?;
        let res = self.store.get(&path).await.map_err(map_err)?;
        res.bytes().await.map_err(map_err)
    }

    /// The object's size, or `None` when there is no such object.
    pub async fn head(&self, key: &str) -> Result<Option<u64>, StorageError> {
        let path = Self::path(key)?;
        match self.store.head(&path).await {
            Ok(meta) => Ok(Some(meta.size)),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(StorageError::Store(e)),
        }
    }

    /// Removes the object; removing one that is not there is not an error
    /// (another instance may have been first).
    pub async fn delete(&self, key: &str) -> Result<(), StorageError> {
        let path = Self::path(key)?;
        match self.store.delete(&path).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(StorageError::Store(e)),
        }
    }
}

/// See `Storage::writer`.
pub struct ObjectWriter {
    inner: BufWriter,
}

impl ObjectWriter {
    pub async fn write(&mut self, chunk: Bytes) -> Result<(), StorageError> {
        self.inner.put(chunk).await.map_err(map_err)
    }

    /// Makes the object visible under its key.
    pub async fn finish(mut self) -> Result<(), StorageError> {
        self.inner.shutdown().await?;
        Ok(())
    }

    /// Drops what was written (a multipart upload is cancelled).
    pub async fn abort(mut self) -> Result<(), StorageError> {
        self.inner.abort().await.map_err(map_err)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s3(bucket: &str, endpoint: Option<&str>) -> S3Config {
        S3Config {
            bucket: bucket.into(),
            endpoint: endpoint.map(str::to_owned),
            region: "eu-central-1".into(),
            access_key_id: Some("AKIDEXAMPLE".into()),
            secret_access_key: Some("secret".into()),
        }
    }

    #[test]
    fn keys_are_year_month_and_a_uuid() {
        let k = Storage::new_key();
        let parts: Vec<&str> = k.split('/').collect();
        assert_eq!(parts.len(), 3, "{k}");
        assert_eq!(parts[0].len(), 4);
        assert_eq!(parts[1].len(), 2);
        assert_eq!(parts[2].len(), 32);
        assert_ne!(k, Storage::new_key());
        assert!(Storage::path(&k).is_ok());
    }

    #[test]
    fn keys_that_escape_are_refused() {
        for bad in ["../x", "a/../b", "", "a//b"] {
            assert!(Storage::path(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn s3_client_is_built_from_settings_without_a_server() {
        let st = Storage::s3(&s3("zalaczniki", Some("http://127.0.0.1:9000"))).expect("built");
        assert_eq!(st.kind(), "s3");
        let st = Storage::s3(&s3("zalaczniki", None)).expect("built");
        assert_eq!(st.kind(), "s3");
    }

    #[tokio::test]
    async fn local_put_get_head_delete() {
        let dir = tempfile::tempdir().expect("tempdir");
        let st = Storage::local(&dir.path().join("attachments")).expect("local");
        let key = Storage::new_key();
        assert_eq!(st.head(&key).await.expect("head"), None);
        st.put(&key, Bytes::from_static(b"abc")).await.expect("put");
        assert_eq!(st.head(&key).await.expect("head"), Some(3));
        assert_eq!(&st.get_bytes(&key).await.expect("get")[..], b"abc");
        let mut r = st.get(&key).await.expect("get");
        assert_eq!(r.size, 3);
        let mut got = Vec::new();
        while let Some(c) = r.stream.next().await {
            got.extend_from_slice(&c.expect("chunk"));
        }
        assert_eq!(got, b"abc");
        st.delete(&key).await.expect("delete");
        st.delete(&key).await.expect("deleting twice is fine");
        assert!(matches!(st.get(&key).await, Err(StorageError::NotFound)));
    }

    #[tokio::test]
    async fn an_aborted_writer_leaves_nothing() {
        let dir = tempfile::tempdir().expect("tempdir");
        let st = Storage::local(dir.path()).expect("local");
        let key = Storage::new_key();
        let mut w = st.writer(&key).expect("writer");
        w.write(Bytes::from(vec![7u8; 1000])).await.expect("write");
        w.abort().await.expect("abort");
        assert_eq!(st.head(&key).await.expect("head"), None);

        // Larger than one put: streamed as a multipart upload, then aborted.
        let mut w = st.writer(&key).expect("writer");
        for _ in 0..7 {
            w.write(Bytes::from(vec![1u8; 1024 * 1024]))
                .await
                .expect("write");
        }
        w.abort().await.expect("abort");
        assert_eq!(st.head(&key).await.expect("head"), None);
        let files = walk(dir.path());
        assert!(files.is_empty(), "left behind: {files:?}");

        let mut w = st.writer(&key).expect("writer");
        for _ in 0..7 {
            w.write(Bytes::from(vec![1u8; 1024 * 1024]))
                .await
                .expect("write");
        }
        w.finish().await.expect("finish");
        assert_eq!(st.head(&key).await.expect("head"), Some(7 * 1024 * 1024));
    }

    fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
        let mut out = Vec::new();
        for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() {
                out.extend(walk(&p));
            } else {
                out.push(p);
            }
        }
        out
    }
}
