//! Security headers on real responses: the strict default policy of API
//! answers, the SPA's page policy that allows Trunk's inline bootstrap
//! script by its hash (no 'unsafe-inline'), the API reference page's own
//! policy, HSTS and Secure cookies only on https.

use base64::Engine;
use sha2::{Digest, Sha256};

use crate::helpers::{Db, TestApp, bare_client, spawn_app, spawn_app_with};

fn header(r: &reqwest::Response, name: &str) -> Option<String> {
    r.headers()
        .get(name)
        .map(|v| v.to_str().expect("ascii header").to_owned())
}

async fn get(app: &TestApp, path: &str) -> reqwest::Response {
    bare_client()
        .get(app.url(path))
        .send()
        .await
        .expect("request")
}

/// The headers every response carries.
fn assert_common(r: &reqwest::Response, what: &str) {
    assert_eq!(
        header(r, "x-content-type-options").as_deref(),
        Some("nosniff"),
        "{what}"
    );
    assert_eq!(
        header(r, "referrer-policy").as_deref(),
        Some("same-origin"),
        "{what}"
    );
    assert_eq!(
        header(r, "x-frame-options").as_deref(),
        Some("DENY"),
        "{what}"
    );
    let csp = header(r, "content-security-policy").unwrap_or_default();
    assert!(csp.contains("frame-ancestors 'none'"), "{what}: {csp}");
}

/// The directive `name` of a policy, as its list of sources.
fn directive(csp: &str, name: &str) -> Vec<String> {
    csp.split(';')
        .map(str::trim)
        .find_map(|d| {
            let mut parts = d.split_whitespace();
            (parts.next() == Some(name)).then(|| parts.map(str::to_owned).collect())
        })
        .unwrap_or_default()
}

fn sha256_source(script: &str) -> String {
    format!(
        "'sha256-{}'",
        base64::engine::general_purpose::STANDARD.encode(Sha256::digest(script.as_bytes()))
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_answers_forbid_everything_and_are_never_framed() {
    let app = spawn_app(Db::Sqlite).await;
    for (path, status) in [
        ("/healthz", 200),
        ("/api/auth/me", 401),
        ("/api/no-such-thing", 404),
        ("/api/openapi.json", 200),
    ] {
        let r = get(&app, path).await;
        assert_eq!(r.status().as_u16(), status, "{path}");
        assert_common(&r, path);
        assert_eq!(
            header(&r, "content-security-policy").as_deref(),
            Some("default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"),
            "{path}"
        );
        // http: no HSTS (it would pin a plain-http deployment to nothing).
        assert_eq!(header(&r, "strict-transport-security"), None, "{path}");
    }
    // A logged-in answer too.
    app.login_admin().await;
    let r = app.me(&app.client).await;
    assert_eq!(r.status(), 200);
    assert_common(&r, "/api/auth/me signed in");
}

const SCRIPT_V1: &str = "\nimport init, * as bindings from '/wiadomosci/frontend-1.js';\n\
                         const wasm = await init({ module_or_path: '/wiadomosci/frontend-1_bg.wasm' });\n\
                         window.wasmBindings = bindings;\n";

fn index_html(script: &str) -> String {
    format!(
        "<!DOCTYPE html><html lang=\"pl\"><head><meta charset=\"utf-8\">\
         <title>Wiadomości</title>\
         <link rel=\"stylesheet\" href=\"/wiadomosci/style-1.css\">\
         <link rel=\"modulepreload\" href=\"/wiadomosci/frontend-1.js\">\
         <script type=\"module\">{script}</script></head><body></body></html>"
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_spa_allows_its_inline_bootstrap_by_hash_and_nothing_inline_else() {
    let app = spawn_app(Db::Sqlite).await;
    let dist = app.test_db_dir().join("dist");
    std::fs::create_dir_all(&dist).unwrap();
    std::fs::write(dist.join("index.html"), index_html(SCRIPT_V1)).unwrap();
    std::fs::write(dist.join("frontend-1.js"), "export default 1;").unwrap();

    for path in ["/wiadomosci/", "/wiadomosci/rozmowy/5"] {
        let r = get(&app, path).await;
        assert_eq!(r.status(), 200, "{path}");
        assert_common(&r, path);
        let csp = header(&r, "content-security-policy").expect("csp");
        let script_src = directive(&csp, "script-src");
        assert_eq!(
            script_src,
            ["'self'", "'wasm-unsafe-eval'", &sha256_source(SCRIPT_V1)],
            "{path}: {csp}"
        );
        assert!(!csp.contains("'unsafe-inline'"), "{path}: {csp}");
        assert!(!csp.contains("'unsafe-eval'"), "{path}: {csp}");
        assert_eq!(directive(&csp, "default-src"), ["'self'"], "{csp}");
        assert_eq!(directive(&csp, "object-src"), ["'none'"], "{csp}");
        assert_eq!(directive(&csp, "connect-src"), ["'self'"], "{csp}");
        assert_eq!(directive(&csp, "style-src"), ["'self'"], "{csp}");
        assert_eq!(directive(&csp, "base-uri"), ["'self'"], "{csp}");
    }

    // Assets carry the common headers (nosniff above all).
    let r = get(&app, "/wiadomosci/frontend-1.js").await;
    assert_eq!(r.status(), 200);
    assert_common(&r, "asset");

    // A rebuilt SPA (new bootstrap script, CRLF line ends) is allowed at
    // once, without a restart; the old script no longer is.
    let v2 = SCRIPT_V1.replace("frontend-1", "frontend-22");
    std::fs::write(
        dist.join("index.html"),
        index_html(&v2.replace('\n', "\r\n")),
    )
    .unwrap();
    let r = get(&app, "/wiadomosci/").await;
    let csp = header(&r, "content-security-policy").expect("csp");
    let script_src = directive(&csp, "script-src");
    // Browsers hash the script after turning CRLF into LF.
    assert!(script_src.contains(&sha256_source(&v2)), "{csp}");
    assert!(!script_src.contains(&sha256_source(SCRIPT_V1)), "{csp}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_api_reference_page_has_its_own_policy_without_inline_script() {
    let app = spawn_app(Db::Sqlite).await;
    let r = get(&app, "/api/docs").await;
    assert_eq!(r.status(), 200);
    assert_common(&r, "/api/docs");
    let csp = header(&r, "content-security-policy").expect("csp");
    assert_eq!(directive(&csp, "script-src"), ["'self'"], "{csp}");
    assert_eq!(directive(&csp, "default-src"), ["'none'"], "{csp}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_brings_hsts_and_secure_cookies() {
    let app = spawn_app_with(Db::Sqlite, &["--public-url", "https://czat.example.pl"]).await;
    for path in ["/healthz", "/api/auth/me", "/api/docs"] {
        let r = get(&app, path).await;
        assert_eq!(
            header(&r, "strict-transport-security").as_deref(),
            Some("max-age=31536000"),
            "{path}"
        );
    }
    let r = app
        .login_with(&bare_client(), &app.admin.email, &app.admin.password)
        .await;
    assert_eq!(r.status(), 200);
    let cookie = header(&r, "set-cookie").expect("session cookie");
    for attr in ["HttpOnly", "SameSite=Lax", "Secure", "Path=/"] {
        assert!(
            cookie.split(';').any(|a| a.trim() == attr),
            "{attr} in {cookie}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plain_http_cookies_are_http_only_and_same_site_but_not_secure() {
    let app = spawn_app(Db::Sqlite).await;
    let r = app
        .login_with(&bare_client(), &app.admin.email, &app.admin.password)
        .await;
    assert_eq!(r.status(), 200);
    let cookie = header(&r, "set-cookie").expect("session cookie");
    let attrs: Vec<&str> = cookie.split(';').map(str::trim).collect();
    assert!(attrs.contains(&"HttpOnly"), "{cookie}");
    assert!(attrs.contains(&"SameSite=Lax"), "{cookie}");
    // Secure on http would make the browser drop the cookie.
    assert!(!attrs.contains(&"Secure"), "{cookie}");
}
