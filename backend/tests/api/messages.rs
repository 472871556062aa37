//! Messages: paging, sending (validation, replies, idempotency, events),
//! editing, deleting, forwarding, search.

use serde_json::json;
use shared::Event;
use shared::dto::messages::{MessageDto, MessagePage};

use crate::db_test;
use crate::helpers::{TestApp, TestUser, assert_problem};

async fn page(app: &TestApp, who: &TestUser, cid: i64, query: &str) -> MessagePage {
    let r = app
        .get(who, &format!("/api/conversations/{cid}/messages{query}"))
        .await;
    assert_eq!(r.status(), 200);
    r.json().await.unwrap()
}

db_test!(pages_newest_first_before_and_oldest_first_after, |app| {
    let anna = app.user("Anna").await;
    let jan = app.user("Jan").await;
    let c = app.conversation(&anna, &[&jan], None).await;
    let mut ids = Vec::new();
    for i in 0..7 {
        ids.push(app.send(&anna, c.id, &format!("m{i}")).await.id);
    }
    let p = page(&app, &jan, c.id, "?limit=3").await;
    let got: Vec<i64> = p.items.iter().map(|m| m.id).collect();
    assert_eq!(got, [ids[6], ids[5], ids[4]]);
    assert!(p.has_more);
    let p = page(&app, &jan, c.id, &format!("?limit=3&before_id={}", ids[4])).await;
    let got: Vec<i64> = p.items.iter().map(|m| m.id).collect();
    assert_eq!(got, [ids[3], ids[2], ids[1]]);
    let p = page(&app, &jan, c.id, &format!("?limit=3&before_id={}", ids[1])).await;
    assert_eq!(p.items.len(), 1);
    assert!(!p.has_more);
    let p = page(&app, &jan, c.id, &format!("?after_id={}&limit=2", ids[1])).await;
    let got: Vec<i64> = p.items.iter().map(|m| m.id).collect();
    assert_eq!(got, [ids[2], ids[3]]);
    assert!(p.has_more);
    let p = page(&app, &jan, c.id, "").await;
    assert_eq!(p.items.len(), 7, "default limit 50");
    for q in [
        "?limit=0",
        "?limit=101",
        "?limit=x",
        "?before_id=1&after_id=2",
        "?bogus=1",
    ] {
        let r = app
            .get(&jan, &format!("/api/conversations/{}/messages{q}", c.id))
            .await;
        assert_problem(r, 422, "validation_failed").await;
    }
});

db_test!(send_returns_the_full_message_and_publishes_it, |app| {
    let anna = app.user("Anna").await;
    let jan = app.user("Jan").await;
    let c = app.conversation(&anna, &[&jan], None).await;
    let mut rx = app.state.bus.subscribe(jan.id);
    let m = app
        .send(
            &anna,
            c.id,
            "Cześć **Janie**, zobacz https://example.pl <script>x</script>",
        )
        .await;
    assert_eq!(m.conversation_id, c.id);
    assert_eq!(m.sender.as_ref().unwrap().name, "Anna");
    assert!(m.content.as_deref().unwrap().starts_with("Cześć **Janie**"));
    let html = m.content_html.clone().unwrap();
    assert!(html.contains("<strong>Janie</strong>"), "{html}");
    assert!(html.contains("href=\"https://example.pl\""), "{html}");
    assert!(!html.contains("<script"), "{html}");
    assert!(!m.is_deleted && !m.is_forwarded && m.edited_at.is_none());
    let ev = rx.recv().await.unwrap();
    match &ev.event() {
        Event::NewMessage { message } => assert_eq!(message.id, m.id),
        other => panic!("unexpected {other:?}"),
    }
    let stored = page(&app, &jan, c.id, "").await;
    assert_eq!(
        stored.items[0],
        MessageDto {
            client_id: None,
            ..m
        }
    );
});

db_test!(bad_messages_are_refused_and_nothing_is_stored, |app| {
    let anna = app.user("Anna").await;
    let jan = app.user("Jan").await;
    let c = app.conversation(&anna, &[&jan], None).await;
    let other = app
        .conversation(&anna, &[&app.user("Ola").await], None)
        .await;
    let foreign = app.send(&anna, other.id, "gdzie indziej").await;
    let path = format!("/api/conversations/{}/messages", c.id);
    for (body, field) in [
        (json!({ "content": "" }), "content"),
        (json!({ "content": "   \n " }), "content"),
        (json!({ "content": "x".repeat(10_001) }), "content"),
        (
            json!({ "content": "x", "reply_to_id": foreign.id }),
            "reply_to_id",
        ),
        (
            json!({ "content": "x", "reply_to_id": 999999 }),
            "reply_to_id",
        ),
        (
            json!({ "content": "x", "client_id": "not-a-uuid" }),
            "client_id",
        ),
        (
            json!({ "content": "x", "attachment_ids": [123] }),
            "attachment_ids",
        ),
        (json!({ "content": 5 }), "content"),
    ] {
        let r = app.post(&anna, &path, body.clone()).await;
        let p = assert_problem(r, 422, "validation_failed").await;
        assert_eq!(p.errors[0].field, field, "{body}");
    }
    let r = anna
        .client
        .post(app.url(&path))
        .header("content-type", "application/json")
        .body("{\"content\":")
        .send()
        .await
        .unwrap();
    assert_problem(r, 400, "malformed_body").await;
    // 10,000 characters is fine (Polish letters count as one).
    let r = app
        .post(&anna, &path, json!({ "content": "ż".repeat(10_000) }))
        .await;
    assert_eq!(r.status(), 201);
    assert_eq!(
        app.scalar_i64(&format!(
            "SELECT COUNT(*) FROM conv_messages WHERE conversation_id = {}",
            c.id
        ))
        .await,
        1
    );
});

db_test!(
    a_retried_send_with_the_same_client_id_is_not_duplicated,
    |app| {
        let anna = app.user("Anna").await;
        let jan = app.user("Jan").await;
        let c = app.conversation(&anna, &[&jan], None).await;
        let path = format!("/api/conversations/{}/messages", c.id);
        let body = json!({ "content": "raz", "client_id": "67e55044-10b1-426f-9247-bb680e5fe0c8" });
        let first = app.post(&anna, &path, body.clone()).await;
        assert_eq!(first.status(), 201);
        let first: MessageDto = first.json().await.unwrap();
        let second = app.post(&anna, &path, body).await;
        assert_eq!(second.status(), 200);
        let second: MessageDto = second.json().await.unwrap();
        assert_eq!(first.id, second.id);
        assert_eq!(
            app.scalar_i64("SELECT COUNT(*) FROM conv_messages").await,
            1
        );
        // Concurrent retries too.
        let body = json!({ "content": "dwa", "client_id": "0f8fad5b-d9cb-469f-a165-70867728950e" });
        let (a, b, c2) = tokio::join!(
            app.post(&anna, &path, body.clone()),
            app.post(&anna, &path, body.clone()),
            app.post(&anna, &path, body.clone())
        );
        for r in [a, b, c2] {
            assert!(r.status().is_success(), "{}", r.status());
        }
        assert_eq!(
            app.scalar_i64("SELECT COUNT(*) FROM conv_messages").await,
            2
        );
    }
);

db_test!(replies_show_a_preview_of_the_original, |app| {
    let anna = app.user("Anna").await;
    let jan = app.user("Jan").await;
    let c = app.conversation(&anna, &[&jan], None).await;
    let orig = app.send(&anna, c.id, "Pytanie: **kiedy** spotkanie?").await;
    let r = app
        .post(
            &jan,
            &format!("/api/conversations/{}/messages", c.id),
            json!({ "content": "Jutro", "reply_to_id": orig.id }),
        )
        .await;
    let reply: MessageDto = r.json().await.unwrap();
    let rt = reply.reply_to.unwrap();
    assert_eq!(rt.id, orig.id);
    assert_eq!(rt.sender_name.as_deref(), Some("Anna"));
    assert_eq!(rt.preview, "Pytanie: kiedy spotkanie?");
    app.delete(&anna, &format!("/api/messages/{}", orig.id))
        .await;
    let p = page(&app, &jan, c.id, "").await;
    let rt = p.items[0].reply_to.clone().unwrap();
    assert!(rt.is_deleted && rt.preview.is_empty());
});

db_test!(edit_own_message_within_24_hours_only, |app| {
    let anna = app.user("Anna").await;
    let jan = app.user("Jan").await;
    let c = app.conversation(&anna, &[&jan], None).await;
    let m = app.send(&anna, c.id, "literówka").await;
    let path = format!("/api/messages/{}", m.id);
    let mut rx = app.state.bus.subscribe(jan.id);
    let r = app
        .patch(&anna, &path, json!({ "content": "*poprawione*" }))
        .await;
    assert_eq!(r.status(), 200);
    let e: MessageDto = r.json().await.unwrap();
    assert_eq!(e.content.as_deref(), Some("*poprawione*"));
    assert_eq!(
        e.content_html.as_deref(),
        Some("<p><em>poprawione</em></p>")
    );
    assert!(e.edited_at.is_some());
    assert!(matches!(
        rx.recv().await.unwrap().event(),
        Event::MessageEdited { .. }
    ));
    // Someone else's message.
    let r = app.patch(&jan, &path, json!({ "content": "cudze" })).await;
    assert_problem(r, 403, "forbidden").await;
    // Empty content.
    let r = app.patch(&anna, &path, json!({ "content": "  " })).await;
    assert_problem(r, 422, "validation_failed").await;
    // After 24 hours.
    app.exec(&format!(
        "UPDATE conv_messages SET created_at = '2020-01-01T00:00:00Z' WHERE id = {}",
        m.id
    ))
    .await;
    let r = app
        .patch(&anna, &path, json!({ "content": "za późno" }))
        .await;
    assert_problem(r, 403, "edit_window_closed").await;
    let p = page(&app, &anna, c.id, "").await;
    assert_eq!(p.items[0].content.as_deref(), Some("*poprawione*"));
});

db_test!(
    delete_leaves_a_placeholder_and_group_owners_may_moderate,
    |app| {
        let anna = app.user("Anna").await;
        let jan = app.user("Jan").await;
        let ola = app.user("Ola").await;
        let g = app.conversation(&anna, &[&jan, &ola], Some("Grupa")).await;
        let mj = app.send(&jan, g.id, "od Jana").await;
        let mo = app.send(&ola, g.id, "od Oli").await;
        // A member cannot delete another's message.
        let r = app.delete(&jan, &format!("/api/messages/{}", mo.id)).await;
        assert_problem(r, 403, "forbidden").await;
        let mut rx = app.state.bus.subscribe(ola.id);
        assert_eq!(
            app.delete(&jan, &format!("/api/messages/{}", mj.id))
                .await
                .status(),
            204
        );
        assert_eq!(
            rx.recv().await.unwrap().event(),
            Event::MessageDeleted {
                conversation_id: g.id,
                message_id: mj.id
            }
        );
        // The owner may delete anyone's.
        assert_eq!(
            app.delete(&anna, &format!("/api/messages/{}", mo.id))
                .await
                .status(),
            204
        );
        let p = page(&app, &ola, g.id, "").await;
        for m in &p.items {
            assert!(m.is_deleted);
            assert!(m.content.is_none() && m.content_html.is_none() && m.reactions.is_empty());
        }
        // The content is gone from the database, not only hidden.
        let n = app
            .scalar_i64("SELECT COUNT(*) FROM conv_messages WHERE content <> ''")
            .await;
        assert_eq!(n, 0);
        // Unread counts skip deleted messages; the list marks the last one deleted.
        let r = app.get(&ola, "/api/conversations").await;
        let list: shared::dto::conversations::ConversationPage = r.json().await.unwrap();
        assert!(list.items[0].last_message.as_ref().unwrap().is_deleted);
        // Deleting twice is fine; editing a deleted message is not found.
        assert_eq!(
            app.delete(&jan, &format!("/api/messages/{}", mj.id))
                .await
                .status(),
            204
        );
        let r = app
            .patch(
                &jan,
                &format!("/api/messages/{}", mj.id),
                json!({ "content": "x" }),
            )
            .await;
        assert_problem(r, 404, "not_found").await;
    }
);

db_test!(forward_copies_into_a_conversation_of_mine, |app| {
    let anna = app.user("Anna").await;
    let jan = app.user("Jan").await;
    let ola = app.user("Ola").await;
    let c1 = app.conversation(&anna, &[&jan], None).await;
    let c2 = app.conversation(&anna, &[&ola], None).await;
    let c3 = app.conversation(&jan, &[&ola], None).await;
    let m = app.send(&jan, c1.id, "warto przeczytać").await;
    let r = app
        .post(
            &anna,
            &format!("/api/messages/{}/forward", m.id),
            json!({ "conversation_id": c2.id }),
        )
        .await;
    assert_eq!(r.status(), 201);
    let f: MessageDto = r.json().await.unwrap();
    assert!(f.is_forwarded);
    assert_eq!(f.conversation_id, c2.id);
    assert_eq!(f.sender.unwrap().id, anna.id);
    assert_eq!(f.content.as_deref(), Some("warto przeczytać"));
    // Not into a conversation I am not in: the same 404 as for one that
    // does not exist.
    let r = app
        .post(
            &anna,
            &format!("/api/messages/{}/forward", m.id),
            json!({ "conversation_id": c3.id }),
        )
        .await;
    assert_problem(r, 404, "not_found").await;
    let r = app
        .post(&anna, &format!("/api/messages/{}/forward", m.id), json!({}))
        .await;
    assert_problem(r, 422, "validation_failed").await;
});

db_test!(
    search_is_case_insensitive_for_polish_and_skips_deleted,
    |app| {
        let anna = app.user("Anna").await;
        let jan = app.user("Jan").await;
        let c = app.conversation(&anna, &[&jan], None).await;
        let a = app.send(&anna, c.id, "Żółta Łódź przypłynęła").await;
        let b = app.send(&jan, c.id, "widzę żółtą łódź").await;
        let gone = app.send(&jan, c.id, "ŻÓŁTA tajemnica").await;
        app.send(&jan, c.id, "100% pewne_").await;
        app.delete(&jan, &format!("/api/messages/{}", gone.id))
            .await;
        let search = |q: &str| {
            let path = format!("/api/conversations/{}/messages/search?q={}", c.id, q);
            let client = anna.client.clone();
            let url = app.url(&path);
            async move { client.get(url).send().await.unwrap() }
        };
        let r: MessagePage = search("%C5%81%C3%93D%C5%B9").await.json().await.unwrap(); // ŁÓDŹ
        let ids: Vec<i64> = r.items.iter().map(|m| m.id).collect();
        assert_eq!(ids, [b.id, a.id]);
        let r: MessagePage = search("%C5%BC%C3%B3%C5%82t").await.json().await.unwrap(); // żółt
        assert_eq!(r.items.len(), 2, "deleted message skipped");
        // LIKE wildcards are literal.
        let r: MessagePage = search("%25").await.json().await.unwrap();
        assert_eq!(r.items.len(), 1);
        let r: MessagePage = search("e_").await.json().await.unwrap();
        assert_eq!(r.items.len(), 1);
        let r: MessagePage = search(&format!("%C5%BC&before_id={}", b.id))
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(r.items.iter().map(|m| m.id).collect::<Vec<_>>(), [a.id]);
        assert_problem(search("").await, 422, "validation_failed").await;
        assert_problem(search(&"a".repeat(201)).await, 422, "validation_failed").await;
    }
);

db_test!(
    messages_page_and_send_run_a_bounded_number_of_statements,
    |app| {
        let anna = app.user("Anna").await;
        let jan = app.user("Jan").await;
        let c = app.conversation(&anna, &[&jan], None).await;
        let first = app.send(&anna, c.id, "a").await;
        let r = app
            .post(
                &jan,
                &format!("/api/conversations/{}/messages", c.id),
                json!({ "content": "re", "reply_to_id": first.id }),
            )
            .await;
        assert_eq!(r.status(), 201);
        let before = app.statements();
        page(&app, &jan, c.id, "").await;
        let small = app.statements() - before;
        for i in 0..30 {
            let r = app
                .post(
                    &jan,
                    &format!("/api/conversations/{}/messages", c.id),
                    json!({ "content": format!("odp {i}"), "reply_to_id": first.id }),
                )
                .await;
            assert_eq!(r.status(), 201);
        }
        let before = app.statements();
        let p = page(&app, &jan, c.id, "").await;
        let big = app.statements() - before;
        assert_eq!(p.items.len(), 32);
        assert_eq!(small, big, "2 vs 32 messages");
        assert!(big <= 8, "{big}");
        // Sending costs the same whatever the group size.
        let before = app.statements();
        app.send(&anna, c.id, "x").await;
        let send_small = app.statements() - before;
        let mut many = Vec::new();
        for i in 0..10 {
            many.push(app.user(&format!("M{i}")).await);
        }
        let refs: Vec<&TestUser> = many.iter().collect();
        let g = app.conversation(&anna, &refs, None).await;
        let before = app.statements();
        app.send(&anna, g.id, "do wszystkich").await;
        let send_big = app.statements() - before;
        assert_eq!(send_small, send_big);
        // The session with its user, then on PostgreSQL one statement
        // (`send::store`); on SQLite the members and four writes.
        let bound = match app.db.get_database_backend() {
            sea_orm::DatabaseBackend::Postgres => 2,
            _ => 6,
        };
        assert!(send_big <= bound, "{send_big}");
    }
);

db_test!(
    sending_queues_one_email_per_recipient_and_conversation,
    |app| {
        let anna = app.user("Anna").await;
        let jan = app.user("Jan").await;
        let ola = app.user("Ola").await;
        let piotr = app.user("Piotr").await;
        let g = app
            .conversation(&anna, &[&jan, &ola, &piotr], Some("Zespół"))
            .await;
        // Ola muted the group; Piotr does not want e-mails.
        app.patch(
            &ola,
            &format!("/api/conversations/{}/settings", g.id),
            json!({ "is_muted": true }),
        )
        .await;
        app.exec(&format!(
            "UPDATE users SET notify_email_messages = false WHERE id = {}",
            piotr.id
        ))
        .await;
        app.send(&anna, g.id, "pierwsza").await;
        app.send(&anna, g.id, "druga").await;
        app.send(&jan, g.id, "odpowiedź Jana").await;
        let rows = app
        .scalar_i64(&format!(
            "SELECT COUNT(*) FROM email_outbox WHERE conversation_id = {} AND kind = 'new_messages'",
            g.id
        ))
        .await;
        assert_eq!(rows, 2, "one for Jan (from Anna), one for Anna (from Jan)");
        for (uid, n) in [(jan.id, 1), (anna.id, 1), (ola.id, 0), (piotr.id, 0)] {
            let got = app
                .scalar_i64(&format!(
                    "SELECT COUNT(*) FROM email_outbox WHERE user_id = {uid}"
                ))
                .await;
            assert_eq!(got, n, "user {uid}");
        }
    }
);
