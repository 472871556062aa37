//! The OpenAPI document and the API reference page: the document is
//! OpenAPI 3.1 with both security schemes and problem+json errors; it
//! describes exactly the routes that `src/routes/*.rs` registers (read from
//! the source at test time, so a new route without documentation fails
//! here); and the page loads only files the app serves itself.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use serde_json::Value;

use crate::helpers::{Db, TestApp, assert_problem, bare_client, spawn_app};

const METHODS: [&str; 8] = [
    "get", "post", "put", "patch", "delete", "head", "options", "trace",
];

/// Operations anyone may call; every other one needs a session or a token.
const PUBLIC: [(&str, &str); 8] = [
    ("POST", "/api/auth/login"),
    ("GET", "/healthz"),
    ("GET", "/readyz"),
    ("GET", "/api/openapi.json"),
    ("GET", "/api/docs"),
    ("GET", "/api/docs/{file}"),
    ("GET", "/api/notifications/unsubscribe"),
    ("POST", "/api/notifications/unsubscribe"),
];

async fn spec(app: &TestApp) -> Value {
    let r = bare_client()
        .get(app.url("/api/openapi.json"))
        .send()
        .await
        .expect("request");
    assert_eq!(r.status(), 200);
    let ct = r.headers()["content-type"].to_str().unwrap().to_owned();
    assert!(ct.starts_with("application/json"), "{ct}");
    let text = r.text().await.expect("body");
    serde_json::from_str(&text).expect("the document is valid JSON")
}

/// Every (METHOD, path) the document describes.
fn documented(spec: &Value) -> BTreeMap<(String, String), Value> {
    let mut ops = BTreeMap::new();
    for (path, item) in spec["paths"].as_object().expect("paths") {
        for m in METHODS {
            if let Some(op) = item.get(m) {
                ops.insert((m.to_uppercase(), path.clone()), op.clone());
            }
        }
    }
    ops
}

/// Follows a local `$ref` (`#/components/...`).
fn resolve<'a>(spec: &'a Value, v: &'a Value) -> &'a Value {
    match v.get("$ref").and_then(Value::as_str) {
        Some(r) => {
            let ptr = r
                .strip_prefix('#')
                .unwrap_or_else(|| panic!("non-local $ref {r}"));
            let target = spec
                .pointer(ptr)
                .unwrap_or_else(|| panic!("dangling $ref {r}"));
            resolve(spec, target)
        }
        None => v,
    }
}

// ---------------------------------------------------------------------------
// Reading the routes from the source
// ---------------------------------------------------------------------------

/// One route as the source registers it.
#[derive(Debug, Clone)]
struct Route {
    method: String,
    /// Full path, `{name}` style (regex parts stripped).
    path: String,
    file: String,
    /// The handler's parameter list (empty for `.route(...)` forms).
    params: String,
}

/// `{tail:.*}` -> `{tail}`.
fn normalize(path: &str) -> String {
    let mut out = String::new();
    let mut in_param = false;
    let mut skipping = false;
    for c in path.chars() {
        match c {
            '{' => {
                in_param = true;
                out.push(c);
            }
            '}' if in_param => {
                in_param = false;
                skipping = false;
                out.push(c);
            }
            ':' if in_param => skipping = true,
            _ if skipping => {}
            _ => out.push(c),
        }
    }
    out
}

/// The first string literal in `s`.
fn first_literal(s: &str) -> Option<String> {
    let start = s.find('"')? + 1;
    let len = s[start..].find('"')?;
    Some(s[start..start + len].to_owned())
}

/// Modules whose routes `routes::api` mounts under `/api` (from the
/// `.configure(x::routes)` calls in `routes/mod.rs`'s `api` function).
fn api_modules(routes_dir: &Path) -> BTreeSet<String> {
    let src = std::fs::read_to_string(routes_dir.join("mod.rs")).expect("routes/mod.rs");
    let body = src
        .split_once("pub fn api(")
        .expect("routes/mod.rs has `pub fn api(`")
        .1;
    let body = &body[..body.find("\n}").expect("end of fn api")];
    body.split(".configure(")
        .skip(1)
        .map(|s| {
            s.split("::routes")
                .next()
                .expect("configure(x::routes)")
                .trim()
                .to_owned()
        })
        .collect()
}

/// Every route registered in `src/routes/*.rs`, except the SPA's.
fn source_routes() -> Vec<Route> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/routes");
    let mounted = api_modules(&dir);
    let mut routes = Vec::new();
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .expect("src/routes")
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "rs"))
        .collect();
    files.sort();
    for file in files {
        let module = file.file_stem().unwrap().to_string_lossy().into_owned();
        // The single-page app's routes are not part of the API, nor is the
        // operators' Prometheus endpoint (`/metrics`, behind METRICS_TOKEN).
        if module == "spa" || module == "metrics" {
            continue;
        }
        // `/api` for what `routes::api` mounts; absolute paths otherwise
        // (`health.rs`: /healthz, /readyz).
        let prefix = if mounted.contains(&module) {
            "/api"
        } else {
            ""
        };
        let src = std::fs::read_to_string(&file).expect("route file");
        let name = format!("routes/{module}.rs");
        for (i, line) in src.lines().enumerate() {
            let t = line.trim_start();
            if t.starts_with("//") {
                continue;
            }
            let at = format!("{name}:{}", i + 1);
            // `#[get("/x")]`, `#[post(...)]`, … and `#[route("/x", method = "GET", …)]`.
            if let Some(rest) = t.strip_prefix("#[") {
                let Some((attr, args)) = rest.split_once('(') else {
                    continue;
                };
                let attr = attr.trim();
                let methods: Vec<String> = if METHODS.contains(&attr) {
                    vec![attr.to_uppercase()]
                } else if attr == "route" {
                    args.split("method")
                        .skip(1)
                        .filter_map(first_literal)
                        .map(|m| m.to_uppercase())
                        .collect()
                } else {
                    continue;
                };
                let path = first_literal(args)
                    .unwrap_or_else(|| panic!("{at}: route attribute without a literal path"));
                let offset: usize = src.lines().take(i).map(|l| l.len() + 1).sum();
                let params = handler_params(&src[offset..])
                    .unwrap_or_else(|| panic!("{at}: no handler after the attribute"));
                for method in methods {
                    routes.push(Route {
                        method,
                        path: normalize(&format!("{prefix}{path}")),
                        file: at.clone(),
                        params: params.clone(),
                    });
                }
            }
            // `.route("/x", web::get().to(h))`
            for (j, part) in t.split(".route(").enumerate().skip(1) {
                let path = first_literal(part.split(',').next().unwrap_or_default())
                    .unwrap_or_else(|| {
                        panic!("{at}: `.route(` #{j} without a literal path; teach this test")
                    });
                let method = part
                    .split("web::")
                    .nth(1)
                    .and_then(|m| m.split("()").next())
                    .filter(|m| METHODS.contains(m))
                    .unwrap_or_else(|| panic!("{at}: `.route(` without web::<method>()"));
                routes.push(Route {
                    method: method.to_uppercase(),
                    path: normalize(&format!("{prefix}{path}")),
                    file: at.clone(),
                    params: String::new(),
                });
            }
            for form in ["web::resource(", "web::scope(", "Resource::new("] {
                assert!(
                    !t.contains(form),
                    "{at}: routes registered with `{form}` are not read by this test yet; teach it"
                );
            }
        }
    }
    routes
}

/// The parameter list of the first `fn` in `s` (between its parentheses).
fn handler_params(s: &str) -> Option<String> {
    let start = s.find("fn ")?;
    let open = start + s[start..].find('(')?;
    let mut depth = 0;
    for (i, c) in s[open..].char_indices() {
        match c {
            '(' => depth += 1,
            ')' => {
                depth -= 1;
                if depth == 0 {
                    return Some(s[open + 1..open + i].to_owned());
                }
            }
            _ => {}
        }
    }
    None
}

/// The field names of `struct <name> { ... }` in `src`, and whether it
/// refuses unknown fields.
fn query_struct(src: &str, name: &str) -> Option<(BTreeSet<String>, bool)> {
    let start = src.find(&format!("struct {name} {{"))?;
    // The attributes right above the struct.
    let line_start = src[..start].rfind('\n').map_or(0, |i| i + 1);
    let attrs: String = src[..line_start]
        .lines()
        .rev()
        .take_while(|l| l.trim_start().starts_with("#[") || l.trim_start().starts_with("///"))
        .collect();
    let body = &src[start..];
    let body = &body[body.find('{')? + 1..body.find('}')?];
    let fields = body
        .lines()
        .map(str::trim)
        .filter(|l| !l.starts_with("//") && !l.starts_with("#[") && l.contains(':'))
        .map(|l| {
            l.trim_start_matches("pub ")
                .split(':')
                .next()
                .unwrap_or_default()
                .trim()
                .to_owned()
        })
        .collect();
    Some((fields, attrs.contains("deny_unknown_fields")))
}

/// The `T` of the first `<wrapper><T>` in `s`.
fn generic_arg(s: &str, wrapper: &str) -> Option<String> {
    let start = s.find(&format!("{wrapper}<"))? + wrapper.len() + 1;
    let len = s[start..].find('>')?;
    Some(s[start..start + len].trim().to_owned())
}

// ---------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openapi_json_is_3_1_with_security_schemes_and_problem_schema() {
    let app = spawn_app(Db::Sqlite).await;
    let spec = spec(&app).await;
    let version = spec["openapi"].as_str().expect("openapi version");
    assert!(version.starts_with("3.1"), "{version}");
    assert!(spec["info"]["title"].is_string());

    let schemes = &spec["components"]["securitySchemes"];
    assert_eq!(schemes["session_cookie"]["type"], "apiKey");
    assert_eq!(schemes["session_cookie"]["in"], "cookie");
    assert_eq!(schemes["session_cookie"]["name"], "msg_session");
    assert_eq!(schemes["bearer_token"]["type"], "http");
    assert_eq!(schemes["bearer_token"]["scheme"], "bearer");

    let schemas = &spec["components"]["schemas"];
    let problem = &schemas["Problem"]["properties"];
    for field in [
        "type",
        "title",
        "status",
        "detail",
        "code",
        "errors",
        "request_id",
    ] {
        assert!(problem.get(field).is_some(), "Problem.{field} in {problem}");
    }
    assert!(
        schemas["ErrorCode"]["enum"]
            .as_array()
            .is_some_and(|c| c.contains(&Value::from("not_a_member")))
    );
    // The SSE payload: one variant per event type, told apart by `type`.
    let events = schemas["Event"]["oneOf"].as_array().expect("Event.oneOf");
    let kinds: Vec<&Value> = events
        .iter()
        .flat_map(|v| {
            let v = resolve(&spec, v);
            // A variant is an object, or an allOf of the payload and the tag.
            std::iter::once(v).chain(v["allOf"].as_array().into_iter().flatten())
        })
        .filter_map(|v| v["properties"]["type"]["enum"].get(0))
        .collect();
    assert!(kinds.contains(&&Value::from("new_message")), "{events:#?}");
    assert_eq!(kinds.len(), events.len(), "every variant has its `type`");

    // Every `$ref` anywhere in the document resolves.
    fn walk(spec: &Value, v: &Value) {
        match v {
            Value::Object(map) => {
                if map.contains_key("$ref") {
                    resolve(spec, v);
                }
                map.values().for_each(|c| walk(spec, c));
            }
            Value::Array(items) => items.iter().for_each(|c| walk(spec, c)),
            _ => {}
        }
    }
    walk(&spec, &spec);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_operation_has_an_id_a_tag_problem_errors_and_security() {
    let app = spawn_app(Db::Sqlite).await;
    let spec = spec(&app).await;
    let mut ids = BTreeSet::new();
    for ((method, path), op) in documented(&spec) {
        let at = format!("{method} {path}");
        let id = op["operationId"].as_str().unwrap_or_default().to_owned();
        assert!(!id.is_empty(), "{at}: operationId");
        assert!(ids.insert(id.clone()), "{at}: duplicate operationId {id}");
        assert!(
            op["tags"].as_array().is_some_and(|t| !t.is_empty()),
            "{at}: tag"
        );
        assert!(
            op["summary"].as_str().is_some_and(|s| !s.is_empty()),
            "{at}: summary"
        );
        let responses = op["responses"].as_object().expect("responses");
        assert!(
            responses.keys().any(|s| s.starts_with('2')),
            "{at}: a success response"
        );
        for (status, resp) in responses {
            if status.starts_with('4') || status.starts_with('5') {
                let resp = resolve(&spec, resp);
                let schema = &resp["content"]["application/problem+json"]["schema"];
                assert_eq!(
                    schema["$ref"], "#/components/schemas/Problem",
                    "{at} {status}: problem+json with the Problem schema, got {resp}"
                );
            }
        }
        let public = PUBLIC.iter().any(|(m, p)| *m == method && *p == path);
        let security = op["security"].as_array().cloned().unwrap_or_default();
        if public {
            assert!(
                security.is_empty(),
                "{at}: public, but asks for {security:?}"
            );
        } else {
            for scheme in ["session_cookie", "bearer_token"] {
                assert!(
                    security.iter().any(|s| s.get(scheme).is_some()),
                    "{at}: security {scheme}"
                );
            }
            assert!(responses.contains_key("401"), "{at}: 401 documented");
            if method != "GET" {
                assert!(responses.contains_key("403"), "{at}: 403 (CSRF) documented");
            }
        }
        if op.get("requestBody").is_some() {
            for status in ["400", "413", "422"] {
                assert!(
                    responses.contains_key(status),
                    "{at}: has a body, so {status} is documented"
                );
            }
        }
        let params = op["parameters"].as_array().cloned().unwrap_or_default();
        if params.iter().any(|p| p["in"] == "path") && !path.starts_with("/api/docs") {
            assert!(responses.contains_key("404"), "{at}: path id, so 404");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_route_is_documented_and_every_documented_path_is_a_route() {
    let app = spawn_app(Db::Sqlite).await;
    let spec = spec(&app).await;
    let routes = source_routes();
    assert!(routes.len() >= 20, "too few routes read: {routes:#?}");

    let registered: BTreeMap<(String, String), Route> = routes
        .iter()
        .map(|r| ((r.method.clone(), r.path.clone()), r.clone()))
        .collect();
    let ops = documented(&spec);

    let undocumented: Vec<String> = registered
        .iter()
        .filter(|(k, _)| !ops.contains_key(*k))
        .map(|((m, p), r)| format!("{m} {p} ({})", r.file))
        .collect();
    assert!(
        undocumented.is_empty(),
        "routes missing from /api/openapi.json (describe them in src/openapi.rs): {undocumented:#?}"
    );
    let stale: Vec<String> = ops
        .keys()
        .filter(|k| !registered.contains_key(*k))
        .map(|(m, p)| format!("{m} {p}"))
        .collect();
    assert!(
        stale.is_empty(),
        "documented operations with no route in src/routes: {stale:#?}"
    );

    // Parameters and bodies match the handlers' extractors.
    for (key, route) in &registered {
        let op = &ops[key];
        let at = format!("{} {} ({})", key.0, key.1, route.file);
        let params = op["parameters"].as_array().cloned().unwrap_or_default();
        let names = |kind: &str| -> BTreeSet<String> {
            params
                .iter()
                .filter(|p| p["in"] == kind)
                .filter_map(|p| p["name"].as_str().map(str::to_owned))
                .collect()
        };
        let in_path: BTreeSet<String> = key
            .1
            .split('{')
            .skip(1)
            .filter_map(|s| s.split('}').next())
            .map(str::to_owned)
            .collect();
        assert_eq!(names("path"), in_path, "{at}: path parameters");
        if route.params.is_empty() {
            continue;
        }
        let src = std::fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("src")
                .join(route.file.split(':').next().unwrap()),
        )
        .unwrap();
        match generic_arg(&route.params, "Query") {
            Some(ty) => {
                let (fields, strict) = query_struct(&src, &ty)
                    .unwrap_or_else(|| panic!("{at}: struct {ty} not found in the same file"));
                assert_eq!(names("query"), fields, "{at}: query parameters");
                if strict {
                    assert!(
                        op["responses"].get("422").is_some(),
                        "{at}: unknown query parameters are refused, so 422 is documented"
                    );
                }
            }
            // A handler with the raw request may read its query string by hand.
            None if route.params.contains("HttpRequest") => {}
            None => assert!(
                names("query").is_empty(),
                "{at}: documents a query it does not read"
            ),
        }
        match generic_arg(&route.params, "Json") {
            Some(ty) => {
                let schema = &op["requestBody"]["content"]["application/json"]["schema"];
                assert_eq!(
                    schema["$ref"],
                    format!("#/components/schemas/{ty}"),
                    "{at}: request body {ty}"
                );
                assert!(
                    op["responses"].get("415").is_some(),
                    "{at}: a JSON body, so 415 is documented"
                );
            }
            // Files: a multipart/form-data body.
            None if route.params.contains("Multipart") => {
                assert!(
                    op["requestBody"]["content"]["multipart/form-data"]["schema"].is_object(),
                    "{at}: multipart/form-data request body"
                );
                assert!(
                    op["responses"].get("415").is_some(),
                    "{at}: a multipart body, so 415 is documented"
                );
            }
            // A raw body read by hand: documented, optional.
            None if route.params.contains("Bytes") => {
                assert!(op.get("requestBody").is_some(), "{at}: request body");
                assert_ne!(op["requestBody"]["required"], true, "{at}: optional body");
            }
            _ => assert!(
                op.get("requestBody").is_none(),
                "{at}: documents a body the handler does not read"
            ),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn docs_page_loads_only_files_the_app_serves() {
    let app = spawn_app(Db::Sqlite).await;
    let c = bare_client();
    let r = c.get(app.url("/api/docs")).send().await.expect("request");
    assert_eq!(r.status(), 200);
    let ct = r.headers()["content-type"].to_str().unwrap().to_owned();
    assert!(ct.starts_with("text/html"), "{ct}");
    let csp = r.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(csp.contains("default-src 'none'"), "{csp}");
    for directive in csp.split(';') {
        assert!(
            !directive.contains("http") && !directive.contains('*'),
            "the CSP allows another host: {directive}"
        );
    }
    let html = r.text().await.expect("body");
    assert!(
        !html.contains("http://") && !html.contains("https://") && !html.contains("src=\"//"),
        "the page names another host:\n{html}"
    );

    // Every script and stylesheet (and icon) it loads is served by the app.
    let mut assets = Vec::new();
    for attr in ["src=\"", "href=\""] {
        for part in html.split(attr).skip(1) {
            let url = part.split('"').next().unwrap_or_default();
            assert!(
                url.starts_with('/') && !url.starts_with("//"),
                "asset outside the app: {url}"
            );
            assets.push(url.to_owned());
        }
    }
    assert!(
        assets.iter().any(|a| a.ends_with(".js")) && assets.iter().any(|a| a.ends_with(".css")),
        "{assets:?}"
    );
    for url in &assets {
        let r = c.get(app.url(url)).send().await.expect("request");
        assert_eq!(r.status(), 200, "{url}");
        let ct = r.headers()["content-type"].to_str().unwrap().to_owned();
        let body = r.text().await.unwrap_or_default();
        if url.ends_with(".css") {
            assert!(ct.starts_with("text/css"), "{url}: {ct}");
            // Stylesheets could pull fonts or images from elsewhere.
            for needle in ["url(http", "url(\"http", "url('http", "url(//", "@import"] {
                assert!(!body.contains(needle), "{url} loads {needle}…");
            }
        }
        if url.ends_with("swagger-initializer.js") {
            // The startup script: what it fetches is the app's own document,
            // and the online validator badge (swagger.io) is off.
            assert!(
                !body.contains("http://") && !body.contains("https://"),
                "{url} names another host:\n{body}"
            );
            assert!(body.contains("\"/api/openapi.json\""), "{body}");
            assert!(body.contains("\"validatorUrl\": \"none\""), "{body}");
        }
    }

    // Unknown files are a problem+json 404 like any unknown path.
    let r = c
        .get(app.url("/api/docs/no-such-file.js"))
        .send()
        .await
        .expect("request");
    assert_problem(r, 404, "not_found").await;
}
