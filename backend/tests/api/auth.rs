//! Login, logout, me; cookie and bearer auth; expiry, revocation,
//! deactivation; CSRF; rate limits; bad input.

use crate::db_test;
use crate::helpers::{
    Db, ORIGIN, assert_problem, bare_client, browser_client, session_cookie, spawn_app_with,
};
use sea_orm::EntityTrait;
use serde_json::Value;
use shared::dto::auth::LoginResponse;
use shared::dto::users::UserDto;

db_test!(
    login_sets_http_only_lax_cookie_and_me_returns_the_user,
    |app| {
        let res = app
            .login_with(&app.client, &app.admin.email, &app.admin.password)
            .await;
        assert_eq!(res.status(), 200);
        let cookie = res
            .headers()
            .get("set-cookie")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        assert!(cookie.starts_with("msg_session="), "{cookie}");
        assert!(cookie.contains("HttpOnly"), "{cookie}");
        assert!(cookie.contains("SameSite=Lax"), "{cookie}");
        assert!(
            !cookie.contains("Secure"),
            "http PUBLIC_URL: no Secure: {cookie}"
        );
        let body: LoginResponse = res.json().await.unwrap();
        assert_eq!(body.user.email, app.admin.email);
        assert!(body.user.is_admin);

        let me = app.me(&app.client).await;
        assert_eq!(me.status(), 200);
        let me: UserDto = me.json().await.unwrap();
        assert_eq!(me.email, app.admin.email);
        assert_eq!(me.name, "Administrator");
        assert!(me.notify_email_messages);
        // Only a hash of the session token is stored.
        let value = cookie
            .trim_start_matches("msg_session=")
            .split(';')
            .next()
            .unwrap()
            .to_owned();
        let plain = app
            .scalar_i64(&format!(
                "SELECT COUNT(*) FROM sessions WHERE token_hash = '{value}'"
            ))
            .await;
        assert_eq!(plain, 0);
        assert_eq!(app.scalar_i64("SELECT COUNT(*) FROM sessions").await, 1);
    }
);

db_test!(login_is_case_insensitive_on_email, |app| {
    let res = app
        .login_with(
            &app.client,
            &app.admin.email.to_uppercase(),
            &app.admin.password,
        )
        .await;
    assert_eq!(res.status(), 200);
});

db_test!(wrong_password_and_unknown_email_get_the_same_401, |app| {
    let wrong = app
        .login_with(&app.client, &app.admin.email, "wrong-password")
        .await;
    let a = assert_problem(wrong, 401, "invalid_credentials").await;
    let unknown = app
        .login_with(&app.client, "nobody@example.com", "wrong-password")
        .await;
    let b = assert_problem(unknown, 401, "invalid_credentials").await;
    assert_eq!(a.detail, b.detail);
    assert_eq!(app.scalar_i64("SELECT COUNT(*) FROM sessions").await, 0);
    assert_problem(app.me(&app.client).await, 401, "unauthenticated").await;
});

db_test!(login_bad_input_is_rejected_with_problem_json, |app| {
    let url = app.url("/api/auth/login");
    let c = bare_client();
    // Not JSON at all.
    let r = c
        .post(&url)
        .header("content-type", "application/json")
        .body("{\"email\":")
        .send()
        .await
        .unwrap();
    assert_problem(r, 400, "malformed_body").await;
    // JSON of the wrong shape: the missing field is named.
    let r = c
        .post(&url)
        .json(&serde_json::json!({ "email": "a@b.pl" }))
        .send()
        .await
        .unwrap();
    let p = assert_problem(r, 422, "validation_failed").await;
    assert_eq!(p.errors[0].field, "password");
    let r = c
        .post(&url)
        .json(&serde_json::json!({ "email": 5, "password": "x" }))
        .send()
        .await
        .unwrap();
    assert_problem(r, 422, "validation_failed").await;
    // Empty values: both fields named.
    let r = c
        .post(&url)
        .json(&serde_json::json!({ "email": " ", "password": "" }))
        .send()
        .await
        .unwrap();
    let p = assert_problem(r, 422, "validation_failed").await;
    let fields: Vec<_> = p.errors.iter().map(|e| e.field.as_str()).collect();
    assert_eq!(fields, ["email", "password"]);
    // Wrong content type.
    let r = c
        .post(&url)
        .header("content-type", "text/plain")
        .body("email=a")
        .send()
        .await
        .unwrap();
    assert_problem(r, 415, "unsupported_media_type").await;
    // Oversized body.
    let big = "x".repeat(70 * 1024);
    let r = c
        .post(&url)
        .json(&serde_json::json!({ "email": big, "password": "x" }))
        .send()
        .await
        .unwrap();
    assert_problem(r, 413, "payload_too_large").await;
    // A very long password is refused without hashing, like a wrong one.
    let r = app
        .login_with(&c, &app.admin.email, &"p".repeat(5000))
        .await;
    assert_problem(r, 401, "invalid_credentials").await;
    assert_eq!(app.scalar_i64("SELECT COUNT(*) FROM sessions").await, 0);
});

db_test!(logout_ends_the_session_and_clears_the_cookie, |app| {
    app.login_admin().await;
    let res = app
        .client
        .post(app.url("/api/auth/logout"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);
    let set = res
        .headers()
        .get("set-cookie")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    assert!(
        set.starts_with("msg_session=;") || set.contains("Max-Age=0"),
        "{set}"
    );
    assert_eq!(app.scalar_i64("SELECT COUNT(*) FROM sessions").await, 0);
    assert_problem(app.me(&app.client).await, 401, "unauthenticated").await;
});

db_test!(stolen_cookie_stops_working_after_logout, |app| {
    let res = app
        .login_with(&app.client, &app.admin.email, &app.admin.password)
        .await;
    let cookie = session_cookie(&res);
    let copy = bare_client();
    let ok = copy
        .get(app.url("/api/auth/me"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 200);
    app.client
        .post(app.url("/api/auth/logout"))
        .send()
        .await
        .unwrap();
    let gone = copy
        .get(app.url("/api/auth/me"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_problem(gone, 401, "unauthenticated").await;
});

db_test!(expired_session_is_refused, |app| {
    app.login_admin().await;
    app.exec("UPDATE sessions SET expires_at = '2000-01-01T00:00:00Z'")
        .await;
    assert_problem(app.me(&app.client).await, 401, "unauthenticated").await;
    // The expired row is removed on sight.
    assert_eq!(app.scalar_i64("SELECT COUNT(*) FROM sessions").await, 0);
});

db_test!(bearer_token_authenticates_without_origin, |app| {
    let (_, token) = app.token_for(&app.admin.email).await;
    let c = bare_client();
    let me = c
        .get(app.url("/api/auth/me"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(me.status(), 200);
    let me: UserDto = me.json().await.unwrap();
    assert_eq!(me.email, app.admin.email);
    // State-changing bearer requests need no Origin (no CSRF with bearer).
    let out = c
        .post(app.url("/api/auth/logout"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(out.status(), 204);
    // The token is hashed at rest and its last use recorded.
    let used = app
        .scalar_i64("SELECT COUNT(*) FROM api_tokens WHERE last_used_at IS NOT NULL")
        .await;
    assert_eq!(used, 1);
});

db_test!(garbage_revoked_and_expired_tokens_get_401, |app| {
    let c = bare_client();
    for header in ["Bearer nope", "Bearer ", "Basic abc", "Bearer msgp_xxx"] {
        let r = c
            .get(app.url("/api/auth/me"))
            .header("authorization", header)
            .send()
            .await
            .unwrap();
        assert_problem(r, 401, "unauthenticated").await;
    }
    let (id, token) = app.token_for(&app.admin.email).await;
    let user_id = app.scalar_i64("SELECT id FROM users").await;
    backend::auth::api_tokens::revoke(&app.db, user_id, id)
        .await
        .unwrap();
    let r = c
        .get(app.url("/api/auth/me"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_problem(r, 401, "unauthenticated").await;

    let (_, token2) = app.token_for(&app.admin.email).await;
    app.exec("UPDATE api_tokens SET expires_at = '2000-01-01T00:00:00Z' WHERE revoked_at IS NULL")
        .await;
    let r = c
        .get(app.url("/api/auth/me"))
        .bearer_auth(&token2)
        .send()
        .await
        .unwrap();
    assert_problem(r, 401, "unauthenticated").await;
});

db_test!(
    deactivated_user_cannot_log_in_and_loses_sessions_and_tokens,
    |app| {
        let id = app
            .create_user("anna@firma.pl", "Anna Nowak", "haslo-anny-1")
            .await;
        let anna = browser_client();
        assert_eq!(
            app.login_with(&anna, "anna@firma.pl", "haslo-anny-1")
                .await
                .status(),
            200
        );
        let (_, token) = app.token_for("anna@firma.pl").await;
        backend::domain::users::deactivate(&app.db, id)
            .await
            .unwrap();

        assert_problem(app.me(&anna).await, 401, "unauthenticated").await;
        let r = bare_client()
            .get(app.url("/api/auth/me"))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        assert_problem(r, 401, "unauthenticated").await;
        let r = app
            .login_with(&browser_client(), "anna@firma.pl", "haslo-anny-1")
            .await;
        assert_problem(r, 401, "invalid_credentials").await;
    }
);

db_test!(password_change_ends_existing_sessions, |app| {
    let id = app
        .create_user("jan@firma.pl", "Jan Kowalski", "stare-haslo-1")
        .await;
    let jan = browser_client();
    assert_eq!(
        app.login_with(&jan, "jan@firma.pl", "stare-haslo-1")
            .await
            .status(),
        200
    );
    backend::domain::users::set_password(&app.db, id, "nowe-haslo-22".into())
        .await
        .unwrap();
    assert_problem(app.me(&jan).await, 401, "unauthenticated").await;
    let r = app.login_with(&jan, "jan@firma.pl", "stare-haslo-1").await;
    assert_problem(r, 401, "invalid_credentials").await;
    assert_eq!(
        app.login_with(&jan, "jan@firma.pl", "nowe-haslo-22")
            .await
            .status(),
        200
    );
});

db_test!(
    cookie_requests_that_change_state_need_an_allowed_origin,
    |app| {
        let res = app
            .login_with(&app.client, &app.admin.email, &app.admin.password)
            .await;
        let cookie = session_cookie(&res);
        let c = bare_client();
        // No Origin, no Referer.
        let r = c
            .post(app.url("/api/auth/logout"))
            .header("cookie", &cookie)
            .send()
            .await
            .unwrap();
        assert_problem(r, 403, "csrf_rejected").await;
        // A foreign Origin.
        let r = c
            .post(app.url("/api/auth/logout"))
            .header("cookie", &cookie)
            .header("origin", "https://evil.example")
            .send()
            .await
            .unwrap();
        assert_problem(r, 403, "csrf_rejected").await;
        // A foreign Referer.
        let r = c
            .post(app.url("/api/auth/logout"))
            .header("cookie", &cookie)
            .header("referer", "https://evil.example/page")
            .send()
            .await
            .unwrap();
        assert_problem(r, 403, "csrf_rejected").await;
        // Nothing changed: the session still works.
        assert_eq!(app.scalar_i64("SELECT COUNT(*) FROM sessions").await, 1);
        let me = c
            .get(app.url("/api/auth/me"))
            .header("cookie", &cookie)
            .send()
            .await
            .unwrap();
        assert_eq!(me.status(), 200);
        // A same-origin Referer is accepted.
        let r = c
            .post(app.url("/api/auth/logout"))
            .header("cookie", &cookie)
            .header("referer", format!("{ORIGIN}/wiadomosci/"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 204);
    }
);

db_test!(login_from_a_foreign_origin_is_refused, |app| {
    let r = bare_client()
        .post(app.url("/api/auth/login"))
        .header("origin", "https://evil.example")
        .json(&serde_json::json!({ "email": app.admin.email, "password": app.admin.password }))
        .send()
        .await
        .unwrap();
    assert_problem(r, 403, "csrf_rejected").await;
    assert_eq!(app.scalar_i64("SELECT COUNT(*) FROM sessions").await, 0);
});

db_test!(failed_logins_are_limited_per_account, |app| {
    app.create_user("ola@firma.pl", "Ola", "haslo-oli-12").await;
    for _ in 0..5 {
        let r = app
            .login_with(&app.client, &app.admin.email, "wrong-password")
            .await;
        assert_eq!(r.status(), 401);
    }
    // The sixth attempt is refused even with the right password.
    let r = app
        .login_with(&app.client, &app.admin.email, &app.admin.password)
        .await;
    let retry: u64 = r.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(retry > 0 && retry <= 15 * 60, "{retry}");
    assert_problem(r, 429, "rate_limited").await;
    // Another account from the same client is not affected.
    let r = app
        .login_with(&app.client, "ola@firma.pl", "haslo-oli-12")
        .await;
    assert_eq!(r.status(), 200);
});

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_attempts_are_limited_per_ip() {
    let app = spawn_app_with(Db::Sqlite, &["--login-max-attempts-per-ip", "3"]).await;
    for i in 0..3 {
        let r = app
            .login_with(&app.client, &format!("u{i}@example.com"), "wrong-password")
            .await;
        assert_eq!(r.status(), 401);
    }
    let r = app
        .login_with(&app.client, &app.admin.email, &app.admin.password)
        .await;
    assert!(r.headers().contains_key("retry-after"));
    assert_problem(r, 429, "rate_limited").await;
    assert_eq!(app.scalar_i64("SELECT COUNT(*) FROM sessions").await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cookie_is_secure_when_public_url_is_https() {
    let app = spawn_app_with(
        Db::Sqlite,
        &[
            "--public-url",
            "https://portal.example.pl",
            "--allowed-origins",
            ORIGIN,
        ],
    )
    .await;
    let r = app
        .login_with(&bare_client(), &app.admin.email, &app.admin.password)
        .await;
    assert_eq!(r.status(), 200);
    let cookie = r.headers()["set-cookie"].to_str().unwrap();
    assert!(cookie.contains("Secure"), "{cookie}");
}

db_test!(every_auth_endpoint_refuses_anonymous_calls, |app| {
    let c = bare_client();
    let r = c.get(app.url("/api/auth/me")).send().await.unwrap();
    assert_problem(r, 401, "unauthenticated").await;
    let r = c.post(app.url("/api/auth/logout")).send().await.unwrap();
    assert_problem(r, 401, "unauthenticated").await;
    let body: Value = c
        .get(app.url("/api/auth/me"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(body["type"], "/problems/unauthenticated");
});

// ---- Own settings and password (PATCH /api/auth/me, POST /api/auth/password)

/// `(language, notify_email_messages)` of a user, from the database.
async fn settings_of(app: &crate::helpers::TestApp, id: i64) -> (String, bool) {
    let user = backend::db::entities::users::Entity::find_by_id(id)
        .one(&app.db)
        .await
        .unwrap()
        .unwrap();
    (user.language, user.notify_email_messages)
}

/// A second signed-in browser of the user `anna@firma.pl` made by `app.user("Anna")`.
async fn second_session(app: &crate::helpers::TestApp, email: &str, pw: &str) -> reqwest::Client {
    let c = browser_client();
    assert_eq!(app.login_with(&c, email, pw).await.status(), 200);
    c
}

db_test!(own_settings_change_and_show_in_me, |app| {
    let anna = app.user("Anna").await;
    let me: UserDto = app.get(&anna, "/api/auth/me").await.json().await.unwrap();
    assert_eq!(
        (me.language.as_str(), me.notify_email_messages),
        ("pl", true)
    );

    let r = app
        .patch(
            &anna,
            "/api/auth/me",
            serde_json::json!({ "language": "en", "notify_email_messages": false }),
        )
        .await;
    assert_eq!(r.status(), 200);
    let me: UserDto = r.json().await.unwrap();
    assert_eq!(me.id, anna.id);
    assert_eq!(
        (me.language.as_str(), me.notify_email_messages),
        ("en", false)
    );
    assert_eq!(settings_of(&app, anna.id).await, ("en".into(), false));

    // One field at a time; absent fields stay.
    let r = app
        .patch(
            &anna,
            "/api/auth/me",
            serde_json::json!({ "notify_email_messages": true }),
        )
        .await;
    let me: UserDto = r.json().await.unwrap();
    assert_eq!(
        (me.language.as_str(), me.notify_email_messages),
        ("en", true)
    );
    let r = app
        .patch(&anna, "/api/auth/me", serde_json::json!({}))
        .await;
    assert_eq!(r.status(), 200);
    assert_eq!(settings_of(&app, anna.id).await, ("en".into(), true));
    let me: UserDto = app.get(&anna, "/api/auth/me").await.json().await.unwrap();
    assert_eq!(me.language, "en");
});

db_test!(invalid_settings_change_nothing, |app| {
    let anna = app.user("Anna").await;
    for (body, field) in [
        (
            serde_json::json!({ "language": "de", "notify_email_messages": false }),
            "language",
        ),
        (
            serde_json::json!({ "language": "", "notify_email_messages": false }),
            "language",
        ),
        (
            serde_json::json!({ "language": "en", "notify_email_messages": "no" }),
            "notify_email_messages",
        ),
        (serde_json::json!({ "language": 5 }), "language"),
    ] {
        let r = app.patch(&anna, "/api/auth/me", body).await;
        let p = assert_problem(r, 422, "validation_failed").await;
        assert_eq!(p.errors[0].field, field);
    }
    assert_eq!(settings_of(&app, anna.id).await, ("pl".into(), true));
});

db_test!(
    password_change_keeps_this_session_and_ends_the_others,
    |app| {
        let anna = app.user("Anna").await;
        let other = second_session(&app, "anna@firma.pl", "haslo-testowe-1").await;
        let r = app
        .post(
            &anna,
            "/api/auth/password",
            serde_json::json!({ "current_password": "haslo-testowe-1", "new_password": "nowe-haslo-anny" }),
        )
        .await;
        assert_eq!(r.status(), 204);
        // The session that changed it stays; the other one is gone.
        assert_eq!(app.get(&anna, "/api/auth/me").await.status(), 200);
        assert_problem(app.me(&other).await, 401, "unauthenticated").await;
        let sessions = app
            .scalar_i64(&format!(
                "SELECT COUNT(*) FROM sessions WHERE user_id = {}",
                anna.id
            ))
            .await;
        assert_eq!(sessions, 1);
        // The new password works, the old one does not; stored as argon2id.
        let r = app
            .login_with(&bare_client(), "anna@firma.pl", "haslo-testowe-1")
            .await;
        assert_problem(r, 401, "invalid_credentials").await;
        let r = app
            .login_with(&bare_client(), "anna@firma.pl", "nowe-haslo-anny")
            .await;
        assert_eq!(r.status(), 200);
        let user = backend::domain::users::get_by_email(&app.db, "anna@firma.pl")
            .await
            .unwrap();
        assert!(user.password_hash.unwrap().starts_with("$argon2id$"));
    }
);

db_test!(
    password_change_with_a_bearer_token_ends_every_session,
    |app| {
        let anna = app.user("Anna").await;
        let (_, token) = app.token_for("anna@firma.pl").await;
        let r = bare_client()
        .post(app.url("/api/auth/password"))
        .bearer_auth(&token)
        .json(&serde_json::json!({ "current_password": "haslo-testowe-1", "new_password": "nowe-haslo-anny" }))
        .send()
        .await
        .unwrap();
        assert_eq!(r.status(), 204);
        assert_problem(app.get(&anna, "/api/auth/me").await, 401, "unauthenticated").await;
        // The token itself still works.
        let r = bare_client()
            .get(app.url("/api/auth/me"))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
    }
);

db_test!(refused_password_changes_change_nothing, |app| {
    let anna = app.user("Anna").await;
    let other = second_session(&app, "anna@firma.pl", "haslo-testowe-1").await;
    let hash_before = backend::domain::users::get_by_email(&app.db, "anna@firma.pl")
        .await
        .unwrap()
        .password_hash;
    let cases = [
        (
            serde_json::json!({ "current_password": "haslo-testowe-1", "new_password": "krotkie" }),
            422,
            "validation_failed",
            Some("new_password"),
        ),
        (
            serde_json::json!({ "current_password": "haslo-testowe-1", "new_password": "x".repeat(257) }),
            422,
            "validation_failed",
            Some("new_password"),
        ),
        (
            serde_json::json!({ "current_password": "", "new_password": "nowe-haslo-anny" }),
            422,
            "validation_failed",
            Some("current_password"),
        ),
        (
            serde_json::json!({ "new_password": "nowe-haslo-anny" }),
            422,
            "validation_failed",
            Some("current_password"),
        ),
        (
            serde_json::json!({ "current_password": "zle-haslo-123", "new_password": "nowe-haslo-anny" }),
            403,
            "wrong_password",
            None,
        ),
    ];
    for (body, status, code, field) in cases {
        let r = app.post(&anna, "/api/auth/password", body).await;
        let p = assert_problem(r, status, code).await;
        if let Some(field) = field {
            assert_eq!(p.errors[0].field, field);
        }
    }
    let hash_after = backend::domain::users::get_by_email(&app.db, "anna@firma.pl")
        .await
        .unwrap()
        .password_hash;
    assert_eq!(hash_before, hash_after);
    assert_eq!(app.me(&other).await.status(), 200);
    assert_eq!(app.get(&anna, "/api/auth/me").await.status(), 200);
    let r = app
        .login_with(&bare_client(), "anna@firma.pl", "haslo-testowe-1")
        .await;
    assert_eq!(r.status(), 200);
});

db_test!(
    wrong_current_passwords_are_rate_limited_like_logins,
    |app| {
        let anna = app.user("Anna").await;
        let wrong = serde_json::json!({ "current_password": "zle-haslo-123", "new_password": "nowe-haslo-anny" });
        for _ in 0..5 {
            let r = app.post(&anna, "/api/auth/password", wrong.clone()).await;
            assert_problem(r, 403, "wrong_password").await;
        }
        let right = serde_json::json!({ "current_password": "haslo-testowe-1", "new_password": "nowe-haslo-anny" });
        let r = app.post(&anna, "/api/auth/password", right).await;
        assert!(r.headers().contains_key("retry-after"));
        assert_problem(r, 429, "rate_limited").await;
        let r = app
            .login_with(&bare_client(), "anna@firma.pl", "haslo-testowe-1")
            .await;
        assert_problem(r, 429, "rate_limited").await;
    }
);

db_test!(
    settings_and_password_need_a_session_and_an_allowed_origin,
    |app| {
        let anna = app.user("Anna").await;
        let c = bare_client();
        let r = c
            .patch(app.url("/api/auth/me"))
            .json(&serde_json::json!({ "language": "en" }))
            .send()
            .await
            .unwrap();
        assert_problem(r, 401, "unauthenticated").await;
        let r = c
        .post(app.url("/api/auth/password"))
        .json(&serde_json::json!({ "current_password": "haslo-testowe-1", "new_password": "nowe-haslo-anny" }))
        .send()
        .await
        .unwrap();
        assert_problem(r, 401, "unauthenticated").await;

        // Anna's cookie without an Origin, or with a foreign one: refused.
        let res = app
            .login_with(&bare_client(), "anna@firma.pl", "haslo-testowe-1")
            .await;
        let cookie = session_cookie(&res);
        for origin in [None, Some("https://evil.example")] {
            let mut r = c
                .patch(app.url("/api/auth/me"))
                .header("cookie", &cookie)
                .json(&serde_json::json!({ "language": "en" }));
            if let Some(o) = origin {
                r = r.header("origin", o);
            }
            assert_problem(r.send().await.unwrap(), 403, "csrf_rejected").await;
            let mut r = c
            .post(app.url("/api/auth/password"))
            .header("cookie", &cookie)
            .json(&serde_json::json!({ "current_password": "haslo-testowe-1", "new_password": "nowe-haslo-anny" }));
            if let Some(o) = origin {
                r = r.header("origin", o);
            }
            assert_problem(r.send().await.unwrap(), 403, "csrf_rejected").await;
        }
        assert_eq!(settings_of(&app, anna.id).await, ("pl".into(), true));
        let r = app
            .login_with(&bare_client(), "anna@firma.pl", "haslo-testowe-1")
            .await;
        assert_eq!(r.status(), 200);
        // Both of Anna's earlier sessions are still there (plus the new one).
        assert_eq!(app.get(&anna, "/api/auth/me").await.status(), 200);
    }
);
