//! Regression tests for what API fuzzing (Schemathesis, `make fuzz`) found:
//! a JSON array read as an object, 404 instead of 405 for a known path,
//! attachment downloads documented with one content type, and limits the
//! server enforced but the OpenAPI document did not state.

use reqwest::multipart::{Form, Part};
use serde_json::{Value, json};

use crate::db_test;
use crate::helpers::{Db, assert_problem, bare_client, spawn_app};

db_test!(a_json_array_body_is_refused_not_read_as_an_object, |app| {
    let anna = app.user("Anna").await;
    // serde fills a struct from an array too: `[null, null]` was a valid
    // PATCH /api/auth/me that changed nothing and answered 200.
    let r = anna
        .client
        .patch(app.url("/api/auth/me"))
        .header("content-type", "application/json")
        .body("[null, null]")
        .send()
        .await
        .unwrap();
    let p = assert_problem(r, 422, "validation_failed").await;
    assert_eq!(p.errors[0].field, "body");
    let r = anna
        .client
        .patch(app.url("/api/auth/me"))
        .header("content-type", "application/json")
        .body(r#"["en", false]"#)
        .send()
        .await
        .unwrap();
    assert_problem(r, 422, "validation_failed").await;
    let me: Value = app.me(&anna.client).await.json().await.unwrap();
    assert_eq!(me["language"], "pl", "nothing changed");
    assert_eq!(me["notify_email_messages"], true);
    // Not JSON at all is still 400; an object still works.
    let r = anna
        .client
        .patch(app.url("/api/auth/me"))
        .header("content-type", "application/json")
        .body("[1,")
        .send()
        .await
        .unwrap();
    assert_problem(r, 400, "malformed_body").await;
    let r = app
        .patch(&anna, "/api/auth/me", json!({ "language": "en" }))
        .await;
    assert_eq!(r.status(), 200);
});

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_known_path_with_another_method_answers_405_with_allow() {
    let app = spawn_app(Db::Sqlite).await;
    let anna = app.user("Anna").await;
    for (method, path, allow) in [
        ("TRACE", "/api/users/presence", "GET"),
        ("PUT", "/api/auth/me", "GET, PATCH"),
        ("GET", "/api/auth/login", "POST"),
        // A literal path next to a `{id}` one: not `PATCH /api/messages/{id}`.
        ("PATCH", "/api/messages/heartbeat", "POST"),
        ("TRACE", "/healthz", "GET"),
        ("PUT", "/api/conversations/7", "GET, PATCH, DELETE"),
    ] {
        let m = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let r = anna.client.request(m, app.url(path)).send().await.unwrap();
        assert_eq!(r.headers()["allow"], allow, "{method} {path}");
        let p = assert_problem(r, 405, "method_not_allowed").await;
        assert!(
            p.detail.unwrap_or_default().contains(allow),
            "{method} {path}"
        );
    }
    // Unknown paths, and a path parameter of the wrong type, stay 404.
    for (method, path) in [
        ("GET", "/api/nothing-here"),
        ("TRACE", "/api/nothing-here"),
        ("DELETE", "/api/conversations/abc"),
        ("GET", "/nothing-here"),
    ] {
        let m = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let r = anna.client.request(m, app.url(path)).send().await.unwrap();
        assert!(r.headers().get("allow").is_none(), "{method} {path}");
        assert_problem(r, 404, "not_found").await;
    }
}

async fn spec(app: &crate::helpers::TestApp) -> Value {
    bare_client()
        .get(app.url("/api/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn attachment_downloads_are_documented_with_their_sniffed_type() {
    let app = spawn_app(Db::Sqlite).await;
    let spec = spec(&app).await;
    let ok = &spec["paths"]["/api/attachments/{id}"]["get"]["responses"]["200"]["content"];
    assert!(ok.get("*/*").is_some(), "any content type: {ok}");
    // The type a download really has: sniffed, here text/plain.
    let anna = app.user("Anna").await;
    let part = Part::bytes(b"notatka\n".to_vec()).file_name("a.txt");
    let r = anna
        .client
        .post(app.url("/api/attachments"))
        .multipart(Form::new().part("file", part))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let ups: Value = r.json().await.unwrap();
    let r = app
        .get(&anna, &format!("/api/attachments/{}", ups[0]["id"]))
        .await;
    assert_eq!(r.status(), 200);
    assert!(
        r.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_document_states_the_limits_the_server_enforces() {
    let app = spawn_app(Db::Sqlite).await;
    let spec = spec(&app).await;
    let schema =
        |name: &str, field: &str| spec["components"]["schemas"][name]["properties"][field].clone();
    assert_eq!(schema("LoginRequest", "password")["minLength"], 1);
    assert!(schema("LoginRequest", "email")["pattern"].is_string());
    assert_eq!(schema("ChangePassword", "current_password")["minLength"], 1);
    assert_eq!(schema("ChangePassword", "new_password")["minLength"], 8);
    assert_eq!(schema("ChangePassword", "new_password")["maxLength"], 256);
    assert_eq!(schema("CreateConversation", "member_ids")["minItems"], 1);
    assert_eq!(schema("AddMembers", "user_ids")["minItems"], 1);
    assert_eq!(schema("UpdateMe", "language")["pattern"], "^(pl|en)$");
    assert_eq!(schema("UploadForm", "file")["minItems"], 1);
    assert_eq!(schema("UploadForm", "file")["maxItems"], 10);
    let emoji = schema("AddReaction", "emoji")["pattern"].clone();
    assert!(emoji.as_str().is_some_and(|p| p.contains('👍')), "{emoji}");
    let params = spec["paths"]["/api/messages/{id}/reactions/{emoji}"]["delete"]["parameters"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let path_emoji = params.iter().find(|p| p["name"] == "emoji").expect("emoji");
    assert_eq!(path_emoji["schema"]["pattern"], emoji);

    // And the server refuses exactly what they exclude.
    let anna = app.user("Anna").await;
    let r = bare_client()
        .post(app.url("/api/auth/login"))
        .json(&json!({ "email": "anna@firma.pl", "password": "" }))
        .send()
        .await
        .unwrap();
    assert_problem(r, 422, "validation_failed").await;
    let r = app
        .patch(&anna, "/api/auth/me", json!({ "language": "" }))
        .await;
    assert_problem(r, 422, "validation_failed").await;
    let r = app
        .post(&anna, "/api/conversations", json!({ "member_ids": [] }))
        .await;
    assert_problem(r, 422, "validation_failed").await;
    let r = app
        .post(
            &anna,
            "/api/auth/password",
            json!({ "current_password": "haslo-testowe-1", "new_password": "krótkie" }),
        )
        .await;
    assert_problem(r, 422, "validation_failed").await;
}
