//! The authorization matrix: every conversation-scoped endpoint called by
//! a non-member, a plain member and the group's owner. Refused calls get
//! the documented status and change nothing in the database. Then the rest
//! of the audit: attachments, search, pins and forwarding answer outsiders
//! exactly as for things that do not exist; presence only for contacts;
//! event streams never carry a conversation to a non-member; a removed
//! member and a deactivated user lose access at once, open streams included.

use std::time::Duration;

use sea_orm::{EntityTrait, QueryOrder};
use serde_json::{Value, json};

use backend::db::entities::{
    conv_messages, conversation_members, conversations, message_attachments, message_pins,
    message_reactions,
};

use crate::helpers::{TestApp, TestUser};
use crate::stream::stream;
use crate::{db_test, rt_test};

/// Everything a refused call must leave as it was.
async fn snapshot(app: &TestApp) -> String {
    let db = &app.db;
    format!(
        "{:?}\n{:?}\n{:?}\n{:?}\n{:?}",
        conversations::Entity::find()
            .order_by_asc(conversations::Column::Id)
            .all(db)
            .await
            .unwrap(),
        conversation_members::Entity::find()
            .order_by_asc(conversation_members::Column::ConversationId)
            .order_by_asc(conversation_members::Column::UserId)
            .all(db)
            .await
            .unwrap(),
        conv_messages::Entity::find()
            .order_by_asc(conv_messages::Column::Id)
            .all(db)
            .await
            .unwrap(),
        message_reactions::Entity::find()
            .order_by_asc(message_reactions::Column::Id)
            .all(db)
            .await
            .unwrap(),
        message_pins::Entity::find()
            .order_by_asc(message_pins::Column::Id)
            .all(db)
            .await
            .unwrap(),
    )
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Who {
    Stranger,
    Member,
    Owner,
}

struct Call {
    method: &'static str,
    path: String,
    body: Option<Value>,
    /// Status for the plain member; the owner gets a 2xx; a stranger 404.
    member: u16,
}

db_test!(
    authorization_matrix_for_every_conversation_endpoint,
    |app| {
        let owner = app.user("Olga Owner").await;
        let member = app.user("Marek Member").await;
        let third = app.user("Tomasz Third").await;
        let stranger = app.user("Sylwia Stranger").await;
        let extra = app.user("Ewa Extra").await;

        // Each call gets a fresh group so that earlier calls cannot interfere.
        async fn setup(
            app: &TestApp,
            owner: &crate::helpers::TestUser,
            members: &[&crate::helpers::TestUser],
        ) -> (i64, i64, i64) {
            let g = app.conversation(owner, members, Some("Grupa")).await;
            let own_msg = app.send(owner, g.id, "od właściciela").await;
            let member_msg = app.send(members[0], g.id, "od członka").await;
            (g.id, own_msg.id, member_msg.id)
        }

        let calls = |cid: i64, owner_msg: i64, member_msg: i64, third: i64, extra: i64| {
            let thumbs = "%F0%9F%91%8D";
            vec![
                Call {
                    method: "GET",
                    path: format!("/api/conversations/{cid}"),
                    body: None,
                    member: 200,
                },
                Call {
                    method: "PATCH",
                    path: format!("/api/conversations/{cid}"),
                    body: Some(json!({"name": "Nowa"})),
                    member: 403,
                },
                Call {
                    method: "POST",
                    path: format!("/api/conversations/{cid}/members"),
                    body: Some(json!({"user_ids": [extra]})),
                    member: 403,
                },
                Call {
                    method: "DELETE",
                    path: format!("/api/conversations/{cid}/members/{third}"),
                    body: None,
                    member: 403,
                },
                Call {
                    method: "PATCH",
                    path: format!("/api/conversations/{cid}/settings"),
                    body: Some(json!({"is_muted": true})),
                    member: 200,
                },
                Call {
                    method: "POST",
                    path: format!("/api/conversations/{cid}/read"),
                    body: Some(json!({})),
                    member: 200,
                },
                Call {
                    method: "GET",
                    path: format!("/api/conversations/{cid}/messages"),
                    body: None,
                    member: 200,
                },
                Call {
                    method: "GET",
                    path: format!("/api/conversations/{cid}/messages/search?q=od"),
                    body: None,
                    member: 200,
                },
                Call {
                    method: "POST",
                    path: format!("/api/conversations/{cid}/messages"),
                    body: Some(json!({"content": "hej"})),
                    member: 201,
                },
                Call {
                    method: "GET",
                    path: format!("/api/conversations/{cid}/pins"),
                    body: None,
                    member: 200,
                },
                Call {
                    method: "PATCH",
                    path: format!("/api/messages/{owner_msg}"),
                    body: Some(json!({"content": "zmiana"})),
                    member: 403,
                },
                Call {
                    method: "DELETE",
                    path: format!("/api/messages/{owner_msg}"),
                    body: None,
                    member: 403,
                },
                Call {
                    method: "POST",
                    path: format!("/api/messages/{member_msg}/reactions"),
                    body: Some(json!({"emoji": "👍"})),
                    member: 200,
                },
                Call {
                    method: "DELETE",
                    path: format!("/api/messages/{member_msg}/reactions/{thumbs}"),
                    body: None,
                    member: 200,
                },
                Call {
                    method: "POST",
                    path: format!("/api/messages/{member_msg}/pin"),
                    body: None,
                    member: 200,
                },
                Call {
                    method: "DELETE",
                    path: format!("/api/messages/{member_msg}/pin"),
                    body: None,
                    member: 204,
                },
                Call {
                    method: "DELETE",
                    path: format!("/api/conversations/{cid}"),
                    body: None,
                    member: 403,
                },
            ]
        };

        let n_calls = calls(0, 0, 0, 0, 0).len();
        for i in 0..n_calls {
            for who in [Who::Stranger, Who::Member, Who::Owner] {
                let (cid, owner_msg, member_msg) = setup(&app, &owner, &[&member, &third]).await;
                let call = calls(cid, owner_msg, member_msg, third.id, extra.id).remove(i);
                let client = match who {
                    Who::Stranger => &stranger.client,
                    Who::Member => &member.client,
                    Who::Owner => &owner.client,
                };
                let before = snapshot(&app).await;
                let url = app.url(&call.path);
                let mut req = match call.method {
                    "GET" => client.get(url),
                    "POST" => client.post(url),
                    "PATCH" => client.patch(url),
                    _ => client.delete(url),
                };
                if let Some(b) = &call.body {
                    req = req.json(b);
                }
                let res = req.send().await.unwrap();
                let status = res.status().as_u16();
                let label = format!("{who:?} {} {}", call.method, call.path);
                match who {
                    Who::Stranger => assert_eq!(status, 404, "{label}"),
                    Who::Member => assert_eq!(status, call.member, "{label}"),
                    Who::Owner => assert!((200..300).contains(&status), "{label}: {status}"),
                }
                if status >= 400 {
                    let ct = res.headers()["content-type"].to_str().unwrap().to_owned();
                    assert_eq!(ct, "application/problem+json", "{label}");
                    assert_eq!(snapshot(&app).await, before, "{label} changed something");
                }
            }
        }
    }
);

/// A 404 as a client sees it, without the request id (to compare answers).
async fn not_found(r: reqwest::Response) -> Value {
    assert_eq!(r.status(), 404);
    assert_eq!(
        r.headers()["content-type"].to_str().unwrap(),
        "application/problem+json"
    );
    let mut body: Value = r.json().await.unwrap();
    body.as_object_mut().unwrap().remove("request_id");
    body
}

/// Uploads one small PNG as `who`, returns its id and URL.
async fn upload_png(app: &TestApp, who: &TestUser) -> (i64, String) {
    let mut png = std::io::Cursor::new(Vec::new());
    image::RgbImage::from_pixel(4, 4, image::Rgb([200, 10, 10]))
        .write_to(&mut png, image::ImageFormat::Png)
        .unwrap();
    upload(app, who, "obraz.png", png.into_inner()).await
}

/// Uploads one file as `who`, returns its id and URL.
async fn upload(app: &TestApp, who: &TestUser, name: &str, bytes: Vec<u8>) -> (i64, String) {
    let form = reqwest::multipart::Form::new().part(
        "file",
        reqwest::multipart::Part::bytes(bytes)
            .file_name(name.to_owned())
            .mime_str("application/octet-stream")
            .unwrap(),
    );
    let r = who
        .client
        .post(app.url("/api/attachments"))
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let v: Value = r.json().await.unwrap();
    (
        v[0]["id"].as_i64().unwrap(),
        v[0]["url"].as_str().unwrap().to_owned(),
    )
}

async fn attachment_rows(app: &TestApp) -> String {
    format!(
        "{:?}",
        message_attachments::Entity::find()
            .order_by_asc(message_attachments::Column::Id)
            .all(&app.db)
            .await
            .unwrap()
    )
}

db_test!(
    attachments_answer_outsiders_like_ids_that_do_not_exist,
    |app| {
        let owner = app.user("Olga Owner").await;
        let member = app.user("Marek Member").await;
        let stranger = app.user("Sylwia Stranger").await;
        let g = app.conversation(&owner, &[&member], Some("Grupa")).await;
        let (sent, url) = upload_png(&app, &owner).await;
        let r = app
            .post(
                &owner,
                &format!("/api/conversations/{}/messages", g.id),
                json!({ "content": "zdjęcie", "attachment_ids": [sent] }),
            )
            .await;
        assert_eq!(r.status(), 201);
        assert_eq!(app.get(&member, &url).await.status(), 200);
        let missing = not_found(app.get(&stranger, "/api/attachments/999999").await).await;
        let missing_thumb = not_found(
            app.get(&stranger, "/api/attachments/999999/thumbnail")
                .await,
        )
        .await;
        assert_eq!(not_found(app.get(&stranger, &url).await).await, missing);
        assert_eq!(
            not_found(app.get(&stranger, &format!("{url}/thumbnail")).await).await,
            missing_thumb
        );

        // Uploading is anyone's, but sending into a conversation one is not
        // in is the usual 404, and nothing is attached.
        // (Text: no thumbnail is made in the background meanwhile.)
        let (own, _) = upload(&app, &stranger, "notatka.txt", b"moje".to_vec()).await;
        let before = (snapshot(&app).await, attachment_rows(&app).await);
        let r = app
            .post(
                &stranger,
                &format!("/api/conversations/{}/messages", g.id),
                json!({ "content": "wpycham się", "attachment_ids": [own] }),
            )
            .await;
        let into_group = not_found(r).await;
        let r = app
            .post(
                &stranger,
                "/api/conversations/999999/messages",
                json!({ "content": "wpycham się", "attachment_ids": [own] }),
            )
            .await;
        assert_eq!(not_found(r).await, into_group);
        // A member cannot send someone else's upload.
        let r = app
            .post(
                &member,
                &format!("/api/conversations/{}/messages", g.id),
                json!({ "content": "cudze", "attachment_ids": [own] }),
            )
            .await;
        crate::helpers::assert_problem(r, 422, "validation_failed").await;
        assert_eq!((snapshot(&app).await, attachment_rows(&app).await), before);
    }
);

db_test!(
    search_pins_and_forward_answer_outsiders_like_things_that_do_not_exist,
    |app| {
        let owner = app.user("Olga Owner").await;
        let member = app.user("Marek Member").await;
        let stranger = app.user("Sylwia Stranger").await;
        let g = app.conversation(&owner, &[&member], Some("Grupa")).await;
        let msg = app.send(&owner, g.id, "tajemnica firmy").await;
        let r = app
            .post(&owner, &format!("/api/messages/{}/pin", msg.id), json!({}))
            .await;
        assert!(r.status().is_success());
        let own = app.conversation(&stranger, &[&member], None).await;
        let own_msg = app.send(&stranger, own.id, "moja").await;
        // A conversation the member is not in.
        let mine_only = app.conversation(&owner, &[&stranger], None).await;
        let before = snapshot(&app).await;

        let get = |path: String| {
            let c = stranger.client.clone();
            let url = app.url(&path);
            async move { not_found(c.get(url).send().await.unwrap()).await }
        };
        // Search and pins of the group, as for a conversation that does not exist.
        assert_eq!(
            get(format!(
                "/api/conversations/{}/messages/search?q=tajemnica",
                g.id
            ))
            .await,
            get("/api/conversations/999999/messages/search?q=tajemnica".into()).await
        );
        assert_eq!(
            get(format!("/api/conversations/{}/pins", g.id)).await,
            get("/api/conversations/999999/pins".into()).await
        );
        // Forwarding out of the group, as a message that does not exist.
        let forward = |who: &TestUser, id: i64, to: i64| {
            let c = who.client.clone();
            let url = app.url(&format!("/api/messages/{id}/forward"));
            async move {
                let r = c
                    .post(url)
                    .json(&json!({ "conversation_id": to }))
                    .send()
                    .await
                    .unwrap();
                not_found(r).await
            }
        };
        assert_eq!(
            forward(&stranger, msg.id, own.id).await,
            forward(&stranger, 999_999, own.id).await
        );
        // Forwarding into the group (or into anyone's conversation one is
        // not in), as into one that does not exist.
        let into_missing = forward(&stranger, own_msg.id, 999_999).await;
        assert_eq!(forward(&stranger, own_msg.id, g.id).await, into_missing);
        assert_eq!(forward(&member, msg.id, mine_only.id).await, into_missing);
        assert_eq!(snapshot(&app).await, before, "nothing changed");
        // The search found it for members all along.
        let r = app
            .get(
                &member,
                &format!("/api/conversations/{}/messages/search?q=tajemnica", g.id),
            )
            .await;
        assert_eq!(r.status(), 200);
    }
);

db_test!(presence_is_answered_only_for_contacts, |app| {
    let owner = app.user("Olga Owner").await;
    let member = app.user("Marek Member").await;
    let stranger = app.user("Sylwia Stranger").await;
    app.conversation(&owner, &[&member], Some("Grupa")).await;
    let ask = |who: &TestUser, ids: String| {
        let c = who.client.clone();
        let url = app.url(&format!("/api/users/presence?{ids}"));
        async move {
            let r = c.get(url).send().await.unwrap();
            assert_eq!(r.status(), 200);
            let v: Vec<shared::dto::users::PresenceDto> = r.json().await.unwrap();
            v.into_iter().map(|p| p.user_id).collect::<Vec<_>>()
        }
    };
    let all = format!(
        "ids={}&ids={}&ids={}&ids=999999&ids=0&ids=-1&ids=9223372036854775807&ids={}",
        owner.id, member.id, stranger.id, owner.id
    );
    // A stranger learns about themselves only.
    assert_eq!(ask(&stranger, all.clone()).await, vec![stranger.id]);
    // Members see each other (duplicates are harmless).
    let seen = ask(&member, all).await;
    assert!(seen.contains(&owner.id) && seen.contains(&member.id));
    assert!(!seen.contains(&stranger.id), "{seen:?}");
});

rt_test!(a_non_members_stream_never_sees_the_conversation, |app| {
    let owner = app.user("Olga Owner").await;
    let member = app.user("Marek Member").await;
    let extra = app.user("Ewa Extra").await;
    let stranger = app.user("Sylwia Stranger").await;
    let g = app.conversation(&owner, &[&member], Some("Grupa")).await;
    let mut outsider = stream(&app, &stranger, None).await;
    let mut inside = stream(&app, &member, None).await;

    let m = app.send(&owner, g.id, "w grupie").await;
    let base = format!("/api/messages/{}", m.id);
    let cid = g.id;
    let (att, _) = upload(&app, &owner, "plik.txt", b"plik".to_vec()).await;
    let steps: Vec<(&str, String, Value)> = vec![
        ("PATCH", base.clone(), json!({"content": "poprawione"})),
        ("POST", format!("{base}/reactions"), json!({"emoji": "👍"})),
        ("POST", format!("{base}/pin"), json!({})),
        ("DELETE", format!("{base}/pin"), json!({})),
        (
            "POST",
            format!("/api/conversations/{cid}/typing"),
            json!({}),
        ),
        ("POST", format!("/api/conversations/{cid}/read"), json!({})),
        (
            "PATCH",
            format!("/api/conversations/{cid}"),
            json!({"name": "Nowa"}),
        ),
        (
            "POST",
            format!("/api/conversations/{cid}/members"),
            json!({"user_ids": [extra.id]}),
        ),
        (
            "DELETE",
            format!("/api/conversations/{cid}/members/{}", extra.id),
            json!({}),
        ),
        (
            "POST",
            format!("/api/conversations/{cid}/messages"),
            json!({"content": "z załącznikiem", "attachment_ids": [att]}),
        ),
        ("DELETE", base.clone(), json!({})),
        ("DELETE", format!("/api/conversations/{cid}"), json!({})),
    ];
    for (method, path, body) in steps {
        let url = app.url(&path);
        let c = &owner.client;
        let req = match method {
            "POST" => c.post(url).json(&body),
            "PATCH" => c.patch(url).json(&body),
            _ => c.delete(url),
        };
        let r = req.send().await.unwrap();
        assert!(r.status().is_success(), "{method} {path}: {}", r.status());
    }
    // The member heard every step (the owner reading sends nothing) …
    let mut kinds = Vec::new();
    while kinds.last().map(String::as_str) != Some("conversation_deleted") {
        let f = inside.next_non_presence().await;
        kinds.push(f.event.unwrap_or_default());
    }
    assert_eq!(
        kinds,
        [
            "new_message",
            "message_edited",
            "reaction",
            "message_pinned",
            "message_unpinned",
            "typing",
            "conversation_updated",
            "member_added",
            "member_removed",
            "new_message",
            "message_deleted",
            "conversation_deleted",
        ]
    );
    // … and the stranger nothing at all.
    outsider.assert_quiet(Duration::from_millis(500)).await;
});

rt_test!(
    a_removed_member_loses_access_at_once_including_the_open_stream,
    |app| {
        let owner = app.user("Olga Owner").await;
        let member = app.user("Marek Member").await;
        let removed = app.user("Rafał Removed").await;
        let g = app
            .conversation(&owner, &[&member, &removed], Some("Grupa"))
            .await;
        // Text: no thumbnail (and no `message_edited` for it) comes later.
        let (att, url) = upload(&app, &owner, "plik.txt", b"plik".to_vec()).await;
        let r = app
            .post(
                &owner,
                &format!("/api/conversations/{}/messages", g.id),
                json!({ "content": "plik", "attachment_ids": [att] }),
            )
            .await;
        assert_eq!(r.status(), 201);
        let m: shared::dto::messages::MessageDto = r.json().await.unwrap();
        assert_eq!(app.get(&removed, &url).await.status(), 200);
        let mut rs = stream(&app, &removed, None).await;
        let mut ms = stream(&app, &member, None).await;
        let r = app
            .delete(
                &owner,
                &format!("/api/conversations/{}/members/{}", g.id, removed.id),
            )
            .await;
        assert_eq!(r.status(), 204);
        let f = rs.next_non_presence().await;
        assert_eq!(f.event.as_deref(), Some("member_removed"));
        assert_eq!(f.json()["user_id"], removed.id);
        assert_eq!(
            ms.next_non_presence().await.event.as_deref(),
            Some("member_removed")
        );
        // The group goes on; the member hears it, the removed one nothing.
        let m2 = app.send(&owner, g.id, "już bez Rafała").await;
        app.post(
            &owner,
            &format!("/api/messages/{}/reactions", m.id),
            json!({"emoji": "✅"}),
        )
        .await;
        app.post(
            &member,
            &format!("/api/conversations/{}/typing", g.id),
            json!({}),
        )
        .await;
        for want in ["new_message", "reaction"] {
            assert_eq!(ms.next_non_presence().await.event.as_deref(), Some(want));
        }
        rs.assert_quiet(Duration::from_millis(500)).await;
        // Every door is shut, the same way as for a stranger.
        let before = snapshot(&app).await;
        for path in [
            format!("/api/conversations/{}", g.id),
            format!("/api/conversations/{}/messages", g.id),
            format!("/api/conversations/{}/messages/search?q=plik", g.id),
            format!("/api/conversations/{}/pins", g.id),
            url.clone(),
        ] {
            assert_eq!(app.get(&removed, &path).await.status(), 404, "{path}");
        }
        let r = app
            .post(
                &removed,
                &format!("/api/conversations/{}/messages", g.id),
                json!({"content": "wracam"}),
            )
            .await;
        assert_eq!(r.status(), 404);
        let r = app
            .post(
                &removed,
                &format!("/api/messages/{}/reactions", m2.id),
                json!({"emoji": "👍"}),
            )
            .await;
        assert_eq!(r.status(), 404);
        assert_eq!(snapshot(&app).await, before);
    }
);

rt_test!(
    a_deactivated_user_loses_access_at_once_including_the_open_stream,
    |app| {
        let anna = app.user("Anna").await;
        let jan = app.user("Jan").await;
        let c = app.conversation(&anna, &[&jan], None).await;
        let (_, token) = app.token_for("jan@firma.pl").await;
        let mut js = stream(&app, &jan, None).await;
        app.send(&anna, c.id, "przed").await;
        assert_eq!(
            js.next_non_presence().await.event.as_deref(),
            Some("new_message")
        );
        // As `messaging user deactivate` does, from outside the server.
        backend::domain::users::deactivate(&app.db, jan.id)
            .await
            .unwrap();
        // Every further request is 401, by cookie or by token.
        let me = app.me(&jan.client).await;
        crate::helpers::assert_problem(me, 401, "unauthenticated").await;
        let r = crate::helpers::bare_client()
            .get(app.url("/api/auth/me"))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        crate::helpers::assert_problem(r, 401, "unauthenticated").await;
        let r = app
            .get(&jan, &format!("/api/conversations/{}/messages", c.id))
            .await;
        crate::helpers::assert_problem(r, 401, "unauthenticated").await;
        let r = app.get(&jan, "/api/messages/stream").await;
        crate::helpers::assert_problem(r, 401, "unauthenticated").await;
        // The stream that was open is ended by the server.
        app.send(&anna, c.id, "po").await;
        js.assert_closed(Duration::from_secs(10)).await;
    }
);

rt_test!(
    logging_out_or_revoking_a_token_ends_the_streams_it_opened,
    |app| {
        let anna = app.user("Anna").await;
        let jan = app.user("Jan").await;
        let c = app.conversation(&anna, &[&jan], None).await;
        // Jan on a second device (another session) and in a script (a token).
        let laptop = crate::helpers::browser_client();
        let r = app
            .login_with(&laptop, "jan@firma.pl", "haslo-testowe-1")
            .await;
        assert_eq!(r.status(), 200);
        let (token_id, token) = app.token_for("jan@firma.pl").await;
        let mut headers = reqwest::header::HeaderMap::new();
        headers.insert(
            reqwest::header::AUTHORIZATION,
            format!("Bearer {token}").parse().unwrap(),
        );
        let script = reqwest::Client::builder()
            .default_headers(headers)
            .build()
            .unwrap();
        let as_jan = |client: reqwest::Client| TestUser {
            id: jan.id,
            name: jan.name.clone(),
            client,
        };
        let mut phone_s = stream(&app, &jan, None).await;
        let mut laptop_s = stream(&app, &as_jan(laptop), None).await;
        let mut script_s = stream(&app, &as_jan(script), None).await;

        // Logging out on the phone ends the phone's stream only.
        let r = app.post(&jan, "/api/auth/logout", json!({})).await;
        assert_eq!(r.status(), 204);
        phone_s.assert_closed(Duration::from_secs(10)).await;
        let m = app.send(&anna, c.id, "do laptopa i skryptu").await;
        for s in [&mut laptop_s, &mut script_s] {
            let f = s.next_non_presence().await;
            assert_eq!(f.json()["message"]["id"], m.id);
        }
        // Revoking the token (as `messaging token revoke`) ends the script's.
        backend::auth::api_tokens::revoke(&app.db, jan.id, token_id)
            .await
            .unwrap();
        script_s.assert_closed(Duration::from_secs(10)).await;
        let m = app.send(&anna, c.id, "tylko do laptopa").await;
        let f = laptop_s.next_non_presence().await;
        assert_eq!(f.json()["message"]["id"], m.id);
    }
);
