//! The authorization matrix: every conversation-scoped endpoint called by
//! a non-member, a plain member and the group's owner. Refused calls get
//! the documented status and change nothing in the database.

use sea_orm::{EntityTrait, QueryOrder};
use serde_json::{Value, json};

use backend::db::entities::{
    conv_messages, conversation_members, conversations, message_pins, message_reactions,
};

use crate::db_test;
use crate::helpers::TestApp;

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
