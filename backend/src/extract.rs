//! `Json<T>`: the request-body extractor of every handler. Unlike
//! `web::Json` it names the offending field of a body of the wrong shape
//! (`member_ids[2]`), through serde_path_to_error, and answers with our
//! problem+json: 400 not JSON, 413 too large, 415 wrong media type, 422
//! wrong shape.

use std::future::Future;
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{FromRequest, HttpRequest, web};
use futures_util::StreamExt;
use serde::de::DeserializeOwned;
use shared::ErrorCode;

use crate::error::{self, ApiError};
use crate::state::AppState;

const DEFAULT_LIMIT: usize = 64 * 1024;

#[derive(Debug)]
pub struct Json<T>(pub T);

impl<T> Json<T> {
    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T> std::ops::Deref for Json<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.0
    }
}

fn is_json(req: &HttpRequest) -> bool {
    req.headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(|m| {
            let m = m.trim().to_ascii_lowercase();
            m == "application/json" || (m.starts_with("application/") && m.ends_with("+json"))
        })
        .unwrap_or(false)
}

/// Parses a JSON body, naming the field that does not fit. Every body is a
/// JSON object: serde would also fill a struct from an array (`[null, null]`),
/// which no client means.
pub fn parse<T: DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    let first = body.iter().find(|b| !b.is_ascii_whitespace());
    if first.is_some_and(|b| *b != b'{') {
        return Err(
            match serde_json::from_slice::<serde::de::IgnoredAny>(body) {
                Err(e) => error::from_serde(&e),
                Ok(_) => ApiError::invalid("body", "must be a JSON object"),
            },
        );
    }
    let de = &mut serde_json::Deserializer::from_slice(body);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        let mut api = error::from_serde(&inner);
        if api.code == ErrorCode::ValidationFailed
            && path != "."
            && !inner.to_string().contains("missing field")
            && let Some(f) = api.errors.first_mut()
        {
            f.field = path;
        }
        api
    })
}

/// The body of a request, read up to the configured limit, then parsed.
/// With `allow_empty`, an empty body (with or without a content type) is
/// `T::default()`.
fn extract<T: DeserializeOwned + Default + 'static>(
    req: &HttpRequest,
    payload: &mut Payload,
    allow_empty: bool,
) -> Pin<Box<dyn Future<Output = Result<T, ApiError>>>> {
    let limit = req
        .app_data::<web::Data<AppState>>()
        .map(|s| s.settings.max_json_bytes)
        .unwrap_or(DEFAULT_LIMIT);
    let json = is_json(req);
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    let mut payload = payload.take();
    Box::pin(async move {
        let too_large = || {
            ApiError::new(
                ErrorCode::PayloadTooLarge,
                format!("The body is larger than {limit} bytes."),
            )
        };
        if declared.is_some_and(|n| n > limit) {
            return Err(too_large());
        }
        let mut body = web::BytesMut::new();
        while let Some(chunk) = payload.next().await {
            let chunk = chunk.map_err(error::payload_error)?;
            if body.len() + chunk.len() > limit {
                return Err(too_large());
            }
            body.extend_from_slice(&chunk);
        }
        if allow_empty && body.iter().all(u8::is_ascii_whitespace) {
            return Ok(T::default());
        }
        if !json {
            return Err(ApiError::new(
                ErrorCode::UnsupportedMediaType,
                "Send the body as Content-Type: application/json.",
            ));
        }
        parse(&body)
    })
}

/// Wraps a value so `extract` can serve types without `Default`.
struct Required<T>(Option<T>);

impl<T> Default for Required<T> {
    fn default() -> Self {
        Required(None)
    }
}

impl<'de, T: serde::Deserialize<'de>> serde::Deserialize<'de> for Required<T> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        T::deserialize(d).map(|v| Required(Some(v)))
    }
}

impl<T: DeserializeOwned + 'static> FromRequest for Json<T> {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let fut = extract::<Required<T>>(req, payload, false);
        Box::pin(async move {
            match fut.await?.0 {
                Some(v) => Ok(Json(v)),
                None => Err(ApiError::new(
                    ErrorCode::MalformedBody,
                    "A JSON body is required.",
                )),
            }
        })
    }
}

/// A JSON body that may be left out entirely (`T::default()` then).
#[derive(Debug)]
pub struct OptionalJson<T>(pub T);

impl<T: DeserializeOwned + Default + 'static> FromRequest for OptionalJson<T> {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let fut = extract::<T>(req, payload, true);
        Box::pin(async move { fut.await.map(OptionalJson) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    #[allow(dead_code)]
    struct Body {
        name: String,
        ids: Vec<i64>,
    }

    #[test]
    fn names_the_field_of_a_wrong_type() {
        let e = parse::<Body>(br#"{"name":"a","ids":[1,"x"]}"#).unwrap_err();
        assert_eq!(e.code, ErrorCode::ValidationFailed);
        assert_eq!(e.errors[0].field, "ids[1]");
        let e = parse::<Body>(br#"{"name":5,"ids":[]}"#).unwrap_err();
        assert_eq!(e.errors[0].field, "name");
        let e = parse::<Body>(br#"{"name":"a"}"#).unwrap_err();
        assert_eq!(e.errors[0].field, "ids");
        let e = parse::<Body>(br#"{"name":"#).unwrap_err();
        assert_eq!(e.code, ErrorCode::MalformedBody);
    }
}
