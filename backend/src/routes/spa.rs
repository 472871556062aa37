//! The single-page app: built files under `/wiadomosci/`, and `index.html`
//! for every other path there (client-side routes such as deep links).
//! `/` redirects to `/wiadomosci/`.

use std::path::{Component, Path, PathBuf};

use actix_files::NamedFile;
use actix_web::http::header::{self, CacheControl, CacheDirective};
use actix_web::{HttpRequest, HttpResponse, Responder, web};

use crate::state::AppState;

pub const BASE: &str = "/wiadomosci";

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/", web::get().to(redirect_home))
        .route(BASE, web::get().to(serve))
        .route(&format!("{BASE}/{{tail:.*}}"), web::get().to(serve));
}

async fn redirect_home() -> HttpResponse {
    HttpResponse::Found()
        .insert_header((header::LOCATION, format!("{BASE}/")))
        .finish()
}

/// Only plain names below the base; `..`, absolute paths and dot-files are
/// never served.
fn safe_relative(tail: &str) -> Option<PathBuf> {
    let p = Path::new(tail);
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            Component::Normal(n) if !n.to_string_lossy().starts_with('.') => out.push(n),
            _ => return None,
        }
    }
    Some(out)
}

async fn serve(req: HttpRequest, st: web::Data<AppState>) -> HttpResponse {
    let dir = &st.settings.static_dir;
    let tail = req.match_info().get("tail").unwrap_or("");
    // index.html is served below, never cached: it names the current assets.
    if let Some(rel) =
        safe_relative(tail).filter(|r| !r.as_os_str().is_empty() && *r != Path::new("index.html"))
    {
        let path = dir.join(&rel);
        if path.is_file()
            && let Ok(file) = NamedFile::open_async(&path).await
        {
            // Trunk puts a content hash in asset names: cache for long.
            return file
                .customize()
                .insert_header(CacheControl(vec![
                    CacheDirective::Public,
                    CacheDirective::MaxAge(31_536_000),
                ]))
                .respond_to(&req)
                .map_into_boxed_body();
        }
    }
    let index = dir.join("index.html");
    match NamedFile::open_async(&index).await {
        Ok(file) => file
            .customize()
            .insert_header(CacheControl(vec![CacheDirective::NoCache]))
            // Allows Trunk's inline bootstrap script by its hash, nothing else.
            .insert_header((
                header::CONTENT_SECURITY_POLICY,
                crate::security_headers::spa_csp_for(&index),
            ))
            .respond_to(&req)
            .map_into_boxed_body(),
        Err(_) => HttpResponse::ServiceUnavailable()
            .content_type("text/plain; charset=utf-8")
            .body(format!(
                "The web app is not built: no index.html in {}. Run `make run` (or `trunk build --release`).\n",
                dir.display()
            )),
    }
}

#[cfg(test)]
mod tests {
    use super::safe_relative;

    #[test]
    fn refuses_traversal_and_dotfiles() {
        assert!(safe_relative("../etc/passwd").is_none());
        assert!(safe_relative("a/../../b").is_none());
        assert!(safe_relative("/etc/passwd").is_none());
        assert!(safe_relative(".env").is_none());
        assert_eq!(
            safe_relative("frontend-abc.js").unwrap().to_str(),
            Some("frontend-abc.js")
        );
    }
}
