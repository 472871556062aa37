//! Conversations: listing, 1:1 and groups, details, group settings,
//! members, per-member settings, read position and unread counts.

use serde_json::json;
use shared::Event;
use shared::dto::conversations::{ConversationDetail, ConversationPage, ReadState, Role};

use crate::db_test;
use crate::helpers::{TestApp, TestUser, assert_problem};

async fn list(app: &TestApp, who: &TestUser, query: &str) -> ConversationPage {
    let r = app.get(who, &format!("/api/conversations{query}")).await;
    assert_eq!(r.status(), 200);
    r.json().await.unwrap()
}

db_test!(one_to_one_is_unique_and_named_after_the_other, |app| {
    let anna = app.user("Anna Nowak").await;
    let jan = app.user("Jan Kowalski").await;
    let r = app
        .post(
            &anna,
            "/api/conversations",
            json!({ "member_ids": [jan.id] }),
        )
        .await;
    assert_eq!(r.status(), 201);
    let c: ConversationDetail = r.json().await.unwrap();
    assert!(!c.is_group);
    assert_eq!(c.name, "Jan Kowalski");
    assert_eq!(c.owner_id, None);
    // The same pair again, from either side: the same conversation, 200.
    let again = app
        .post(
            &jan,
            "/api/conversations",
            json!({ "member_ids": [anna.id] }),
        )
        .await;
    assert_eq!(again.status(), 200);
    let again: ConversationDetail = again.json().await.unwrap();
    assert_eq!(again.id, c.id);
    assert_eq!(again.name, "Anna Nowak");
    assert_eq!(
        app.scalar_i64("SELECT COUNT(*) FROM conversations").await,
        1
    );
});

db_test!(
    group_creator_is_owner_and_unnamed_groups_list_names,
    |app| {
        let anna = app.user("Anna").await;
        let others = [
            app.user("Bartek").await,
            app.user("Celina").await,
            app.user("Darek").await,
            app.user("Ewa").await,
            app.user("Filip").await,
        ];
        let refs: Vec<&TestUser> = others.iter().collect();
        let g = app.conversation(&anna, &refs, None).await;
        assert!(g.is_group);
        assert_eq!(g.role, Role::Owner);
        assert_eq!(g.owner_id, Some(anna.id));
        assert_eq!(g.members.len(), 6);
        assert_eq!(g.name, "Bartek, Celina, Darek +2");
        let named = app.conversation(&anna, &refs[..1], Some("Zarząd")).await;
        assert!(
            named.is_group,
            "a name makes a group even with one other member"
        );
        assert_eq!(named.name, "Zarząd");
    }
);

db_test!(
    unknown_or_deactivated_members_are_422_and_nothing_is_created,
    |app| {
        let anna = app.user("Anna").await;
        let jan = app.user("Jan").await;
        backend::domain::users::deactivate(&app.db, jan.id)
            .await
            .unwrap();
        for body in [
            json!({ "member_ids": [jan.id] }),
            json!({ "member_ids": [999999] }),
            json!({ "member_ids": [] }),
            json!({ "member_ids": [anna.id] }),
            json!({ "member_ids": "x" }),
            json!({ "member_ids": [1], "name": "x".repeat(201) }),
        ] {
            let r = app.post(&anna, "/api/conversations", body.clone()).await;
            let p = assert_problem(r, 422, "validation_failed").await;
            assert!(!p.errors.is_empty(), "{body}");
        }
        assert_eq!(
            app.scalar_i64("SELECT COUNT(*) FROM conversations").await,
            0
        );
    }
);

db_test!(list_orders_by_activity_counts_unread_and_previews, |app| {
    let anna = app.user("Anna").await;
    let jan = app.user("Jan").await;
    let ola = app.user("Ola").await;
    let c1 = app.conversation(&anna, &[&jan], None).await;
    let c2 = app.conversation(&anna, &[&ola], None).await;
    app.send(&jan, c1.id, "pierwsza").await;
    app.send(&jan, c1.id, "druga **wiadomość**").await;
    app.send(&ola, c2.id, "od Oli").await;
    let page = list(&app, &anna, "").await;
    let ids: Vec<i64> = page.items.iter().map(|c| c.id).collect();
    assert_eq!(ids, [c2.id, c1.id], "most recently active first");
    let s1 = &page.items[1];
    assert_eq!(s1.unread_count, 2);
    let last = s1.last_message.as_ref().unwrap();
    assert_eq!(last.preview, "druga wiadomość");
    assert_eq!(last.sender.as_ref().unwrap().name, "Jan");
    assert_eq!(s1.members.len(), 2);
    // My own messages are never unread for me; for Jan nothing is unread.
    let jp = list(&app, &jan, "").await;
    assert_eq!(jp.items[0].unread_count, 0);
    // A reply moves c1 to the top.
    app.send(&anna, c1.id, "odpowiedź").await;
    let page = list(&app, &anna, "").await;
    assert_eq!(page.items[0].id, c1.id);
    assert_eq!(
        page.items[0].unread_count, 0,
        "sending reads up to my message"
    );
});

db_test!(list_pages_with_a_cursor_without_gaps_or_repeats, |app| {
    let anna = app.user("Anna").await;
    let mut expected = Vec::new();
    for i in 0..7 {
        let u = app.user(&format!("User{i}")).await;
        let c = app.conversation(&anna, &[&u], None).await;
        expected.push(c.id);
    }
    expected.reverse();
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let q = match &cursor {
            Some(c) => format!("?limit=3&cursor={}", urlencode(c)),
            None => "?limit=3".into(),
        };
        let page = list(&app, &anna, &q).await;
        seen.extend(page.items.iter().map(|c| c.id));
        match page.next_cursor {
            Some(c) => cursor = Some(c),
            None => break,
        }
    }
    assert_eq!(seen, expected);
    let r = app.get(&anna, "/api/conversations?cursor=garbage").await;
    assert_problem(r, 422, "validation_failed").await;
    let r = app.get(&anna, "/api/conversations?limit=0").await;
    assert_problem(r, 422, "validation_failed").await;
    let r = app.get(&anna, "/api/conversations?limit=101").await;
    assert_problem(r, 422, "validation_failed").await;
});

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

db_test!(
    archive_hides_until_a_new_message_and_mute_is_per_member,
    |app| {
        let anna = app.user("Anna").await;
        let jan = app.user("Jan").await;
        let c = app.conversation(&anna, &[&jan], None).await;
        let r = app
            .patch(
                &anna,
                &format!("/api/conversations/{}/settings", c.id),
                json!({ "is_archived": true, "is_muted": true }),
            )
            .await;
        assert_eq!(r.status(), 200);
        let d: ConversationDetail = r.json().await.unwrap();
        assert!(d.is_archived && d.is_muted);
        assert!(list(&app, &anna, "").await.items.is_empty());
        assert_eq!(list(&app, &anna, "?archived=true").await.items.len(), 1);
        // Jan's view is unaffected.
        let j = list(&app, &jan, "").await;
        assert!(!j.items[0].is_muted && !j.items[0].is_archived);
        app.send(&jan, c.id, "hej").await;
        let back = list(&app, &anna, "").await;
        assert_eq!(back.items.len(), 1, "a new message un-archives");
        assert!(back.items[0].is_muted, "mute stays");
        let r = app
            .patch(
                &anna,
                &format!("/api/conversations/{}/settings", c.id),
                json!({ "is_muted": "yes" }),
            )
            .await;
        assert_problem(r, 422, "validation_failed").await;
    }
);

db_test!(read_marks_exactly_and_never_moves_back, |app| {
    let anna = app.user("Anna").await;
    let jan = app.user("Jan").await;
    let c = app.conversation(&anna, &[&jan], None).await;
    let m1 = app.send(&jan, c.id, "1").await;
    let _m2 = app.send(&jan, c.id, "2").await;
    let m3 = app.send(&jan, c.id, "3").await;
    let mut rx = app.state.bus.subscribe(jan.id);
    let path = format!("/api/conversations/{}/read", c.id);
    let r = app.post(&anna, &path, json!({ "message_id": m1.id })).await;
    assert_eq!(r.status(), 200);
    let s: ReadState = r.json().await.unwrap();
    assert_eq!(s.unread_count, 2);
    let ev = rx.recv().await.unwrap();
    assert_eq!(
        ev.event(),
        Event::MessageRead {
            conversation_id: c.id,
            user_id: anna.id,
            last_read_message_id: Some(m1.id)
        }
    );
    // Everything (no body at all).
    let r = anna.client.post(app.url(&path)).send().await.unwrap();
    let s: ReadState = r.json().await.unwrap();
    assert_eq!((s.unread_count, s.last_read_message_id), (0, Some(m3.id)));
    // An older position does not move it back.
    let r = app.post(&anna, &path, json!({ "message_id": m1.id })).await;
    let s: ReadState = r.json().await.unwrap();
    assert_eq!((s.unread_count, s.last_read_message_id), (0, Some(m3.id)));
    assert_eq!(list(&app, &anna, "").await.items[0].unread_count, 0);
    // The details show each member's read position.
    let d: ConversationDetail = app
        .get(&jan, &format!("/api/conversations/{}", c.id))
        .await
        .json()
        .await
        .unwrap();
    let a = d.members.iter().find(|m| m.id == anna.id).unwrap();
    assert_eq!(a.last_read_message_id, Some(m3.id));
    // Bad input.
    let r = app
        .post(&anna, &path, json!({ "message_id": 999999 }))
        .await;
    assert_problem(r, 422, "validation_failed").await;
    let r = anna
        .client
        .post(app.url(&path))
        .header("content-type", "application/json")
        .body("{nope")
        .send()
        .await
        .unwrap();
    assert_problem(r, 400, "malformed_body").await;
});

db_test!(owner_manages_a_group_and_members_cannot, |app| {
    let anna = app.user("Anna").await;
    let jan = app.user("Jan").await;
    let ola = app.user("Ola").await;
    let piotr = app.user("Piotr").await;
    let g = app
        .conversation(&anna, &[&jan, &ola], Some("Projekt"))
        .await;
    let path = format!("/api/conversations/{}", g.id);
    // Rename: owner yes, member no (and nothing changes).
    let r = app.patch(&jan, &path, json!({ "name": "Przejęte" })).await;
    assert_problem(r, 403, "forbidden").await;
    let r = app
        .patch(
            &anna,
            &path,
            json!({ "name": "Projekt X", "description": "Opis" }),
        )
        .await;
    let d: ConversationDetail = r.json().await.unwrap();
    assert_eq!(
        (d.name.as_str(), d.description.as_deref()),
        ("Projekt X", Some("Opis"))
    );
    // Add members: owner only.
    let members = format!("{path}/members");
    let r = app
        .post(&jan, &members, json!({ "user_ids": [piotr.id] }))
        .await;
    assert_problem(r, 403, "forbidden").await;
    let mut rx = app.state.bus.subscribe(piotr.id);
    let r = app
        .post(&anna, &members, json!({ "user_ids": [piotr.id] }))
        .await;
    assert_eq!(r.status(), 200);
    let d: ConversationDetail = r.json().await.unwrap();
    assert_eq!(d.members.len(), 4);
    let ev = rx.recv().await.unwrap();
    assert_eq!(
        ev.event(),
        Event::MemberAdded {
            conversation_id: g.id,
            user_id: piotr.id
        }
    );
    // Remove another member: owner only.
    let r = app.delete(&jan, &format!("{members}/{}", ola.id)).await;
    assert_problem(r, 403, "forbidden").await;
    let r = app.delete(&anna, &format!("{members}/{}", ola.id)).await;
    assert_eq!(r.status(), 204);
    let r = app.get(&ola, &path).await;
    assert_problem(r, 404, "not_found").await;
    // Delete: owner only.
    let r = app.delete(&jan, &path).await;
    assert_problem(r, 403, "forbidden").await;
    let r = app.delete(&anna, &path).await;
    assert_eq!(r.status(), 204);
    assert_problem(app.get(&jan, &path).await, 404, "not_found").await;
    assert_eq!(
        app.scalar_i64("SELECT COUNT(*) FROM conversation_members")
            .await,
        0
    );
});

db_test!(owner_leaving_hands_over_and_last_member_deletes, |app| {
    let anna = app.user("Anna").await;
    let jan = app.user("Jan").await;
    let ola = app.user("Ola").await;
    let g = app.conversation(&anna, &[&jan, &ola], Some("Klub")).await;
    let members = format!("/api/conversations/{}/members", g.id);
    assert_eq!(
        app.delete(&anna, &format!("{members}/{}", anna.id))
            .await
            .status(),
        204
    );
    let d: ConversationDetail = app
        .get(&jan, &format!("/api/conversations/{}", g.id))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        d.owner_id,
        Some(jan.id),
        "the longest-standing member inherits"
    );
    assert_eq!(d.role, Role::Owner);
    assert_eq!(
        app.delete(&ola, &format!("{members}/{}", ola.id))
            .await
            .status(),
        204
    );
    assert_eq!(
        app.delete(&jan, &format!("{members}/{}", jan.id))
            .await
            .status(),
        204
    );
    assert_eq!(
        app.scalar_i64("SELECT COUNT(*) FROM conversations").await,
        0
    );
});

db_test!(one_to_one_cannot_gain_members_or_be_renamed, |app| {
    let anna = app.user("Anna").await;
    let jan = app.user("Jan").await;
    let ola = app.user("Ola").await;
    let c = app.conversation(&anna, &[&jan], None).await;
    let r = app
        .post(
            &anna,
            &format!("/api/conversations/{}/members", c.id),
            json!({ "user_ids": [ola.id] }),
        )
        .await;
    assert_problem(r, 409, "conflict").await;
    let r = app
        .patch(
            &anna,
            &format!("/api/conversations/{}", c.id),
            json!({ "name": "x" }),
        )
        .await;
    assert_problem(r, 409, "conflict").await;
    assert_eq!(
        app.scalar_i64("SELECT COUNT(*) FROM conversation_members")
            .await,
        2
    );
});

db_test!(non_members_get_the_same_404_as_for_nothing, |app| {
    let anna = app.user("Anna").await;
    let jan = app.user("Jan").await;
    let eve = app.user("Ewa").await;
    let c = app.conversation(&anna, &[&jan], None).await;
    let m = app.send(&anna, c.id, "prywatne").await;
    let missing = 987654;
    for id in [c.id, missing] {
        let base = format!("/api/conversations/{id}");
        let checks = vec![
            app.get(&eve, &base).await,
            app.patch(&eve, &base, json!({ "name": "x" })).await,
            app.delete(&eve, &base).await,
            app.post(
                &eve,
                &format!("{base}/members"),
                json!({ "user_ids": [eve.id] }),
            )
            .await,
            app.delete(&eve, &format!("{base}/members/{}", jan.id))
                .await,
            app.patch(
                &eve,
                &format!("{base}/settings"),
                json!({ "is_muted": true }),
            )
            .await,
            app.post(&eve, &format!("{base}/read"), json!({})).await,
            app.get(&eve, &format!("{base}/messages")).await,
            app.get(&eve, &format!("{base}/messages/search?q=pry"))
                .await,
            app.post(
                &eve,
                &format!("{base}/messages"),
                json!({ "content": "hi" }),
            )
            .await,
        ];
        let mut bodies = Vec::new();
        for r in checks {
            let p = assert_problem(r, 404, "not_found").await;
            bodies.push((p.title, p.detail));
        }
        assert!(bodies.windows(2).all(|w| w[0] == w[1]));
    }
    for id in [m.id, missing] {
        let base = format!("/api/messages/{id}");
        assert_problem(
            app.patch(&eve, &base, json!({ "content": "x" })).await,
            404,
            "not_found",
        )
        .await;
        assert_problem(app.delete(&eve, &base).await, 404, "not_found").await;
        let r = app
            .post(
                &eve,
                &format!("{base}/forward"),
                json!({ "conversation_id": c.id }),
            )
            .await;
        assert_problem(r, 404, "not_found").await;
    }
    // Nothing changed.
    assert_eq!(
        app.scalar_i64("SELECT COUNT(*) FROM conv_messages").await,
        1
    );
    assert_eq!(
        app.scalar_i64("SELECT COUNT(*) FROM conversation_members")
            .await,
        2
    );
    let n = app
        .scalar_i64("SELECT COUNT(*) FROM conversation_members WHERE is_muted = true")
        .await;
    assert_eq!(n, 0);
});

db_test!(list_runs_a_bounded_number_of_statements, |app| {
    let anna = app.user("Anna").await;
    let mut people = Vec::new();
    for i in 0..3 {
        people.push(app.user(&format!("P{i}")).await);
    }
    let c = app.conversation(&anna, &[&people[0]], None).await;
    app.send(&people[0], c.id, "x").await;
    let before = app.statements();
    list(&app, &anna, "").await;
    let small = app.statements() - before;
    for i in 3..15 {
        let u = app.user(&format!("P{i}")).await;
        let g = app
            .conversation(&anna, &[&u, &people[1], &people[2]], None)
            .await;
        app.send(&u, g.id, "y").await;
    }
    let before = app.statements();
    let page = list(&app, &anna, "").await;
    let big = app.statements() - before;
    assert_eq!(page.items.len(), 13);
    assert_eq!(small, big, "statements for 1 vs 13 conversations");
    assert!(big <= 8, "{big} statements");
});
