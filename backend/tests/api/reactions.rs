//! Reactions: adding and removing, the summary (`count`, `user_ids`, `me`),
//! no-ops, the allowed emoji, the emoji in the path, membership (404
//! without an existence leak), deletion, and the `reaction` event.

use std::time::Duration;

use backend::realtime::bus::Subscription;
use serde_json::json;
use shared::Event;
use shared::dto::messages::{MessagePage, ReactionSummary, ReactionsDto};

use crate::db_test;
use crate::helpers::{TestApp, TestUser, assert_problem};

const THUMB_PATH: &str = "%F0%9F%91%8D";

async fn react(app: &TestApp, who: &TestUser, message_id: i64, emoji: &str) -> ReactionsDto {
    let r = app
        .post(
            who,
            &format!("/api/messages/{message_id}/reactions"),
            json!({ "emoji": emoji }),
        )
        .await;
    assert_eq!(r.status(), 200, "add {emoji}");
    r.json().await.unwrap()
}

async fn unreact(app: &TestApp, who: &TestUser, message_id: i64, emoji_path: &str) -> ReactionsDto {
    let r = app
        .delete(
            who,
            &format!("/api/messages/{message_id}/reactions/{emoji_path}"),
        )
        .await;
    assert_eq!(r.status(), 200, "remove {emoji_path}");
    r.json().await.unwrap()
}

async fn rows(app: &TestApp) -> i64 {
    app.scalar_i64("SELECT COUNT(*) FROM message_reactions")
        .await
}

/// The next event of a subscription (the server publishes before it
/// answers, so it is there already; the timeout only guards a hang).
async fn next_event(rx: &mut Subscription) -> Event {
    tokio::time::timeout(Duration::from_secs(5), rx.recv())
        .await
        .expect("an event in time")
        .expect("an event")
        .event()
}

/// A problem body as far as it may not differ between two requests.
fn without_request_id(mut p: shared::Problem) -> shared::Problem {
    p.request_id = None;
    p
}

fn summary(emoji: &str, user_ids: &[i64], me: bool) -> ReactionSummary {
    ReactionSummary {
        emoji: emoji.into(),
        count: user_ids.len() as i64,
        user_ids: user_ids.to_vec(),
        me,
    }
}

db_test!(reactions_of_two_users_are_summarised_per_emoji, |app| {
    let anna = app.user("Anna").await;
    let jan = app.user("Jan").await;
    let c = app.conversation(&anna, &[&jan], None).await;
    let m = app.send(&anna, c.id, "Obiad o 13?").await;

    let r = react(&app, &anna, m.id, "👍").await;
    assert_eq!(r.message_id, m.id);
    assert_eq!(r.reactions, [summary("👍", &[anna.id], true)]);

    let r = react(&app, &jan, m.id, "👍").await;
    assert_eq!(r.reactions, [summary("👍", &[anna.id, jan.id], true)]);
    let r = react(&app, &jan, m.id, "😂").await;
    assert_eq!(
        r.reactions,
        [
            summary("👍", &[anna.id, jan.id], true),
            summary("😂", &[jan.id], true)
        ]
    );

    // Anna sees the same counts, with `me` computed for her.
    let page: MessagePage = app
        .get(&anna, &format!("/api/conversations/{}/messages", c.id))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        page.items[0].reactions,
        [
            summary("👍", &[anna.id, jan.id], true),
            summary("😂", &[jan.id], false)
        ]
    );
    assert_eq!(rows(&app).await, 3);
});

db_test!(adding_the_same_reaction_twice_is_a_no_op, |app| {
    let anna = app.user("Anna").await;
    let jan = app.user("Jan").await;
    let c = app.conversation(&anna, &[&jan], None).await;
    let m = app.send(&anna, c.id, "Hej").await;
    let first = react(&app, &jan, m.id, "✅").await;
    let second = react(&app, &jan, m.id, "✅").await;
    assert_eq!(first, second);
    assert_eq!(second.reactions, [summary("✅", &[jan.id], true)]);
    assert_eq!(rows(&app).await, 1);
});

db_test!(concurrent_identical_adds_all_succeed_with_one_row, |app| {
    let anna = app.user("Anna").await;
    let jan = app.user("Jan").await;
    let c = app.conversation(&anna, &[&jan], None).await;
    let m = app.send(&anna, c.id, "Hej").await;
    let url = app.url(&format!("/api/messages/{}/reactions", m.id));
    let sends = (0..6).map(|_| {
        jan.client
            .post(url.as_str())
            .json(&json!({ "emoji": "😢" }))
            .send()
    });
    for r in futures_util::future::join_all(sends).await {
        assert_eq!(r.unwrap().status(), 200);
    }
    assert_eq!(rows(&app).await, 1);
});

db_test!(
    heart_without_the_variation_selector_is_the_same_heart,
    |app| {
        let anna = app.user("Anna").await;
        let jan = app.user("Jan").await;
        let c = app.conversation(&anna, &[&jan], None).await;
        let m = app.send(&anna, c.id, "Hej").await;
        let r = react(&app, &anna, m.id, "\u{2764}").await;
        assert_eq!(r.reactions, [summary("❤️", &[anna.id], true)]);
        let r = react(&app, &anna, m.id, "\u{2764}\u{FE0F}").await;
        assert_eq!(r.reactions, [summary("❤️", &[anna.id], true)]);
        assert_eq!(rows(&app).await, 1);
        // Removing by either spelling removes it.
        let r = unreact(&app, &anna, m.id, "%E2%9D%A4").await;
        assert!(r.reactions.is_empty());
        assert_eq!(rows(&app).await, 0);
    }
);

db_test!(a_disallowed_emoji_gets_422_and_nothing_is_written, |app| {
    let anna = app.user("Anna").await;
    let jan = app.user("Jan").await;
    let c = app.conversation(&anna, &[&jan], None).await;
    let m = app.send(&anna, c.id, "Hej").await;
    let mut rx = app.state.bus.subscribe(anna.id);
    for bad in ["🙂", "", "👍👍", "like", "👍🏽"] {
        let r = app
            .post(
                &jan,
                &format!("/api/messages/{}/reactions", m.id),
                json!({ "emoji": bad }),
            )
            .await;
        let p = assert_problem(r, 422, "emoji_not_allowed").await;
        assert_eq!(p.errors[0].field, "emoji", "{bad:?}");
    }
    let r = app
        .delete(
            &jan,
            &format!("/api/messages/{}/reactions/%F0%9F%99%82", m.id),
        )
        .await;
    assert_problem(r, 422, "emoji_not_allowed").await;
    // Not a string at all: the ordinary shape error.
    let r = app
        .post(
            &jan,
            &format!("/api/messages/{}/reactions", m.id),
            json!({ "emoji": 1 }),
        )
        .await;
    assert_problem(r, 422, "validation_failed").await;
    assert_eq!(rows(&app).await, 0);
    assert!(rx.try_recv().is_err(), "no event for a refused reaction");
});

db_test!(removing_with_the_emoji_url_encoded_in_the_path, |app| {
    let anna = app.user("Anna").await;
    let jan = app.user("Jan").await;
    let c = app.conversation(&anna, &[&jan], None).await;
    let m = app.send(&anna, c.id, "Hej").await;
    react(&app, &anna, m.id, "👍").await;
    react(&app, &jan, m.id, "👍").await;
    let r = unreact(&app, &jan, m.id, THUMB_PATH).await;
    assert_eq!(r.reactions, [summary("👍", &[anna.id], false)]);
    // Removing what is not there: 200 with the summary, nothing changes.
    let mut rx = app.state.bus.subscribe(anna.id);
    let r = unreact(&app, &jan, m.id, THUMB_PATH).await;
    assert_eq!(r.reactions, [summary("👍", &[anna.id], false)]);
    let r = unreact(&app, &jan, m.id, "%F0%9F%98%A2").await;
    assert_eq!(r.reactions, [summary("👍", &[anna.id], false)]);
    assert!(rx.try_recv().is_err(), "no event for a no-op");
    assert_eq!(rows(&app).await, 1);
});

db_test!(
    non_members_get_404_whether_or_not_the_message_exists,
    |app| {
        let anna = app.user("Anna").await;
        let jan = app.user("Jan").await;
        let eve = app.user("Ewa").await;
        let c = app.conversation(&anna, &[&jan], None).await;
        let m = app.send(&anna, c.id, "Tajne").await;
        react(&app, &anna, m.id, "👍").await;
        let missing = m.id + 1000;
        let mut bodies = Vec::new();
        for id in [m.id, missing] {
            let r = app
                .post(
                    &eve,
                    &format!("/api/messages/{id}/reactions"),
                    json!({ "emoji": "👍" }),
                )
                .await;
            bodies.push(without_request_id(
                assert_problem(r, 404, "not_found").await,
            ));
            let r = app
                .delete(&eve, &format!("/api/messages/{id}/reactions/{THUMB_PATH}"))
                .await;
            bodies.push(without_request_id(
                assert_problem(r, 404, "not_found").await,
            ));
        }
        assert_eq!(bodies[0], bodies[2], "add: same answer");
        assert_eq!(bodies[1], bodies[3], "remove: same answer");
        assert_eq!(rows(&app).await, 1);
    }
);

db_test!(reactions_vanish_with_the_deleted_message, |app| {
    let anna = app.user("Anna").await;
    let jan = app.user("Jan").await;
    let c = app.conversation(&anna, &[&jan], None).await;
    let m = app.send(&anna, c.id, "Pomyłka").await;
    react(&app, &jan, m.id, "😮").await;
    let r = app.delete(&anna, &format!("/api/messages/{}", m.id)).await;
    assert_eq!(r.status(), 204);
    let page: MessagePage = app
        .get(&jan, &format!("/api/conversations/{}/messages", c.id))
        .await
        .json()
        .await
        .unwrap();
    assert!(page.items[0].is_deleted);
    assert!(page.items[0].reactions.is_empty());
    assert_eq!(rows(&app).await, 0);
    // A deleted message takes no new reactions.
    let r = app
        .post(
            &jan,
            &format!("/api/messages/{}/reactions", m.id),
            json!({ "emoji": "👍" }),
        )
        .await;
    assert_problem(r, 404, "not_found").await;
    let r = app
        .delete(
            &jan,
            &format!("/api/messages/{}/reactions/{THUMB_PATH}", m.id),
        )
        .await;
    assert_problem(r, 404, "not_found").await;
    assert_eq!(rows(&app).await, 0);
});

db_test!(the_reaction_event_reaches_every_member, |app| {
    let anna = app.user("Anna").await;
    let jan = app.user("Jan").await;
    let ola = app.user("Ola").await;
    let eve = app.user("Ewa").await;
    let c = app.conversation(&anna, &[&jan, &ola], Some("Zespół")).await;
    let m = app.send(&anna, c.id, "Gotowe!").await;
    let mut to_anna = app.state.bus.subscribe(anna.id);
    let mut to_ola = app.state.bus.subscribe(ola.id);
    let mut to_eve = app.state.bus.subscribe(eve.id);

    react(&app, &jan, m.id, "✅").await;
    let expected = Event::Reaction {
        conversation_id: c.id,
        message_id: m.id,
        reactions: vec![summary("✅", &[jan.id], false)],
    };
    assert_eq!(next_event(&mut to_anna).await, expected);
    assert_eq!(next_event(&mut to_ola).await, expected);

    unreact(&app, &jan, m.id, "%E2%9C%85").await;
    let expected = Event::Reaction {
        conversation_id: c.id,
        message_id: m.id,
        reactions: vec![],
    };
    assert_eq!(next_event(&mut to_anna).await, expected);
    assert_eq!(next_event(&mut to_ola).await, expected);
    assert!(to_eve.try_recv().is_err(), "not a member: no event");
});
