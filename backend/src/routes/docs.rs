//! `GET /api/openapi.json` (the document of `crate::openapi`) and the API
//! reference page `GET /api/docs` with its files under `/api/docs/{file}`.
//!
//! The page is Swagger UI, compiled into the binary (utoipa-swagger-ui's
//! `vendored` feature): it must never load anything from another host, so
//! it works offline and behind strict firewalls and leaks no visits. For the
//! same reason the online spec validator (a badge fetched from swagger.io)
//! is switched off, and the page goes out with a same-origin-only
//! Content-Security-Policy.

use std::sync::{Arc, OnceLock};

use actix_web::http::header::{self, CacheControl, CacheDirective, ContentType};
use actix_web::{HttpResponse, get, web};
use utoipa_swagger_ui::Config;

use crate::error::ApiError;

/// Where the document is served; the page fetches it from here.
pub const SPEC_PATH: &str = "/api/openapi.json";

/// Same origin only; Swagger UI needs inline styles and `data:` images.
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; \
                   img-src 'self' data:; connect-src 'self'; font-src 'self'; \
                   base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(openapi_json).service(page).service(asset);
}

#[get("/openapi.json")]
async fn openapi_json() -> HttpResponse {
    HttpResponse::Ok()
        .content_type(ContentType::json())
        .insert_header(CacheControl(vec![CacheDirective::NoCache]))
        .body(crate::openapi::spec_json())
}

/// The page itself, at a path without a trailing slash, so its files are
/// named by absolute paths rather than relative ones.
const PAGE: &str = r#"<!DOCTYPE html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>Messaging API reference</title>
  <link rel="stylesheet" href="/api/docs/swagger-ui.css">
  <link rel="stylesheet" href="/api/docs/index.css">
  <link rel="icon" type="image/png" href="/api/docs/favicon-32x32.png" sizes="32x32">
  <link rel="icon" type="image/png" href="/api/docs/favicon-16x16.png" sizes="16x16">
</head>
<body>
  <noscript>This page needs JavaScript. The API description itself is at
    <a href="/api/openapi.json">/api/openapi.json</a>.</noscript>
  <div id="swagger-ui"></div>
  <script src="/api/docs/swagger-ui-bundle.js" charset="utf-8"></script>
  <script src="/api/docs/swagger-ui-standalone-preset.js" charset="utf-8"></script>
  <script src="/api/docs/swagger-initializer.js" charset="utf-8"></script>
</body>
</html>
"#;

#[get("/docs")]
async fn page() -> HttpResponse {
    HttpResponse::Ok()
        .content_type(ContentType::html())
        .insert_header(CacheControl(vec![CacheDirective::NoCache]))
        .insert_header((header::CONTENT_SECURITY_POLICY, CSP))
        .body(PAGE)
}

/// Swagger UI's settings, written into `swagger-initializer.js`.
fn config() -> Arc<Config<'static>> {
    static CONFIG: OnceLock<Arc<Config<'static>>> = OnceLock::new();
    CONFIG
        .get_or_init(|| {
            Arc::new(
                Config::new([SPEC_PATH])
                    .use_base_layout()
                    .validator_url("none")
                    .display_request_duration(true)
                    .filter(true)
                    .doc_expansion("list")
                    .persist_authorization(false),
            )
        })
        .clone()
}

#[get("/docs/{file}")]
async fn asset(file: web::Path<String>) -> Result<HttpResponse, ApiError> {
    let file = file.into_inner();
    match utoipa_swagger_ui::serve(&file, config()) {
        Ok(Some(f)) => {
            // Names carry no content hash: cache briefly; the initializer
            // (our settings) not at all.
            let cache = if file == "swagger-initializer.js" {
                CacheDirective::NoCache
            } else {
                CacheDirective::MaxAge(3600)
            };
            Ok(HttpResponse::Ok()
                .content_type(f.content_type)
                .insert_header(CacheControl(vec![CacheDirective::Public, cache]))
                .body(f.bytes.into_owned()))
        }
        Ok(None) => Err(ApiError::not_found()),
        Err(e) => Err(ApiError::internal(e)),
    }
}
