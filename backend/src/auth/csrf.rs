//! CSRF defence for cookie-authenticated requests: a state-changing request
//! (anything but GET/HEAD/OPTIONS) must come from an allowed origin, proven
//! by its `Origin` header (or `Referer` when a browser omits Origin). Bearer
//! requests need no check: browsers never attach bearer tokens by themselves.

use actix_web::HttpRequest;
use actix_web::http::{Method, header};
use shared::ErrorCode;
use url::Url;

use crate::error::ApiError;

pub fn is_safe_method(m: &Method) -> bool {
    matches!(*m, Method::GET | Method::HEAD | Method::OPTIONS)
}

/// The origin the request claims to come from, if any.
fn request_origin(req: &HttpRequest) -> Option<String> {
    let headers = req.headers();
    if let Some(o) = headers.get(header::ORIGIN) {
        return o.to_str().ok().map(|s| s.trim_end_matches('/').to_owned());
    }
    let referer = headers.get(header::REFERER)?.to_str().ok()?;
    Url::parse(referer)
        .ok()
        .map(|u| u.origin().ascii_serialization())
}

/// Refuses a state-changing cookie request whose origin is missing or foreign.
pub fn check(req: &HttpRequest, allowed: &[String]) -> Result<(), ApiError> {
    if is_safe_method(req.method()) {
        return Ok(());
    }
    match request_origin(req) {
        Some(o) if allowed.contains(&o) => Ok(()),
        Some(o) => Err(ApiError::new(
            ErrorCode::CsrfRejected,
            format!("Requests from origin {o} are not allowed."),
        )),
        None => Err(ApiError::new(
            ErrorCode::CsrfRejected,
            "A cookie-authenticated request that changes state needs an Origin header; \
             API clients should use a bearer token.",
        )),
    }
}

/// For login, which has no session yet: a foreign Origin is refused, a
/// missing one (curl, scripts) is allowed.
pub fn check_if_present(req: &HttpRequest, allowed: &[String]) -> Result<(), ApiError> {
    if req.headers().contains_key(header::ORIGIN) {
        check(req, allowed)
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::test::TestRequest;

    fn allowed() -> Vec<String> {
        vec!["https://portal.example.pl".into()]
    }

    #[test]
    fn get_needs_no_origin() {
        let req = TestRequest::get().to_http_request();
        assert!(check(&req, &allowed()).is_ok());
    }

    #[test]
    fn post_needs_an_allowed_origin() {
        let ok = TestRequest::post()
            .insert_header((header::ORIGIN, "https://portal.example.pl"))
            .to_http_request();
        assert!(check(&ok, &allowed()).is_ok());
        let evil = TestRequest::post()
            .insert_header((header::ORIGIN, "https://evil.example"))
            .to_http_request();
        assert!(check(&evil, &allowed()).is_err());
        let none = TestRequest::post().to_http_request();
        assert!(check(&none, &allowed()).is_err());
        let null = TestRequest::post()
            .insert_header((header::ORIGIN, "null"))
            .to_http_request();
        assert!(check(&null, &allowed()).is_err());
    }

    #[test]
    fn referer_is_the_fallback() {
        let ok = TestRequest::delete()
            .insert_header((header::REFERER, "https://portal.example.pl/wiadomosci/5"))
            .to_http_request();
        assert!(check(&ok, &allowed()).is_ok());
        let evil = TestRequest::delete()
            .insert_header((header::REFERER, "https://portal.example.pl.evil.example/"))
            .to_http_request();
        assert!(check(&evil, &allowed()).is_err());
    }
}
