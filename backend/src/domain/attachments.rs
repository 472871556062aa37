//! Attachments: the rules, free of HTTP and of where bytes live. Who may
//! read an attachment (its uploader while it is unattached, afterwards the
//! current members of its message's conversation, nobody once the message
//! is deleted — and everyone else gets the same `NotFound` as for an id
//! that does not exist), what type a file is (sniffed from its bytes, never
//! taken from the client), which types a browser may show inline, how a
//! file name is made safe to keep and show, and removing uploads that were
//! never attached.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::Query;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter,
    QueryOrder, QuerySelect,
};
use shared::dto::messages::AttachmentDto;

use super::DomainError;
use crate::db::entities::{conv_messages, message_attachments as attachments};
use crate::state::AppState;

/// How many leading bytes of a file are kept for sniffing its type.
pub const SNIFF_BYTES: usize = 8 * 1024;
/// Longest file name kept, in characters (the extension is preserved).
pub const MAX_FILENAME_CHARS: usize = 200;
/// The name of a file that came without a usable one.
pub const FALLBACK_FILENAME: &str = "file";
/// Longest side of a thumbnail, in pixels.
pub const THUMBNAIL_MAX_SIDE: u32 = 480;

/// Types a browser may render in place; everything else (HTML, SVG, XML,
/// scripts, executables, archives, unknown bytes) is served as a download.
const INLINE_TYPES: [&str; 8] = [
    "image/png",
    "image/jpeg",
    "image/gif",
    "image/webp",
    "image/bmp",
    "image/avif",
    "application/pdf",
    "text/plain",
];

/// Types the thumbnail job can decode (the image crate's enabled formats).
const THUMBNAIL_TYPES: [&str; 4] = ["image/png", "image/jpeg", "image/gif", "image/webp"];

/// A file stored under `storage_key`, ready to be recorded.
#[derive(Debug, Clone)]
pub struct NewAttachment {
    pub storage_key: String,
    pub filename: String,
    pub content_type: String,
    pub size_bytes: i64,
}

/// The content type of a file from its first bytes. Known signatures
/// first (infer); otherwise UTF-8 text is `text/plain` (an SVG image is
/// recognised so it is never shown inline); anything else is
/// `application/octet-stream`.
pub fn sniff(head: &[u8]) -> String {
    if let Some(t) = infer::get(head) {
        return t.mime_type().to_owned();
    }
    if looks_like_text(head) {
        let lower = String::from_utf8_lossy(head).to_lowercase();
        if lower.contains("<svg") {
            return "image/svg+xml".into();
        }
        return "text/plain".into();
    }
    "application/octet-stream".into()
}

/// UTF-8 without NUL bytes; a character cut by the end of the sniffed
/// prefix does not count against it.
fn looks_like_text(head: &[u8]) -> bool {
    if head.is_empty() || head.contains(&0) {
        return false;
    }
    match std::str::from_utf8(head) {
        Ok(_) => true,
        Err(e) => e.error_len().is_none() && head.len() >= SNIFF_BYTES,
    }
}

/// Whether a browser may show this type in place.
pub fn is_inline(content_type: &str) -> bool {
    INLINE_TYPES.contains(&content_type)
}

/// Whether the thumbnail job can read this type.
pub fn wants_thumbnail(content_type: &str) -> bool {
    THUMBNAIL_TYPES.contains(&content_type)
}

/// The object key of an attachment's thumbnail.
pub fn thumbnail_key(storage_key: &str) -> String {
    format!("{storage_key}.thumb.jpg")
}

/// Invisible characters that can disguise a name (`gpj.exe` shown as
/// `exe.jpg` by a right-to-left override) or hide parts of it.
fn is_invisible(c: char) -> bool {
    matches!(c, '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{FEFF}')
}

/// A file name safe to keep and show: no directories, no control or
/// invisible characters, trimmed, at most `MAX_FILENAME_CHARS` characters
/// with its extension kept; letters of any language stay as they are.
pub fn sanitize_filename(raw: &str) -> String {
    let last = raw.rsplit(['/', '\\']).next().unwrap_or_default();
    let cleaned: String = last
        .chars()
        .filter(|c| !c.is_control() && !is_invisible(*c))
        .collect();
    let cleaned = cleaned.trim();
    if cleaned.chars().all(|c| c == '.') {
        return FALLBACK_FILENAME.into();
    }
    if cleaned.chars().count() <= MAX_FILENAME_CHARS {
        return cleaned.to_owned();
    }
    let ext = cleaned
        .rfind('.')
        .map(|i| &cleaned[i..])
        .filter(|e| e.chars().count() <= 16)
        .unwrap_or("");
    let keep = MAX_FILENAME_CHARS - ext.chars().count();
    let stem: String = cleaned.chars().take(keep).collect();
    format!("{}{ext}", stem.trim_end())
}

/// `Content-Disposition` for a download: an ASCII `filename` for old
/// clients and the exact UTF-8 name as RFC 5987 `filename*`.
pub fn content_disposition(inline: bool, filename: &str) -> String {
    let fallback: String = filename
        .chars()
        .map(|c| match ascii_fold(c) {
            Some(a) => a,
            None if c == ' ' || (c.is_ascii_graphic() && c != '"' && c != '\\') => c,
            None => '_',
        })
        .collect();
    let mut encoded = String::with_capacity(filename.len() * 3);
    for b in filename.bytes() {
        let attr_char = b.is_ascii_alphanumeric() || b"!#$&+-.^_`|~".contains(&b);
        if attr_char {
            encoded.push(b as char);
        } else {
            encoded.push_str(&format!("%{b:02X}"));
        }
    }
    format!(
        "{}; filename=\"{fallback}\"; filename*=UTF-8''{encoded}",
        if inline { "inline" } else { "attachment" }
    )
}

/// Polish letters without their marks, for the ASCII fallback name.
fn ascii_fold(c: char) -> Option<char> {
    Some(match c {
        'ą' => 'a',
        'ć' => 'c',
        'ę' => 'e',
        'ł' => 'l',
        'ń' => 'n',
        'ó' => 'o',
        'ś' => 's',
        'ź' | 'ż' => 'z',
        'Ą' => 'A',
        'Ć' => 'C',
        'Ę' => 'E',
        'Ł' => 'L',
        'Ń' => 'N',
        'Ó' => 'O',
        'Ś' => 'S',
        'Ź' | 'Ż' => 'Z',
        _ => return None,
    })
}

/// Records one stored file as an unattached upload of `uploader_id`.
pub async fn record(
    db: &impl ConnectionTrait,
    uploader_id: i64,
    new: NewAttachment,
) -> Result<attachments::Model, DomainError> {
    Ok(attachments::ActiveModel {
        uploader_id: Set(Some(uploader_id)),
        message_id: Set(None),
        filename: Set(new.filename),
        content_type: Set(new.content_type),
        size_bytes: Set(new.size_bytes),
        storage_key: Set(new.storage_key),
        width: Set(None),
        height: Set(None),
        has_thumbnail: Set(false),
        created_at: Set(Utc::now()),
        ..Default::default()
    }
    .insert(db)
    .await?)
}

/// The attachment if `user_id` may read it, otherwise `NotFound` — the same
/// answer whether or not it exists.
pub async fn readable(
    db: &impl ConnectionTrait,
    user_id: i64,
    attachment_id: i64,
) -> Result<attachments::Model, DomainError> {
    let a = attachments::Entity::find_by_id(attachment_id)
        .one(db)
        .await?
        .ok_or(DomainError::NotFound)?;
    match a.message_id {
        None if a.uploader_id == Some(user_id) => Ok(a),
        None => Err(DomainError::NotFound),
        Some(mid) => {
            // A member of the conversation, and the message not deleted.
            super::messages::live_message_for(db, user_id, mid).await?;
            Ok(a)
        }
    }
}

/// Records the thumbnail and the image's size. Returns the row as it is
/// now, or `None` when the upload is gone (removed while the thumbnail was
/// made).
pub async fn set_thumbnail(
    db: &impl ConnectionTrait,
    attachment_id: i64,
    width: u32,
    height: u32,
) -> Result<Option<attachments::Model>, DomainError> {
    let res = attachments::Entity::update_many()
        .col_expr(attachments::Column::HasThumbnail, true.into())
        .col_expr(
            attachments::Column::Width,
            i32::try_from(width).unwrap_or(i32::MAX).into(),
        )
        .col_expr(
            attachments::Column::Height,
            i32::try_from(height).unwrap_or(i32::MAX).into(),
        )
        .filter(attachments::Column::Id.eq(attachment_id))
        .exec(db)
        .await?;
    if res.rows_affected == 0 {
        return Ok(None);
    }
    Ok(attachments::Entity::find_by_id(attachment_id)
        .one(db)
        .await?)
}

/// Image uploads of the last `within` that have no thumbnail (their job
/// died with a restart, or the image could not be read), newest first.
pub async fn missing_thumbnails(
    db: &impl ConnectionTrait,
    within: chrono::Duration,
    limit: u64,
) -> Result<Vec<attachments::Model>, DomainError> {
    Ok(attachments::Entity::find()
        .filter(attachments::Column::HasThumbnail.eq(false))
        .filter(attachments::Column::ContentType.is_in(THUMBNAIL_TYPES))
        .filter(attachments::Column::CreatedAt.gt(Utc::now() - within))
        .order_by_desc(attachments::Column::Id)
        .limit(limit)
        .all(db)
        .await?)
}

/// Deletes upload rows that are still unattached (a row some message took
/// in the meantime stays) and returns the object keys that went with the
/// deleted ones. Each row is deleted by its own statement guarded by
/// `message_id IS NULL`, so when several instances sweep at once, or a
/// message is being sent with the upload, exactly one side wins each row
/// and only the winner of a deletion removes the objects.
pub async fn delete_unattached(
    db: &impl ConnectionTrait,
    rows: Vec<attachments::Model>,
) -> Result<Vec<String>, DomainError> {
    let mut keys = Vec::new();
    for a in rows {
        let res = attachments::Entity::delete_many()
            .filter(attachments::Column::Id.eq(a.id))
            .filter(attachments::Column::MessageId.is_null())
            .exec(db)
            .await?;
        if res.rows_affected == 1 {
            keys.extend(object_keys(vec![a]));
        }
    }
    Ok(keys)
}

/// Removes the objects of deleted attachments; a failure is logged (the
/// row is gone, so nothing could reach the object anyway).
pub async fn remove_objects(st: &AppState, keys: &[String]) {
    for key in keys {
        if let Err(e) = st.storage.delete(key).await {
            tracing::warn!(error = %e, key, "attachment object not removed");
        }
    }
}

/// Removes objects in the background (after a commit; the caller's answer
/// does not wait for the store).
pub fn spawn_remove_objects(st: &AppState, keys: Vec<String>) {
    if keys.is_empty() {
        return;
    }
    let st = st.clone();
    tokio::spawn(async move { remove_objects(&st, &keys).await });
}

/// The object keys (files and thumbnails) of these rows.
fn object_keys(rows: Vec<attachments::Model>) -> Vec<String> {
    rows.into_iter()
        .flat_map(|a| [thumbnail_key(&a.storage_key), a.storage_key])
        .collect()
}

/// Deletes the attachments of a message that is being deleted (in the
/// caller's transaction); returns the object keys to remove after commit.
pub async fn delete_for_message(
    db: &impl ConnectionTrait,
    message_id: i64,
) -> Result<Vec<String>, DomainError> {
    let rows = attachments::Entity::find()
        .filter(attachments::Column::MessageId.eq(message_id))
        .all(db)
        .await?;
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    attachments::Entity::delete_many()
        .filter(attachments::Column::MessageId.eq(message_id))
        .exec(db)
        .await?;
    Ok(object_keys(rows))
}

/// The object keys of every attachment in a conversation, read before the
/// conversation is deleted (its rows then go by cascade).
pub async fn keys_in_conversation(
    db: &impl ConnectionTrait,
    conversation_id: i64,
) -> Result<Vec<String>, DomainError> {
    let messages = Query::select()
        .column(conv_messages::Column::Id)
        .from(conv_messages::Entity)
        .and_where(conv_messages::Column::ConversationId.eq(conversation_id))
        .to_owned();
    let rows = attachments::Entity::find()
        .filter(attachments::Column::MessageId.in_subquery(messages))
        .all(db)
        .await?;
    Ok(object_keys(rows))
}

/// Removes uploads created before `cutoff` that no message took: rows and
/// objects, in batches. Returns how many uploads this call removed.
pub async fn remove_unattached(st: &AppState, cutoff: DateTime<Utc>) -> Result<usize, DomainError> {
    const BATCH: u64 = 100;
    let mut removed = 0;
    let mut after_id = 0;
    loop {
        let batch = attachments::Entity::find()
            .filter(attachments::Column::MessageId.is_null())
            .filter(attachments::Column::CreatedAt.lt(cutoff))
            .filter(attachments::Column::Id.gt(after_id))
            .order_by_asc(attachments::Column::Id)
            .limit(BATCH)
            .all(&st.db)
            .await?;
        let Some(last) = batch.last() else {
            return Ok(removed);
        };
        after_id = last.id;
        let full = batch.len() as u64 == BATCH;
        let keys = delete_unattached(&st.db, batch).await?;
        removed += keys.len() / 2;
        remove_objects(st, &keys).await;
        if !full {
            return Ok(removed);
        }
    }
}

/// The DTOs of freshly recorded uploads.
pub fn dtos(rows: Vec<attachments::Model>) -> Vec<AttachmentDto> {
    rows.into_iter()
        .map(super::messages::attachment_dto)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sniffs_from_bytes() {
        let png = [
            0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A, 0, 0, 0, 0x0D, b'I', b'H', b'D', b'R',
        ];
        assert_eq!(sniff(&png), "image/png");
        assert_eq!(sniff(b"%PDF-1.7\n"), "application/pdf");
        assert_eq!(sniff(b"<!DOCTYPE html><html></html>"), "text/html");
        assert_eq!(sniff(b"  <html lang=\"pl\">x</html>"), "text/html");
        let mut elf = b"\x7fELF\x02\x01\x01".to_vec();
        elf.resize(64, 0);
        assert_eq!(sniff(&elf), "application/x-executable");
        assert_eq!(
            sniff(b"MZ\x90\0\x03\0\0\0"),
            "application/vnd.microsoft.portable-executable"
        );
        assert_eq!(
            sniff(b"<svg xmlns=\"http://www.w3.org/2000/svg\"><script/></svg>"),
            "image/svg+xml"
        );
        assert_eq!(sniff("Zażółć gęślą jaźń\n".as_bytes()), "text/plain");
        assert_eq!(sniff(b"\0\x01\x02binary"), "application/octet-stream");
        assert_eq!(sniff(b""), "application/octet-stream");
    }

    #[test]
    fn a_character_cut_by_the_sniffed_prefix_is_still_text() {
        // "a" then "ż"s: the prefix ends with the first byte of a "ż".
        let mut head = format!("a{}", "ż".repeat(SNIFF_BYTES)).into_bytes();
        head.truncate(SNIFF_BYTES);
        assert_eq!(head[SNIFF_BYTES - 1], 0xC5);
        assert_eq!(sniff(&head), "text/plain");
        // A short file ending that way is not text.
        assert_eq!(sniff(&head[..102]), "application/octet-stream");
    }

    #[test]
    fn only_safe_types_are_inline() {
        for t in ["image/png", "image/jpeg", "application/pdf", "text/plain"] {
            assert!(is_inline(t), "{t}");
        }
        for t in [
            "text/html",
            "image/svg+xml",
            "text/xml",
            "application/x-executable",
            "text/x-shellscript",
            "application/octet-stream",
            "application/zip",
        ] {
            assert!(!is_inline(t), "{t}");
        }
    }

    #[test]
    fn file_names_lose_paths_and_control_characters() {
        assert_eq!(sanitize_filename("../../etc/passwd"), "passwd");
        assert_eq!(
            sanitize_filename("C:\\Users\\jan\\raport.pdf"),
            "raport.pdf"
        );
        assert_eq!(sanitize_filename("a\u{7}b\nc\r\t.txt"), "abc.txt");
        assert_eq!(
            sanitize_filename("zdjęcie\u{202E}gpj.exe"),
            "zdjęciegpj.exe"
        );
        assert_eq!(
            sanitize_filename("Zażółć gęślą jaźń — ŁÓDŹ.pdf"),
            "Zażółć gęślą jaźń — ŁÓDŹ.pdf"
        );
        assert_eq!(sanitize_filename("  spacje.txt  "), "spacje.txt");
        assert_eq!(sanitize_filename(".."), FALLBACK_FILENAME);
        assert_eq!(sanitize_filename("dir/"), FALLBACK_FILENAME);
        assert_eq!(sanitize_filename(""), FALLBACK_FILENAME);
        assert_eq!(sanitize_filename(".env"), ".env");
    }

    #[test]
    fn long_names_keep_their_extension() {
        let long = format!("{}.pdf", "ż".repeat(500));
        let s = sanitize_filename(&long);
        assert_eq!(s.chars().count(), MAX_FILENAME_CHARS);
        assert!(s.ends_with("ż.pdf"), "{s}");
    }

    #[test]
    fn content_disposition_carries_the_utf8_name() {
        assert_eq!(
            content_disposition(false, "Zażółć \"x\".pdf"),
            "attachment; filename=\"Zazolc _x_.pdf\"; \
             filename*=UTF-8''Za%C5%BC%C3%B3%C5%82%C4%87%20%22x%22.pdf"
        );
        assert_eq!(
            content_disposition(true, "a.png"),
            "inline; filename=\"a.png\"; filename*=UTF-8''a.png"
        );
    }
}
