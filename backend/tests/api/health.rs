//! Health endpoints, unknown paths, the SPA mount, response headers.

use crate::db_test;
use crate::helpers::{assert_problem, bare_client};

db_test!(healthz_and_readyz_answer, |app| {
    let c = bare_client();
    let r = c.get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let r = c.get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.headers().contains_key("x-request-id"));
    assert_eq!(r.headers()["x-content-type-options"], "nosniff");
});

db_test!(unknown_api_paths_are_problem_404_other_methods_405, |app| {
    let c = bare_client();
    let r = c.get(app.url("/api/nope")).send().await.unwrap();
    assert_problem(r, 404, "not_found").await;
    // A known path with a method it does not take (RFC 9110 §15.5.6).
    let r = c.delete(app.url("/api/auth/me")).send().await.unwrap();
    assert_eq!(r.headers()["allow"], "GET, PATCH");
    assert_problem(r, 405, "method_not_allowed").await;
    let r = c.get(app.url("/definitely/not/here")).send().await.unwrap();
    assert_problem(r, 404, "not_found").await;
});

db_test!(root_redirects_to_the_spa_and_spa_paths_fall_back, |app| {
    let c = bare_client();
    let r = c.get(app.url("/")).send().await.unwrap();
    assert_eq!(r.status(), 302);
    assert_eq!(r.headers()["location"], "/wiadomosci/");
    // No SPA build in the test's static dir: a clear 503, not a crash.
    let r = c.get(app.url("/wiadomosci/123")).send().await.unwrap();
    assert_eq!(r.status(), 503);
    // With an index.html, any SPA path serves it; traversal does not escape.
    let dist = app.test_db_dir().join("dist");
    std::fs::create_dir_all(&dist).unwrap();
    std::fs::write(dist.join("index.html"), "<!doctype html><title>SPA</title>").unwrap();
    std::fs::write(dist.join("app-1.js"), "console.log(1)").unwrap();
    for path in [
        "/wiadomosci",
        "/wiadomosci/",
        "/wiadomosci/42",
        "/wiadomosci/logowanie",
    ] {
        let r = c.get(app.url(path)).send().await.unwrap();
        assert_eq!(r.status(), 200, "{path}");
        assert!(
            r.text().await.unwrap().contains("<title>SPA</title>"),
            "{path}"
        );
    }
    let r = c.get(app.url("/wiadomosci/app-1.js")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.text().await.unwrap(), "console.log(1)");
    let r = c
        .get(app.url("/wiadomosci/..%2f..%2fetc%2fpasswd"))
        .send()
        .await
        .unwrap();
    assert!(!r.text().await.unwrap().contains("root:"));
});
