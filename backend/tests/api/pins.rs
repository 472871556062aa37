//! Pins: pinning and unpinning (no-ops when repeated), the listing newest
//! pin first, deleted messages, membership (404 without an existence
//! leak), the events, and a statement count independent of the pins.

use std::time::Duration;

use backend::realtime::bus::Subscription;
use shared::Event;
use shared::dto::messages::PinDto;
use shared::dto::users::UserBrief;

use crate::db_test;
use crate::helpers::{TestApp, TestUser, assert_problem};

async fn pin(app: &TestApp, who: &TestUser, message_id: i64) -> PinDto {
    let r = app
        .post(
            who,
            &format!("/api/messages/{message_id}/pin"),
            serde_json::Value::Null,
        )
        .await;
    assert_eq!(r.status(), 200, "pin {message_id}");
    r.json().await.unwrap()
}

async fn unpin(app: &TestApp, who: &TestUser, message_id: i64) {
    let r = app
        .delete(who, &format!("/api/messages/{message_id}/pin"))
        .await;
    assert_eq!(r.status(), 204, "unpin {message_id}");
}

async fn pins(app: &TestApp, who: &TestUser, conversation_id: i64) -> Vec<PinDto> {
    let r = app
        .get(who, &format!("/api/conversations/{conversation_id}/pins"))
        .await;
    assert_eq!(r.status(), 200, "list pins");
    r.json().await.unwrap()
}

fn pinned_ids(list: &[PinDto]) -> Vec<i64> {
    list.iter().map(|p| p.message.id).collect()
}

async fn rows(app: &TestApp) -> i64 {
    app.scalar_i64("SELECT COUNT(*) FROM message_pins").await
}

async fn next_event(rx: &mut Subscription) -> Event {
    tokio::time::timeout(Duration::from_secs(5), rx.recv())
        .await
        .expect("an event in time")
        .expect("an event")
        .event()
}

fn brief(u: &TestUser) -> Option<UserBrief> {
    Some(UserBrief {
        id: u.id,
        name: u.name.clone(),
    })
}

db_test!(any_member_pins_and_the_pin_is_listed, |app| {
    let anna = app.user("Anna").await;
    let jan = app.user("Jan").await;
    let c = app.conversation(&anna, &[&jan], None).await;
    let m = app.send(&anna, c.id, "Adres: **Długa 5**").await;
    let p = pin(&app, &jan, m.id).await;
    assert_eq!(p.message.id, m.id);
    assert_eq!(p.message.content.as_deref(), Some("Adres: **Długa 5**"));
    assert_eq!(p.pinned_by, brief(&jan));
    let listed = pins(&app, &anna, c.id).await;
    assert_eq!(listed, [p]);
    assert_eq!(rows(&app).await, 1);
});

db_test!(pinning_twice_is_a_no_op_that_keeps_the_first_pin, |app| {
    let anna = app.user("Anna").await;
    let jan = app.user("Jan").await;
    let c = app.conversation(&anna, &[&jan], None).await;
    let m = app.send(&anna, c.id, "Ważne").await;
    let first = pin(&app, &anna, m.id).await;
    let mut rx = app.state.bus.subscribe(jan.id);
    let again = pin(&app, &jan, m.id).await;
    assert_eq!(again.pinned_by, brief(&anna), "the first pinner stays");
    assert_eq!(again.pinned_at, first.pinned_at);
    assert_eq!(rows(&app).await, 1);
    assert!(rx.try_recv().is_err(), "no event for a no-op");
});

db_test!(unpinning_removes_the_pin_and_twice_is_a_no_op, |app| {
    let anna = app.user("Anna").await;
    let jan = app.user("Jan").await;
    let c = app.conversation(&anna, &[&jan], None).await;
    let m = app.send(&anna, c.id, "Ważne").await;
    pin(&app, &anna, m.id).await;
    unpin(&app, &jan, m.id).await;
    assert!(pins(&app, &anna, c.id).await.is_empty());
    assert_eq!(rows(&app).await, 0);
    let mut rx = app.state.bus.subscribe(anna.id);
    unpin(&app, &jan, m.id).await;
    assert!(rx.try_recv().is_err(), "no event for a no-op");
});

db_test!(pins_are_listed_newest_pin_first, |app| {
    let anna = app.user("Anna").await;
    let jan = app.user("Jan").await;
    let c = app.conversation(&anna, &[&jan], None).await;
    let a = app.send(&anna, c.id, "pierwsza").await;
    let b = app.send(&jan, c.id, "druga").await;
    let d = app.send(&anna, c.id, "trzecia").await;
    // Pin order differs from message order.
    pin(&app, &anna, b.id).await;
    pin(&app, &jan, d.id).await;
    pin(&app, &anna, a.id).await;
    let listed = pins(&app, &jan, c.id).await;
    assert_eq!(pinned_ids(&listed), [a.id, d.id, b.id]);
    assert_eq!(listed[1].pinned_by, brief(&jan));
    assert!(listed[0].pinned_at >= listed[1].pinned_at);
    assert!(listed[1].pinned_at >= listed[2].pinned_at);
    // Re-pinning after an unpin moves it to the top.
    unpin(&app, &anna, b.id).await;
    pin(&app, &anna, b.id).await;
    assert_eq!(
        pinned_ids(&pins(&app, &anna, c.id).await),
        [b.id, a.id, d.id]
    );
});

db_test!(
    pinned_messages_show_reactions_as_the_viewer_sees_them,
    |app| {
        let anna = app.user("Anna").await;
        let jan = app.user("Jan").await;
        let c = app.conversation(&anna, &[&jan], None).await;
        let m = app.send(&anna, c.id, "Głosujcie").await;
        let r = app
            .post(
                &jan,
                &format!("/api/messages/{}/reactions", m.id),
                serde_json::json!({ "emoji": "👍" }),
            )
            .await;
        assert_eq!(r.status(), 200);
        pin(&app, &anna, m.id).await;
        let for_jan = pins(&app, &jan, c.id).await;
        let for_anna = pins(&app, &anna, c.id).await;
        assert!(for_jan[0].message.reactions[0].me);
        assert!(!for_anna[0].message.reactions[0].me);
        assert_eq!(for_anna[0].message.reactions[0].user_ids, [jan.id]);
    }
);

db_test!(a_deleted_message_is_unpinned_and_cannot_be_pinned, |app| {
    let anna = app.user("Anna").await;
    let jan = app.user("Jan").await;
    let c = app.conversation(&anna, &[&jan], None).await;
    let keep = app.send(&anna, c.id, "zostaje").await;
    let gone = app.send(&anna, c.id, "znika").await;
    pin(&app, &anna, keep.id).await;
    pin(&app, &jan, gone.id).await;
    let r = app
        .delete(&anna, &format!("/api/messages/{}", gone.id))
        .await;
    assert_eq!(r.status(), 204);
    assert_eq!(pinned_ids(&pins(&app, &jan, c.id).await), [keep.id]);
    assert_eq!(rows(&app).await, 1);
    let r = app
        .post(
            &jan,
            &format!("/api/messages/{}/pin", gone.id),
            serde_json::Value::Null,
        )
        .await;
    assert_problem(r, 404, "not_found").await;
    let r = app
        .delete(&jan, &format!("/api/messages/{}/pin", gone.id))
        .await;
    assert_problem(r, 404, "not_found").await;
    assert_eq!(rows(&app).await, 1);
});

db_test!(a_pin_that_outlived_its_message_is_not_listed, |app| {
    // A pin written while the message was being deleted (the race the
    // listing guards against), arranged directly in the database.
    let anna = app.user("Anna").await;
    let jan = app.user("Jan").await;
    let c = app.conversation(&anna, &[&jan], None).await;
    let m = app.send(&anna, c.id, "znika").await;
    let r = app.delete(&anna, &format!("/api/messages/{}", m.id)).await;
    assert_eq!(r.status(), 204);
    pin(&app, &anna, app.send(&anna, c.id, "zostaje").await.id).await;
    app.exec(&format!(
        "INSERT INTO message_pins (conversation_id, message_id, pinned_by_id, created_at) \
         SELECT conversation_id, {}, pinned_by_id, created_at FROM message_pins",
        m.id
    ))
    .await;
    assert_eq!(rows(&app).await, 2);
    let listed = pins(&app, &jan, c.id).await;
    assert_eq!(listed.len(), 1);
    assert_ne!(listed[0].message.id, m.id);
});

db_test!(non_members_get_404_whether_or_not_it_exists, |app| {
    let anna = app.user("Anna").await;
    let jan = app.user("Jan").await;
    let eve = app.user("Ewa").await;
    let c = app.conversation(&anna, &[&jan], None).await;
    let m = app.send(&anna, c.id, "Tajne").await;
    pin(&app, &anna, m.id).await;
    let mut answers = Vec::new();
    for id in [m.id, m.id + 1000] {
        let r = app
            .post(
                &eve,
                &format!("/api/messages/{id}/pin"),
                serde_json::Value::Null,
            )
            .await;
        answers.push(assert_problem(r, 404, "not_found").await.detail);
        let r = app.delete(&eve, &format!("/api/messages/{id}/pin")).await;
        answers.push(assert_problem(r, 404, "not_found").await.detail);
    }
    for cid in [c.id, c.id + 1000] {
        let r = app
            .get(&eve, &format!("/api/conversations/{cid}/pins"))
            .await;
        answers.push(assert_problem(r, 404, "not_found").await.detail);
    }
    assert_eq!(answers[0], answers[2]);
    assert_eq!(answers[1], answers[3]);
    assert_eq!(answers[4], answers[5]);
    assert_eq!(rows(&app).await, 1, "nothing changed");
    let listed = pins(&app, &anna, c.id).await;
    assert_eq!(listed[0].pinned_by, brief(&anna));
});

db_test!(pin_and_unpin_events_reach_every_member, |app| {
    let anna = app.user("Anna").await;
    let jan = app.user("Jan").await;
    let ola = app.user("Ola").await;
    let eve = app.user("Ewa").await;
    let c = app.conversation(&anna, &[&jan, &ola], Some("Zespół")).await;
    let m = app.send(&anna, c.id, "Plan").await;
    let mut to_anna = app.state.bus.subscribe(anna.id);
    let mut to_ola = app.state.bus.subscribe(ola.id);
    let mut to_eve = app.state.bus.subscribe(eve.id);

    pin(&app, &jan, m.id).await;
    let pinned = Event::MessagePinned {
        conversation_id: c.id,
        message_id: m.id,
        pinned_by: brief(&jan),
    };
    assert_eq!(next_event(&mut to_anna).await, pinned);
    assert_eq!(next_event(&mut to_ola).await, pinned);

    unpin(&app, &ola, m.id).await;
    let unpinned = Event::MessageUnpinned {
        conversation_id: c.id,
        message_id: m.id,
    };
    assert_eq!(next_event(&mut to_anna).await, unpinned);
    assert_eq!(next_event(&mut to_ola).await, unpinned);
    assert!(to_eve.try_recv().is_err(), "not a member: no event");
});

/// Statements the server runs for one GET of the pins.
async fn statements_for_listing(app: &TestApp, who: &TestUser, conversation_id: i64) -> u64 {
    // Warm up: the first request of a client may touch the session more.
    pins(app, who, conversation_id).await;
    let before = app.statements();
    let listed = pins(app, who, conversation_id).await;
    let used = app.statements() - before;
    assert!(!listed.is_empty());
    used
}

db_test!(listing_pins_costs_the_same_statements_for_1_or_20, |app| {
    let anna = app.user("Anna").await;
    let jan = app.user("Jan").await;
    let ola = app.user("Ola").await;
    let c = app.conversation(&anna, &[&jan, &ola], Some("Dużo")).await;
    let first = app.send(&anna, c.id, "jeden").await;
    pin(&app, &anna, first.id).await;
    let one = statements_for_listing(&app, &jan, c.id).await;

    let people = [&anna, &jan, &ola];
    let mut previous = first.id;
    for i in 1..20 {
        let who = people[i % 3];
        // Replies, reactions and different pinners: everything batched.
        let r = app
            .post(
                who,
                &format!("/api/conversations/{}/messages", c.id),
                serde_json::json!({ "content": format!("wiadomość {i}"), "reply_to_id": previous }),
            )
            .await;
        assert_eq!(r.status(), 201);
        let m: shared::dto::messages::MessageDto = r.json().await.unwrap();
        let r = app
            .post(
                people[(i + 1) % 3],
                &format!("/api/messages/{}/reactions", m.id),
                serde_json::json!({ "emoji": "😂" }),
            )
            .await;
        assert_eq!(r.status(), 200);
        pin(&app, people[(i + 2) % 3], m.id).await;
        previous = m.id;
    }
    let twenty = statements_for_listing(&app, &jan, c.id).await;
    assert_eq!(pins(&app, &jan, c.id).await.len(), 20);
    // The one extra statement allowed: the replies lookup, which the
    // single unreplying pin does not need.
    assert!(
        twenty <= one + 1,
        "1 pin: {one} statements, 20 pins: {twenty}"
    );
});
