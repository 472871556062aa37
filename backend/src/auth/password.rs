//! argon2id password hashing. Hashing is CPU-heavy, so the async wrappers
//! run it on the blocking pool, never on a request worker.

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use rand::TryRngCore;

use crate::domain::DomainError;

/// A valid hash of a random password, verified against when the account does
/// not exist, so that "no such user" takes as long as "wrong password".
const DUMMY_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$2Cb0Hs0iBkqKkxpSIg2pZ0iO0aeQOS5Qd5uk6e6d1hA";

pub fn hash(password: &str) -> Result<String, DomainError> {
    let mut bytes = [0u8; 16];
    rand::rngs::OsRng
        .try_fill_bytes(&mut bytes)
        .map_err(|e| DomainError::Internal(format!("random source: {e}")))?;
    let salt =
        SaltString::encode_b64(&bytes).map_err(|e| DomainError::Internal(format!("salt: {e}")))?;
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| DomainError::Internal(format!("argon2: {e}")))
}

/// True when `password` matches `hash`; a malformed hash never matches.
pub fn verify(hash: Option<&str>, password: &str) -> bool {
    let stored = hash.unwrap_or(DUMMY_HASH);
    let Ok(parsed) = PasswordHash::new(stored) else {
        return false;
    };
    let ok = Argon2::default()
        .verify_password(password.as_bytes(), &parsed)
        .is_ok();
    ok && hash.is_some()
}

pub async fn hash_blocking(password: String) -> Result<String, DomainError> {
    tokio::task::spawn_blocking(move || hash(&password))
        .await
        .map_err(|e| DomainError::Internal(format!("hashing task: {e}")))?
}

pub async fn verify_blocking(hash: Option<String>, password: String) -> bool {
    tokio::task::spawn_blocking(move || verify(hash.as_deref(), &password))
        .await
        .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_then_verify() {
        let h = hash("correct horse").unwrap();
        assert!(h.starts_with("$argon2id$"));
        assert!(verify(Some(&h), "correct horse"));
        assert!(!verify(Some(&h), "wrong horse"));
    }

    #[test]
    fn missing_or_broken_hash_never_matches() {
        assert!(!verify(None, "anything"));
        assert!(!verify(Some("not a hash"), "anything"));
        // The dummy hash must parse, or the timing equalisation is void.
        assert!(PasswordHash::new(DUMMY_HASH).is_ok());
    }
}
