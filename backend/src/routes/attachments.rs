//! Attachments over HTTP: the multipart upload (each file streamed into
//! storage while its bytes are counted, refused with 413 past
//! MAX_UPLOAD_BYTES with nothing left behind) and the downloads of a file
//! and its thumbnail, with headers that keep a browser from running what
//! it downloads. Who may read what is decided in `domain::attachments`.

use actix_multipart::{Multipart, MultipartError};
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpRequest, HttpResponse, get, post, web};
use futures_util::StreamExt;
use shared::ErrorCode;

use crate::auth::AuthUser;
use crate::db::entities::message_attachments;
use crate::domain::attachments::{self as domain, NewAttachment, SNIFF_BYTES};
use crate::domain::messages::MAX_ATTACHMENTS;
use crate::error::ApiError;
use crate::jobs;
use crate::state::AppState;
use crate::storage::{Storage, StorageError};

/// Downloads can run no script, load nothing and be framed by no one.
const DOWNLOAD_CSP: &str = "default-src 'none'; sandbox";
/// Room for the multipart framing around the files of one request.
const MULTIPART_OVERHEAD: u64 = 64 * 1024;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(upload).service(thumbnail).service(download);
}

fn too_large(limit: u64) -> ApiError {
    ApiError::new(
        ErrorCode::PayloadTooLarge,
        format!("A file is larger than {limit} bytes."),
    )
}

fn multipart_error(e: MultipartError) -> ApiError {
    match e {
        MultipartError::ContentTypeMissing
        | MultipartError::ContentTypeParse
        | MultipartError::ContentTypeIncompatible
        | MultipartError::BoundaryMissing => ApiError::new(
            ErrorCode::UnsupportedMediaType,
            "Send the files as Content-Type: multipart/form-data.",
        ),
        MultipartError::Payload(p) => crate::error::payload_error(p),
        other => ApiError::new(
            ErrorCode::MalformedBody,
            format!("The multipart body is malformed: {other}"),
        ),
    }
}

fn storage_error(e: StorageError) -> ApiError {
    ApiError::internal(format!("attachment storage: {e}"))
}

/// What one request stored so far; removed again (rows and objects) unless
/// the request succeeds — also when the client goes away mid-upload and
/// the handler is dropped.
struct Uploaded {
    st: AppState,
    rows: Vec<message_attachments::Model>,
    done: bool,
}

impl Uploaded {
    async fn discard(&mut self) {
        let rows = std::mem::take(&mut self.rows);
        discard(&self.st, rows).await;
    }
}

async fn discard(st: &AppState, rows: Vec<message_attachments::Model>) {
    if rows.is_empty() {
        return;
    }
    match domain::delete_unattached(&st.db, rows).await {
        Ok(keys) => domain::remove_objects(st, &keys).await,
        // The rows stay unattached, so the periodic sweep removes them.
        Err(e) => tracing::warn!(error = %e, "failed upload not cleaned up yet"),
    }
}

impl Drop for Uploaded {
    fn drop(&mut self) {
        if self.done || self.rows.is_empty() {
            return;
        }
        let st = self.st.clone();
        let rows = std::mem::take(&mut self.rows);
        if let Ok(rt) = tokio::runtime::Handle::try_current() {
            rt.spawn(async move { discard(&st, rows).await });
        }
    }
}

/// The file name a part was sent with (RFC 5987 `filename*` preferred).
fn part_filename(field: &actix_multipart::Field) -> Option<String> {
    let cd = field.content_disposition()?;
    if let Some(ext) = cd.get_filename_ext() {
        let charset = ext.charset.to_string().to_ascii_lowercase();
        if charset == "utf-8"
            && let Ok(name) = String::from_utf8(ext.value.clone())
        {
            return Some(name);
        }
    }
    cd.get_filename().map(str::to_owned)
}

/// Streams one part into storage under a new key. The part's bytes are
/// counted as they come; past `limit` the upload is aborted (nothing is
/// stored) and the answer is 413.
async fn store_part(
    st: &AppState,
    field: &mut actix_multipart::Field,
    part_name: &str,
    filename: String,
    limit: u64,
) -> Result<NewAttachment, ApiError> {
    let key = Storage::new_key();
    let mut writer = st.storage.writer(&key).map_err(storage_error)?;
    let mut head: Vec<u8> = Vec::with_capacity(SNIFF_BYTES);
    let mut size: u64 = 0;
    let result: Result<(), ApiError> = async {
        while let Some(chunk) = field.next().await {
            let chunk = chunk.map_err(multipart_error)?;
            size += chunk.len() as u64;
            if size > limit {
                return Err(too_large(limit));
            }
            if head.len() < SNIFF_BYTES {
                let take = (SNIFF_BYTES - head.len()).min(chunk.len());
                head.extend_from_slice(&chunk[..take]);
            }
            writer.write(chunk).await.map_err(storage_error)?;
        }
        if size == 0 {
            return Err(ApiError::invalid(part_name, format!("{filename} is empty")));
        }
        Ok(())
    }
    .await;
    if let Err(e) = result {
        if let Err(abort) = writer.abort().await {
            tracing::warn!(error = %abort, key, "aborting an upload failed");
        }
        return Err(e);
    }
    writer.finish().await.map_err(storage_error)?;
    Ok(NewAttachment {
        storage_key: key,
        filename,
        content_type: domain::sniff(&head),
        size_bytes: i64::try_from(size).unwrap_or(i64::MAX),
    })
}

#[post("/attachments")]
async fn upload(
    user: AuthUser,
    req: HttpRequest,
    mut payload: Multipart,
    st: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let limit = st.settings.max_upload_bytes;
    // A body that cannot fit is refused before a byte is read.
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    let most = limit
        .saturating_mul(MAX_ATTACHMENTS as u64)
        .saturating_add(MULTIPART_OVERHEAD);
    if declared.is_some_and(|n| n > most) {
        return Err(too_large(limit));
    }
    let mut uploaded = Uploaded {
        st: st.get_ref().clone(),
        rows: Vec::new(),
        done: false,
    };
    let result: Result<(), ApiError> = async {
        while let Some(field) = payload.next().await {
            let mut field = field.map_err(multipart_error)?;
            let name = field.name().unwrap_or("file").to_owned();
            let Some(raw) = part_filename(&field) else {
                return Err(ApiError::invalid(
                    name,
                    "must be a file (a part with a filename)",
                ));
            };
            if uploaded.rows.len() >= MAX_ATTACHMENTS {
                return Err(ApiError::invalid(
                    name,
                    format!("at most {MAX_ATTACHMENTS} files per upload"),
                ));
            }
            let filename = domain::sanitize_filename(&raw);
            let new = store_part(&st, &mut field, &name, filename, limit).await?;
            let key = new.storage_key.clone();
            match domain::record(&st.db, user.id(), new).await {
                Ok(row) => uploaded.rows.push(row),
                Err(e) => {
                    domain::remove_objects(&st, &[key]).await;
                    return Err(e.into());
                }
            }
        }
        if uploaded.rows.is_empty() {
            return Err(ApiError::invalid("file", "send at least one file"));
        }
        Ok(())
    }
    .await;
    if let Err(e) = result {
        uploaded.discard().await;
        return Err(e);
    }
    uploaded.done = true;
    let rows = std::mem::take(&mut uploaded.rows);
    for row in &rows {
        if domain::wants_thumbnail(&row.content_type) {
            jobs::attachments::spawn_thumbnail(
                st.get_ref().clone(),
                row.id,
                row.storage_key.clone(),
            );
        }
    }
    Ok(HttpResponse::Created().json(domain::dtos(rows)))
}

/// Whether the client already holds this version (`If-None-Match`).
fn not_modified(req: &HttpRequest, etag: &str) -> bool {
    req.headers()
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag || t.trim() == "*"))
}

/// Streams an object with the headers every download carries.
async fn serve(
    st: &AppState,
    req: &HttpRequest,
    key: &str,
    etag: String,
    content_type: &str,
    disposition: String,
) -> Result<HttpResponse, ApiError> {
    let unchanged = not_modified(req, &etag);
    let mut res = if unchanged {
        HttpResponse::NotModified()
    } else {
        HttpResponse::Ok()
    };
    res.insert_header((header::ETAG, etag))
        // Content never changes under an id; access can, so only the
        // member's own browser keeps it, and not for long.
        .insert_header((header::CACHE_CONTROL, "private, max-age=3600"))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .insert_header((header::CONTENT_SECURITY_POLICY, DOWNLOAD_CSP))
        .insert_header(("Cross-Origin-Resource-Policy", "same-origin"));
    if unchanged {
        return Ok(res.finish());
    }
    let object = match st.storage.get(key).await {
        Ok(o) => o,
        Err(StorageError::NotFound) => {
            tracing::warn!(key, "attachment object missing");
            return Err(ApiError::not_found());
        }
        Err(e) => return Err(storage_error(e)),
    };
    let disposition = HeaderValue::from_str(&disposition)
        .map_err(|e| ApiError::internal(format!("content-disposition: {e}")))?;
    let content_type = if content_type == "text/plain" {
        "text/plain; charset=utf-8"
    } else {
        content_type
    };
    Ok(res
        .insert_header((header::CONTENT_TYPE, content_type))
        .insert_header((header::CONTENT_DISPOSITION, disposition))
        .no_chunking(object.size)
        .streaming(object.stream))
}

#[get("/attachments/{id}")]
async fn download(
    user: AuthUser,
    id: web::Path<i64>,
    req: HttpRequest,
    st: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let a = domain::readable(&st.db, user.id(), *id).await?;
    let inline = domain::is_inline(&a.content_type);
    let etag = format!("\"{}\"", a.storage_key.replace('/', "-"));
    let disposition = domain::content_disposition(inline, &a.filename);
    serve(
        &st,
        &req,
        &a.storage_key,
        etag,
        &a.content_type,
        disposition,
    )
    .await
}

#[get("/attachments/{id}/thumbnail")]
async fn thumbnail(
    user: AuthUser,
    id: web::Path<i64>,
    req: HttpRequest,
    st: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let a = domain::readable(&st.db, user.id(), *id).await?;
    if !a.has_thumbnail {
        return Err(ApiError::not_found());
    }
    let key = domain::thumbnail_key(&a.storage_key);
    let etag = format!("\"{}\"", key.replace('/', "-"));
    let stem = a
        .filename
        .rsplit_once('.')
        .map_or(a.filename.as_str(), |(s, _)| s);
    let disposition = domain::content_disposition(true, &format!("{stem}-miniatura.jpg"));
    serve(&st, &req, &key, etag, "image/jpeg", disposition).await
}
