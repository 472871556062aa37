//! The user directory (`GET /api/users?q=`): prefix search by name, by a
//! word of the name and by e-mail, case-insensitive in Polish too; only
//! active users; cursor pagination; authentication; bad input.

use std::collections::HashSet;

use shared::dto::users::UserPage;

use crate::db_test;
use crate::helpers::{TestApp, TestUser, assert_problem, bare_client};

const PASSWORD: &str = "haslo-testowe-1";

async fn directory(app: &TestApp, who: &TestUser, query: &str) -> UserPage {
    let r = app.get(who, &format!("/api/users{query}")).await;
    assert_eq!(r.status(), 200, "GET /api/users{query}");
    r.json().await.unwrap()
}

async fn names(app: &TestApp, who: &TestUser, query: &str) -> Vec<String> {
    directory(app, who, query)
        .await
        .items
        .into_iter()
        .map(|u| u.name)
        .collect()
}

/// `q` percent-encoded for a query string.
fn q(s: &str) -> String {
    let encoded: String = s
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect();
    format!("?q={encoded}")
}

db_test!(finds_users_by_name_prefix_case_insensitively, |app| {
    let me = app.user("Anna Nowak").await;
    app.user("Andrzej Kowalski").await;
    app.user("Bartosz Anders").await;
    let got = names(&app, &me, &q("an")).await;
    let got: HashSet<&str> = got.iter().map(String::as_str).collect();
    assert_eq!(
        got,
        HashSet::from(["Anna Nowak", "Andrzej Kowalski", "Bartosz Anders"]),
        "name or a word of it starts with 'an'"
    );
    assert_eq!(names(&app, &me, &q("ANN")).await, ["Anna Nowak"]);
    assert_eq!(names(&app, &me, &q("kowal")).await, ["Andrzej Kowalski"]);
    // Inside a word is not a prefix.
    assert!(
        names(&app, &me, &q("nowa"))
            .await
            .contains(&"Anna Nowak".to_owned())
    );
    assert!(names(&app, &me, &q("owak")).await.is_empty());
});

db_test!(finds_polish_names_in_any_case, |app| {
    let me = app.user("Anna").await;
    app.user("Łucja Żak").await;
    app.user("Lucyna Ziółkowska").await;
    app.create_user("zofia@firma.pl", "Zofia Świątek-Łęcka", PASSWORD)
        .await;
    for query in ["łuc", "ŁUC", "Łuc", "łUc"] {
        assert_eq!(names(&app, &me, &q(query)).await, ["Łucja Żak"], "{query}");
    }
    // Ł is not L.
    assert_eq!(names(&app, &me, &q("luc")).await, ["Lucyna Ziółkowska"]);
    assert_eq!(names(&app, &me, &q("ŻAK")).await, ["Łucja Żak"]);
    assert_eq!(names(&app, &me, &q("ziÓŁ")).await, ["Lucyna Ziółkowska"]);
    assert_eq!(names(&app, &me, &q("ŚWIĄ")).await, ["Zofia Świątek-Łęcka"]);
    assert_eq!(names(&app, &me, &q("łęc")).await, ["Zofia Świątek-Łęcka"]);
    assert_eq!(
        names(&app, &me, &q("  łucja ż ")).await,
        ["Łucja Żak"],
        "trimmed; inner spaces count"
    );
});

db_test!(finds_users_by_email_prefix, |app| {
    let me = app.user("Anna").await;
    let id = app
        .create_user("m.wisniewska@kancelaria.pl", "Maria Wiśniewska", PASSWORD)
        .await;
    let page = directory(&app, &me, &q("M.WIS")).await;
    assert_eq!(page.items.len(), 1);
    assert_eq!(page.items[0].id, id);
    assert_eq!(page.items[0].email, "m.wisniewska@kancelaria.pl");
    assert_eq!(page.items[0].name, "Maria Wiśniewska");
    assert!(page.next_cursor.is_none());
    assert_eq!(
        names(&app, &me, &q("m.wisniewska@kancelaria.pl")).await,
        ["Maria Wiśniewska"]
    );
    // Only a prefix of the address.
    assert!(names(&app, &me, &q("kancelaria")).await.is_empty());
});

db_test!(like_wildcards_in_q_match_only_themselves, |app| {
    let me = app.user("Anna").await;
    app.create_user("procent@firma.pl", "100% Pewny", PASSWORD)
        .await;
    app.create_user("pod@firma.pl", "a_b Podkreślnik", PASSWORD)
        .await;
    assert_eq!(names(&app, &me, &q("%")).await, Vec::<String>::new());
    assert_eq!(names(&app, &me, &q("100%")).await, ["100% Pewny"]);
    assert_eq!(names(&app, &me, &q("a_")).await, ["a_b Podkreślnik"]);
    assert!(names(&app, &me, &q("_")).await.is_empty());
    assert!(names(&app, &me, &q("\\")).await.is_empty());
});

db_test!(deactivated_users_never_appear, |app| {
    let me = app.user("Anna").await;
    let gone = app.user("Adam Odszedł").await;
    backend::domain::users::deactivate(&app.db, gone.id)
        .await
        .unwrap();
    assert!(names(&app, &me, &q("adam")).await.is_empty());
    assert!(
        names(&app, &me, &q("adamodszed")).await.is_empty(),
        "by e-mail"
    );
    let everyone = directory(&app, &me, "?limit=100").await;
    assert!(everyone.items.iter().all(|u| u.id != gone.id));
    assert!(everyone.items.iter().any(|u| u.id == me.id));
});

db_test!(pages_by_cursor_return_everyone_exactly_once, |app| {
    let me = app.user("Anna").await;
    // Equal names: the id breaks the tie.
    for (i, name) in [
        "Ewa Kot",
        "Ewa Kot",
        "Ewa Kot",
        "Łucja Żak",
        "Żaneta",
        "bob",
        "Ćma",
    ]
    .iter()
    .enumerate()
    {
        app.create_user(&format!("u{i}@firma.pl"), name, PASSWORD)
            .await;
    }
    let inactive = app
        .create_user("x@firma.pl", "Ewa Nieaktywna", PASSWORD)
        .await;
    backend::domain::users::deactivate(&app.db, inactive)
        .await
        .unwrap();
    let active = app
        .scalar_i64("SELECT COUNT(*) FROM users WHERE is_active = TRUE")
        .await;
    assert_eq!(active, 9, "7 + Anna + the first admin");

    let all = directory(&app, &me, "").await;
    assert_eq!(all.items.len(), 9, "default limit 20");
    assert!(all.next_cursor.is_none());

    let mut walked = Vec::new();
    let mut query = "?limit=2".to_owned();
    let mut pages = 0;
    loop {
        let page = directory(&app, &me, &query).await;
        assert!(page.items.len() <= 2);
        walked.extend(page.items);
        pages += 1;
        match page.next_cursor {
            Some(c) => query = format!("?limit=2&cursor={c}"),
            None => break,
        }
        assert!(pages < 10, "the cursor must move on");
    }
    assert_eq!(pages, 5);
    assert_eq!(walked, all.items, "same users, same order, once each");
    let ids: HashSet<i64> = walked.iter().map(|u| u.id).collect();
    assert_eq!(ids.len(), 9);
    // The order is name then id (in the database's collation).
    let ewas: Vec<i64> = walked
        .iter()
        .filter(|u| u.name == "Ewa Kot")
        .map(|u| u.id)
        .collect();
    assert!(ewas.is_sorted() && ewas.len() == 3, "{ewas:?}");

    // A filtered search pages the same way.
    let first = directory(&app, &me, &format!("{}&limit=2", q("ewa"))).await;
    assert_eq!(first.items.len(), 2);
    let cursor = first.next_cursor.expect("a third Ewa");
    let rest = directory(&app, &me, &format!("{}&limit=2&cursor={cursor}", q("ewa"))).await;
    assert_eq!(rest.items.len(), 1);
    assert!(rest.next_cursor.is_none());
});

db_test!(the_directory_requires_authentication, |app| {
    let r = bare_client()
        .get(app.url("/api/users?q=a"))
        .send()
        .await
        .unwrap();
    assert_problem(r, 401, "unauthenticated").await;
});

db_test!(bad_queries_get_422, |app| {
    let me = app.user("Anna").await;
    let long = "a".repeat(101);
    let r = app.get(&me, &format!("/api/users?q={long}")).await;
    let p = assert_problem(r, 422, "validation_failed").await;
    assert_eq!(p.errors[0].field, "q");
    // 100 characters (not bytes) is still fine.
    let ok = q(&"ł".repeat(100));
    assert!(directory(&app, &me, &ok).await.items.is_empty());
    for (query, field) in [
        ("?limit=0", "limit"),
        ("?limit=101", "limit"),
        ("?cursor=nonsense", "cursor"),
        ("?cursor=MTI", "cursor"),
    ] {
        let r = app.get(&me, &format!("/api/users{query}")).await;
        let p = assert_problem(r, 422, "validation_failed").await;
        assert_eq!(p.errors[0].field, field, "{query}");
    }
    for query in ["?limit=x", "?bogus=1"] {
        let r = app.get(&me, &format!("/api/users{query}")).await;
        assert_problem(r, 422, "validation_failed").await;
    }
});

db_test!(
    the_sql_filter_alone_folds_polish_letters_on_both_databases,
    |app| {
        // The Rust check only mops up; the database must already narrow the
        // rows, also on SQLite whose lower() folds ASCII only.
        use backend::db::entities::users;
        use backend::domain::users::directory::Filter;
        use sea_orm::{EntityTrait, QueryFilter};

        app.create_user("a@firma.pl", "Łucja Żak", PASSWORD).await;
        app.create_user("b@firma.pl", "Lucyna Ziółkowska", PASSWORD)
            .await;
        app.create_user("c@firma.pl", "ÓSEMKA Ćwik", PASSWORD).await;
        for (query, expected) in [
            ("ŁUC", vec!["Łucja Żak"]),
            ("łuc", vec!["Łucja Żak"]),
            ("żak", vec!["Łucja Żak"]),
            ("ósem", vec!["ÓSEMKA Ćwik"]),
            ("ĆWI", vec!["ÓSEMKA Ćwik"]),
            ("luc", vec!["Lucyna Ziółkowska"]),
        ] {
            let cond = Filter::new(query).sql().expect("a condition");
            let mut got: Vec<String> = users::Entity::find()
                .filter(cond)
                .all(&app.db)
                .await
                .unwrap()
                .into_iter()
                .map(|u| u.name)
                .collect();
            got.sort();
            assert_eq!(got, expected, "{query}");
        }
    }
);
