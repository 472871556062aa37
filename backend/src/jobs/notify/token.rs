//! One-click unsubscribe tokens: `<user id>.<HMAC-SHA256 of it>` under a
//! server-wide key. The key is generated once and kept in the database
//! (`server_secrets`), so every instance signs and verifies alike and links
//! keep working across restarts. A token only ever turns notifications off,
//! so it carries no expiry: a link in an old mail must still work.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use rand::TryRngCore;
use sea_orm::sea_query::{OnConflict, Query};
use sea_orm::{ConnectionTrait, DbErr, EntityTrait};
use sha2::Sha256;

use crate::db::entities::server_secrets;

/// Name of the key's row in `server_secrets`.
const KEY_NAME: &str = "unsubscribe_hmac";
/// Domain separation: the key signs nothing else, but a future use of it
/// must not be able to mint unsubscribe tokens.
const PURPOSE: &[u8] = b"email-unsubscribe-v1:";

pub struct UnsubscribeKey(Vec<u8>);

impl std::fmt::Debug for UnsubscribeKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("UnsubscribeKey(..)")
    }
}

impl UnsubscribeKey {
    /// A key from raw bytes (tests).
    pub fn from_bytes(bytes: &[u8]) -> Self {
        Self(bytes.to_vec())
    }

    /// Reads the shared key, creating it first if no instance has yet. Two
    /// instances starting together both insert; the second insert is a
    /// no-op and both read the one that won.
    pub async fn load_or_create(db: &impl ConnectionTrait) -> Result<Self, DbErr> {
        let mut fresh = [0u8; 32];
        rand::rngs::OsRng
            .try_fill_bytes(&mut fresh)
            .map_err(|e| DbErr::Custom(format!("random source: {e}")))?;
        let mut insert = Query::insert();
        insert
            .into_table(server_secrets::Entity)
            .columns([
                server_secrets::Column::Name,
                server_secrets::Column::Value,
                server_secrets::Column::CreatedAt,
            ])
            .values_panic([
                KEY_NAME.into(),
                hex::encode(fresh).into(),
                chrono::Utc::now().into(),
            ])
            .on_conflict(
                OnConflict::column(server_secrets::Column::Name)
                    .do_nothing()
                    .to_owned(),
            );
        db.execute(&insert).await?;
        let row = server_secrets::Entity::find_by_id(KEY_NAME.to_owned())
            .one(db)
            .await?
            .ok_or_else(|| DbErr::Custom("the unsubscribe key vanished".into()))?;
        let bytes = hex::decode(row.value.trim())
            .map_err(|_| DbErr::Custom("the stored unsubscribe key is not hex".into()))?;
        if bytes.len() < 16 {
            return Err(DbErr::Custom(
                "the stored unsubscribe key is too short".into(),
            ));
        }
        Ok(Self(bytes))
    }

    fn mac(&self, user_id: i64) -> Hmac<Sha256> {
        // HMAC takes keys of any length; this cannot fail.
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.0)
            .unwrap_or_else(|_| unreachable!("HMAC accepts any key length"));
        mac.update(PURPOSE);
        mac.update(user_id.to_string().as_bytes());
        mac
    }

    /// The token for a user's unsubscribe link.
    pub fn token(&self, user_id: i64) -> String {
        let sig = self.mac(user_id).finalize().into_bytes();
        format!("{user_id}.{}", URL_SAFE_NO_PAD.encode(sig))
    }

    /// The user id a token was made for, if it is genuine (constant-time
    /// comparison of the signature).
    pub fn verify(&self, token: &str) -> Option<i64> {
        let (id, sig) = token.trim().split_once('.')?;
        // Only the canonical form: no "+5", "05" or spaces.
        let user_id: i64 = id.parse().ok().filter(|n: &i64| n.to_string() == id)?;
        let sig = URL_SAFE_NO_PAD.decode(sig).ok()?;
        self.mac(user_id).verify_slice(&sig).ok()?;
        Some(user_id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_verify_only_with_their_key_and_user() {
        let key = UnsubscribeKey::from_bytes(b"0123456789abcdef0123456789abcdef");
        let t = key.token(42);
        assert_eq!(key.verify(&t), Some(42));
        let other = UnsubscribeKey::from_bytes(b"another key, another signature!!");
        assert_eq!(other.verify(&t), None);
        let (_, sig) = t.split_once('.').unwrap();
        assert_eq!(key.verify(&format!("43.{sig}")), None);
        assert_eq!(key.verify(&format!("042.{sig}")), None);
        assert_eq!(key.verify("42"), None);
        assert_eq!(key.verify("42.!!!"), None);
        assert_eq!(key.verify(""), None);
        let mut tampered = t.clone();
        tampered.pop();
        assert_eq!(key.verify(&tampered), None);
    }
}
