//! Link previews end to end: real pages served by a small HTTP server on
//! 127.0.0.1 (reachable only because the tests allow that address), the
//! preview arriving on the message and as `message_edited`, the per-URL
//! cache, edits, and the SSRF guard proved by listeners that must never
//! see a connection.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::json;
use shared::dto::messages::{LinkPreview, MessageDto, MessagePage};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::sync::Notify;

use crate::helpers::{Db, TestApp, TestUser, spawn_app_with};
use crate::stream::stream;

/// Runs a test body on PostgreSQL and on SQLite; the body starts its own
/// pages first (the app needs their ports in its settings).
macro_rules! both_dbs {
    ($name:ident, |$kind:ident| $body:block) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                let $kind = Db::Postgres;
                $body
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                let $kind = Db::Sqlite;
                $body
            }
        }
    };
}

/// One canned response.
#[derive(Clone, Default)]
struct Page {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
    /// Held back until this is notified (proves nobody waits for it).
    gate: Option<Arc<Notify>>,
    delay: Option<Duration>,
}

impl Page {
    fn html(body: &str) -> Self {
        Self::bytes("text/html; charset=utf-8", body.as_bytes().to_vec())
    }

    fn bytes(content_type: &str, body: Vec<u8>) -> Self {
        Self {
            status: 200,
            headers: vec![("Content-Type".into(), content_type.into())],
            body,
            ..Default::default()
        }
    }

    fn redirect(to: &str) -> Self {
        Self {
            status: 302,
            headers: vec![("Location".into(), to.into())],
            ..Default::default()
        }
    }
}

/// A tiny HTTP/1.1 server: one request per connection, canned pages, and a
/// count of requests per path.
struct PageServer {
    addr: SocketAddr,
    hits: Arc<Mutex<HashMap<String, usize>>>,
    pages: Arc<Mutex<HashMap<String, Page>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for PageServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl PageServer {
    async fn start(bind: &str) -> Self {
        let listener = TcpListener::bind(bind).await.expect("bind page server");
        let addr = listener.local_addr().unwrap();
        let hits: Arc<Mutex<HashMap<String, usize>>> = Arc::default();
        let pages: Arc<Mutex<HashMap<String, Page>>> = Arc::default();
        let (h, p) = (hits.clone(), pages.clone());
        let task = tokio::spawn(async move {
            while let Ok((mut sock, _)) = listener.accept().await {
                let (h, p) = (h.clone(), p.clone());
                tokio::spawn(async move {
                    let mut buf = Vec::new();
                    let mut chunk = [0u8; 2048];
                    while !buf.windows(4).any(|w| w == b"\r\n\r\n") && buf.len() < 16_384 {
                        match sock.read(&mut chunk).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => buf.extend_from_slice(&chunk[..n]),
                        }
                    }
                    let head = String::from_utf8_lossy(&buf).to_string();
                    let path = head.split_whitespace().nth(1).unwrap_or("/").to_owned();
                    *h.lock().unwrap().entry(path.clone()).or_default() += 1;
                    let page = p.lock().unwrap().get(&path).cloned().unwrap_or(Page {
                        status: 404,
                        ..Default::default()
                    });
                    if let Some(gate) = &page.gate {
                        gate.notified().await;
                    }
                    if let Some(d) = page.delay {
                        tokio::time::sleep(d).await;
                    }
                    let mut out = format!("HTTP/1.1 {} X\r\n", page.status);
                    for (k, v) in &page.headers {
                        out.push_str(&format!("{k}: {v}\r\n"));
                    }
                    out.push_str(&format!(
                        "Content-Length: {}\r\nConnection: close\r\n\r\n",
                        page.body.len()
                    ));
                    let mut bytes = out.into_bytes();
                    bytes.extend_from_slice(&page.body);
                    // The client may hang up early (a page too large).
                    let _ = sock.write_all(&bytes).await;
                    let _ = sock.shutdown().await;
                });
            }
        });
        Self {
            addr,
            hits,
            pages,
            task,
        }
    }

    fn serve(&self, path: &str, page: Page) {
        self.pages.lock().unwrap().insert(path.to_owned(), page);
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    fn hits(&self, path: &str) -> usize {
        self.hits.lock().unwrap().get(path).copied().unwrap_or(0)
    }

    fn total_hits(&self) -> usize {
        self.hits.lock().unwrap().values().sum()
    }
}

/// A listener that only counts connections: for targets that must never
/// be contacted.
struct Trap {
    addr: SocketAddr,
    accepted: Arc<AtomicUsize>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Trap {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Trap {
    async fn start(bind: &str) -> Option<Self> {
        let listener = TcpListener::bind(bind).await.ok()?;
        let addr = listener.local_addr().ok()?;
        let accepted = Arc::new(AtomicUsize::new(0));
        let a = accepted.clone();
        let task = tokio::spawn(async move {
            while let Ok((_sock, _)) = listener.accept().await {
                a.fetch_add(1, Ordering::SeqCst);
            }
        });
        Some(Self {
            addr,
            accepted,
            task,
        })
    }

    fn accepted(&self) -> usize {
        self.accepted.load(Ordering::SeqCst)
    }
}

/// The app with previews on, allowed to reach `allow` and the given ports.
async fn app_with(kind: Db, allow: &str, ports: &[u16], extra: &[&str]) -> TestApp {
    let ports: Vec<String> = ports.iter().map(u16::to_string).collect();
    let ports = ports.join(",");
    let mut args = vec![
        "--link-previews",
        "on",
        "--link-preview-ports",
        &ports,
        "--link-preview-allow-addresses",
        allow,
    ];
    args.extend_from_slice(extra);
    spawn_app_with(kind, &args).await
}

async fn messages(app: &TestApp, who: &TestUser, conversation_id: i64) -> Vec<MessageDto> {
    let r = app
        .get(
            who,
            &format!("/api/conversations/{conversation_id}/messages?limit=100"),
        )
        .await;
    assert_eq!(r.status(), 200);
    r.json::<MessagePage>().await.unwrap().items
}

/// Polls the messages endpoint until the message has a preview (10 s).
async fn wait_for_preview(
    app: &TestApp,
    who: &TestUser,
    conversation_id: i64,
    message_id: i64,
) -> LinkPreview {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let m = messages(app, who, conversation_id)
            .await
            .into_iter()
            .find(|m| m.id == message_id)
            .expect("message listed");
        if let Some(p) = m.link_preview {
            return p;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no preview for message {message_id} within 10 s"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Waits until the workers have finished `n` jobs in all (10 s).
async fn wait_finished(app: &TestApp, n: u64) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while app.state.link_previews.finished() < n {
        assert!(
            tokio::time::Instant::now() < deadline,
            "only {} of {n} preview jobs finished within 10 s",
            app.state.link_previews.finished()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn preview_of(app: &TestApp, who: &TestUser, conv: i64, id: i64) -> Option<LinkPreview> {
    messages(app, who, conv)
        .await
        .into_iter()
        .find(|m| m.id == id)
        .expect("message listed")
        .link_preview
}

const OG_PAGE: &str = r#"<!doctype html><html><head>
<meta charset="utf-8">
<title>Zwykły tytuł</title>
<meta property="og:title" content="Spotkanie członków &amp; gości">
<meta property="og:description" content="Zapraszamy na spotkanie w Poznaniu.">
<meta property="og:image" content="/img/spotkanie.jpg">
<meta property="og:site_name" content="Portal">
</head><body><h1>Treść</h1></body></html>"#;

both_dbs!(
    preview_arrives_after_the_send_as_message_edited_for_members_only,
    |kind| {
        let pages = PageServer::start("127.0.0.1:0").await;
        let gate = Arc::new(Notify::new());
        pages.serve(
            "/wydarzenie",
            Page {
                gate: Some(gate.clone()),
                ..Page::html(OG_PAGE)
            },
        );
        let app = app_with(kind, "127.0.0.1", &[pages.addr.port()], &[]).await;
        let anna = app.user("Anna").await;
        let jan = app.user("Jan").await;
        let ola = app.user("Ola").await;
        let c = app.conversation(&anna, &[&jan], None).await;
        let mut js = stream(&app, &jan, None).await;
        let mut os = stream(&app, &ola, None).await;
        let url = pages.url("/wydarzenie");

        // The page is held back: the send answers anyway, without a preview.
        let r = app
            .post(
                &anna,
                &format!("/api/conversations/{}/messages", c.id),
                json!({ "content": format!("Zobacz {url} !") }),
            )
            .await;
        assert_eq!(r.status(), 201);
        let sent: MessageDto = r.json().await.unwrap();
        assert_eq!(sent.link_preview, None);
        let f = js.next_non_presence().await;
        assert_eq!(f.event.as_deref(), Some("new_message"));
        gate.notify_one();

        let f = js.next_non_presence().await;
        assert_eq!(f.event.as_deref(), Some("message_edited"));
        let edited: MessageDto = serde_json::from_value(f.json()["message"].clone()).unwrap();
        assert_eq!(edited.id, sent.id);
        // Not an edit by the sender.
        assert_eq!(edited.edited_at, None);
        let want = LinkPreview {
            url: url.clone(),
            title: Some("Spotkanie członków & gości".into()),
            description: Some("Zapraszamy na spotkanie w Poznaniu.".into()),
            image: Some(pages.url("/img/spotkanie.jpg")),
            site_name: Some("Portal".into()),
        };
        assert_eq!(edited.link_preview.as_ref(), Some(&want));
        assert_eq!(wait_for_preview(&app, &anna, c.id, sent.id).await, want);
        assert_eq!(pages.hits("/wydarzenie"), 1);
        let stored = app
            .scalar_i64(&format!(
                "SELECT COUNT(*) FROM conv_messages WHERE id = {} AND link_preview IS NOT NULL",
                sent.id
            ))
            .await;
        assert_eq!(stored, 1);
        // Someone outside the conversation hears nothing of it.
        os.assert_quiet(Duration::from_millis(500)).await;
    }
);

both_dbs!(title_meta_description_entities_and_relative_image, |kind| {
    let pages = PageServer::start("127.0.0.1:0").await;
    pages.serve(
        "/artykuly/2026/tekst.html",
        Page::html(
            "<html><head><title>\n  Caf&eacute; &bdquo;Pod Lipą&rdquo; &ndash; menu \n</title>\
             <meta name=\"description\" content=\"Ryby &amp; frytki, &lt;tanio&gt; &#x17C;&#243;&#322;w\">\
             <meta property=\"og:image\" content=\"../img/lipa.png?w=1&amp;h=2\">\
             </head><body>…</body></html>",
        ),
    );
    pages.serve(
        "/tylko-tytul",
        Page::html("<title>Sam tytuł</title><p>x</p>"),
    );
    let app = app_with(kind, "127.0.0.1/32", &[pages.addr.port()], &[]).await;
    let anna = app.user("Anna").await;
    let jan = app.user("Jan").await;
    let c = app.conversation(&anna, &[&jan], None).await;
    let m1 = app
        .send(
            &anna,
            c.id,
            &format!("[menu]({})", pages.url("/artykuly/2026/tekst.html")),
        )
        .await;
    let m2 = app
        .send(&anna, c.id, &format!("<{}>", pages.url("/tylko-tytul")))
        .await;
    let p1 = wait_for_preview(&app, &jan, c.id, m1.id).await;
    assert_eq!(p1.title.as_deref(), Some("Café „Pod Lipą” – menu"));
    assert_eq!(
        p1.description.as_deref(),
        Some("Ryby & frytki, <tanio> żółw")
    );
    assert_eq!(
        p1.image.as_deref(),
        Some(pages.url("/artykuly/img/lipa.png?w=1&h=2").as_str())
    );
    assert_eq!(p1.site_name, None);
    let p2 = wait_for_preview(&app, &jan, c.id, m2.id).await;
    assert_eq!(p2.title.as_deref(), Some("Sam tytuł"));
    assert_eq!((p2.description, p2.image), (None, None));
});

both_dbs!(polish_pages_in_windows_1250_and_iso_8859_2, |kind| {
    let text = "Zażółć gęślą jaźń, Łódź";
    let (cp1250, _, _) = encoding_rs::WINDOWS_1250.encode(text);
    let (latin2, _, _) = encoding_rs::ISO_8859_2.encode(text);
    let page = |head: &str, title: &[u8]| {
        let mut v = format!("<html><head>{head}<title>").into_bytes();
        v.extend_from_slice(title);
        v.extend_from_slice(b"</title><meta name=\"description\" content=\"");
        v.extend_from_slice(title);
        v.extend_from_slice(b"\"></head><body></body></html>");
        v
    };
    let pages = PageServer::start("127.0.0.1:0").await;
    // The charset from the header …
    pages.serve(
        "/cp1250",
        Page::bytes("text/html; charset=windows-1250", page("", &cp1250)),
    );
    // … and from the page itself.
    pages.serve(
        "/latin2",
        Page::bytes(
            "text/html",
            page(
                "<meta http-equiv=\"Content-Type\" content=\"text/html; charset=ISO-8859-2\">",
                &latin2,
            ),
        ),
    );
    pages.serve(
        "/meta1250",
        Page::bytes(
            "text/html",
            page("<meta charset=\"windows-1250\">", &cp1250),
        ),
    );
    let app = app_with(kind, "127.0.0.1", &[pages.addr.port()], &[]).await;
    let anna = app.user("Anna").await;
    let jan = app.user("Jan").await;
    let c = app.conversation(&anna, &[&jan], None).await;
    for path in ["/cp1250", "/latin2", "/meta1250"] {
        let m = app.send(&anna, c.id, &pages.url(path)).await;
        let p = wait_for_preview(&app, &jan, c.id, m.id).await;
        assert_eq!(p.title.as_deref(), Some(text), "{path}");
        assert_eq!(p.description.as_deref(), Some(text), "{path}");
    }
});

both_dbs!(redirects_are_followed_up_to_three_hops, |kind| {
    let pages = PageServer::start("127.0.0.1:0").await;
    pages.serve("/a", Page::redirect("/b"));
    pages.serve("/b", Page::redirect(&pages.url("/c")));
    pages.serve("/c", Page::redirect("/koniec/strona"));
    pages.serve(
        "/koniec/strona",
        Page::html(
            "<head><meta property=og:title content=\"Na końcu\">\
             <meta property=og:image content=\"obraz.png\"></head>",
        ),
    );
    pages.serve("/w", Page::redirect("/x"));
    pages.serve("/x", Page::redirect("/y"));
    pages.serve("/y", Page::redirect("/z"));
    pages.serve("/z", Page::redirect("/koniec/strona"));
    let app = app_with(kind, "127.0.0.1", &[pages.addr.port()], &[]).await;
    let anna = app.user("Anna").await;
    let jan = app.user("Jan").await;
    let c = app.conversation(&anna, &[&jan], None).await;
    let m = app.send(&anna, c.id, &pages.url("/a")).await;
    let p = wait_for_preview(&app, &jan, c.id, m.id).await;
    // The preview keeps the link of the message; the image resolves
    // against the page it came from.
    assert_eq!(p.url, pages.url("/a"));
    assert_eq!(p.title.as_deref(), Some("Na końcu"));
    assert_eq!(
        p.image.as_deref(),
        Some(pages.url("/koniec/obraz.png").as_str())
    );
    assert_eq!(pages.hits("/koniec/strona"), 1);

    // A fourth redirect is not followed.
    let m = app.send(&anna, c.id, &pages.url("/w")).await;
    wait_finished(&app, 2).await;
    assert_eq!(preview_of(&app, &jan, c.id, m.id).await, None);
    assert_eq!(pages.hits("/z"), 1);
    assert_eq!(pages.hits("/koniec/strona"), 1);
});

both_dbs!(large_non_html_and_slow_pages, |kind| {
    let pages = PageServer::start("127.0.0.1:0").await;
    // The description sits past the first 100 KB: never read.
    let mut big = String::from("<html><head><meta property=og:title content=\"Duża strona\"><!--");
    big.push_str(&"x".repeat(150 * 1024));
    big.push_str(
        "--><meta property=og:description content=\"za daleko\"></head><body></body></html>",
    );
    pages.serve("/duza", Page::html(&big));
    pages.serve(
        "/dane.json",
        Page::bytes("application/json", br#"{"title":"nie html"}"#.to_vec()),
    );
    pages.serve(
        "/obraz.png",
        Page::bytes("image/png", b"\x89PNG\r\n\x1a\n<title>x</title>".to_vec()),
    );
    pages.serve(
        "/wolna",
        Page {
            delay: Some(Duration::from_secs(5)),
            ..Page::html("<title>Za późno</title>")
        },
    );
    pages.serve(
        "/blad",
        Page {
            status: 500,
            ..Page::html("<title>Błąd</title>")
        },
    );
    let app = app_with(kind, "127.0.0.1", &[pages.addr.port()], &[]).await;
    let anna = app.user("Anna").await;
    let jan = app.user("Jan").await;
    let c = app.conversation(&anna, &[&jan], None).await;
    let big_msg = app.send(&anna, c.id, &pages.url("/duza")).await;
    let p = wait_for_preview(&app, &jan, c.id, big_msg.id).await;
    assert_eq!(p.title.as_deref(), Some("Duża strona"));
    assert_eq!(p.description, None);

    let mut none = Vec::new();
    for path in ["/dane.json", "/obraz.png", "/wolna", "/blad"] {
        none.push(app.send(&anna, c.id, &pages.url(path)).await.id);
    }
    wait_finished(&app, 5).await;
    for id in none {
        assert_eq!(preview_of(&app, &jan, c.id, id).await, None);
    }
    // Each was asked once; the failures are cached too.
    for path in ["/dane.json", "/obraz.png", "/wolna", "/blad"] {
        assert_eq!(pages.hits(path), 1, "{path}");
    }
    let failures = app
        .scalar_i64(
            "SELECT COUNT(*) FROM link_preview_cache WHERE preview IS NULL AND error IS NOT NULL",
        )
        .await;
    assert_eq!(failures, 4);
});

both_dbs!(a_link_in_many_messages_is_fetched_once, |kind| {
    let pages = PageServer::start("127.0.0.1:0").await;
    pages.serve(
        "/popularny",
        Page {
            delay: Some(Duration::from_millis(200)),
            ..Page::html(OG_PAGE)
        },
    );
    pages.serve("/brak", Page::html("<p>bez tytułu</p>"));
    let app = app_with(kind, "127.0.0.1", &[pages.addr.port()], &[]).await;
    let anna = app.user("Anna").await;
    let jan = app.user("Jan").await;
    let g = app.conversation(&anna, &[&jan], Some("Grupa")).await;
    let mut ids = Vec::new();
    for i in 0..12 {
        let who = if i % 2 == 0 { &anna } else { &jan };
        let m = app
            .send(who, g.id, &format!("{i}: {}", pages.url("/popularny")))
            .await;
        ids.push(m.id);
    }
    for id in &ids {
        let p = wait_for_preview(&app, &jan, g.id, *id).await;
        assert_eq!(p.title.as_deref(), Some("Spotkanie członków & gości"));
    }
    assert_eq!(pages.hits("/popularny"), 1);
    // A page with nothing to show: fetched once, cached as a failure.
    for _ in 0..3 {
        app.send(&anna, g.id, &pages.url("/brak")).await;
    }
    wait_finished(&app, 15).await;
    assert_eq!(pages.hits("/brak"), 1);
    assert_eq!(
        app.scalar_i64("SELECT COUNT(*) FROM link_preview_cache")
            .await,
        2
    );
    // An entry older than 24 h is fetched again.
    app.exec("UPDATE link_preview_cache SET fetched_at = '2020-01-01T00:00:00Z'")
        .await;
    let m = app.send(&anna, g.id, &pages.url("/popularny")).await;
    wait_for_preview(&app, &jan, g.id, m.id).await;
    assert_eq!(pages.hits("/popularny"), 2);
});

both_dbs!(edits_add_replace_and_remove_the_preview, |kind| {
    let pages = PageServer::start("127.0.0.1:0").await;
    pages.serve("/pierwsza", Page::html("<title>Pierwsza</title>"));
    pages.serve("/druga", Page::html("<title>Druga</title>"));
    let app = app_with(kind, "127.0.0.1", &[pages.addr.port()], &[]).await;
    let anna = app.user("Anna").await;
    let jan = app.user("Jan").await;
    let c = app.conversation(&anna, &[&jan], None).await;
    let m = app.send(&anna, c.id, "bez linku").await;
    let path = format!("/api/messages/{}", m.id);

    let r = app
        .patch(
            &anna,
            &path,
            json!({ "content": format!("jest: {}", pages.url("/pierwsza")) }),
        )
        .await;
    assert_eq!(r.status(), 200);
    let p = wait_for_preview(&app, &jan, c.id, m.id).await;
    assert_eq!(p.title.as_deref(), Some("Pierwsza"));

    // The same link, other words: the preview stays, nothing is fetched.
    let r = app
        .patch(
            &anna,
            &path,
            json!({ "content": format!("nadal {}", pages.url("/pierwsza")) }),
        )
        .await;
    let e: MessageDto = r.json().await.unwrap();
    assert_eq!(
        e.link_preview.map(|p| p.title),
        Some(Some("Pierwsza".into()))
    );

    // Another link: the old preview goes at once, the new one follows.
    let r = app
        .patch(&anna, &path, json!({ "content": pages.url("/druga") }))
        .await;
    let e: MessageDto = r.json().await.unwrap();
    assert_eq!(e.link_preview, None);
    let p = wait_for_preview(&app, &jan, c.id, m.id).await;
    assert_eq!(p.title.as_deref(), Some("Druga"));
    assert_eq!(p.url, pages.url("/druga"));

    // No link: no preview, and none comes back.
    let r = app
        .patch(&anna, &path, json!({ "content": "już bez linku" }))
        .await;
    let e: MessageDto = r.json().await.unwrap();
    assert_eq!(e.link_preview, None);
    wait_finished(&app, 2).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(preview_of(&app, &jan, c.id, m.id).await, None);
    assert_eq!((pages.hits("/pierwsza"), pages.hits("/druga")), (1, 1));

    // A deleted message gets no preview, even from the cache.
    let d = app.send(&anna, c.id, &pages.url("/pierwsza")).await;
    app.delete(&anna, &format!("/api/messages/{}", d.id)).await;
    wait_finished(&app, 3).await;
    let kept = app
        .scalar_i64(&format!(
            "SELECT COUNT(*) FROM conv_messages WHERE id = {} AND link_preview IS NULL",
            d.id
        ))
        .await;
    assert_eq!(kept, 1);
});

both_dbs!(refused_targets_never_get_a_connection, |kind| {
    let trap = Trap::start("127.0.0.1:0").await.expect("loopback listener");
    let trap6 = Trap::start("[::1]:0").await;
    let p = trap.addr.port();
    let mut ports = vec![p];
    let mut urls = vec![
        format!("http://127.0.0.1:{p}/"),
        format!("http://0.0.0.0:{p}/"),
        format!("http://2130706433:{p}/"),
        format!("http://0x7f000001:{p}/"),
        format!("http://0177.0.0.1:{p}/"),
        format!("http://127.1:{p}/"),
        format!("http://[::ffff:127.0.0.1]:{p}/"),
        format!("http://localhost:{p}/"),
        format!("http://localhost.:{p}/"),
    ];
    if let Some(t6) = &trap6 {
        ports.push(t6.addr.port());
        urls.push(format!("http://[::1]:{}/", t6.addr.port()));
    }
    // Every port is allowed and nothing is an internal domain: only the
    // address check stands between the message and the listener.
    let app = app_with(
        kind,
        "",
        &ports,
        &["--link-preview-skip-domains", "intranet.invalid"],
    )
    .await;
    let anna = app.user("Anna").await;
    let jan = app.user("Jan").await;
    let c = app.conversation(&anna, &[&jan], None).await;
    let mut ids = Vec::new();
    for u in &urls {
        ids.push(app.send(&anna, c.id, &format!("zobacz {u}")).await.id);
    }
    wait_finished(&app, urls.len() as u64).await;
    // Give a stray connection time to arrive.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(trap.accepted(), 0, "a refused target was contacted");
    if let Some(t6) = &trap6 {
        assert_eq!(t6.accepted(), 0, "[::1] was contacted");
    }
    for id in ids {
        assert_eq!(preview_of(&app, &jan, c.id, id).await, None);
    }
    // Refusals are cached like any failure, one row per distinct URL
    // (the spellings of 127.0.0.1 are one URL).
    let distinct: std::collections::HashSet<String> = urls
        .iter()
        .map(|u| url::Url::parse(u).unwrap().to_string())
        .collect();
    let refused = app
        .scalar_i64("SELECT COUNT(*) FROM link_preview_cache WHERE preview IS NULL")
        .await;
    assert_eq!(refused, distinct.len() as i64);
});

both_dbs!(
    a_redirect_from_an_allowed_page_to_loopback_is_not_followed,
    |kind| {
        // The pages on 127.0.0.1 are allowed; 127.0.0.2 is loopback like any other.
        let pages = PageServer::start("127.0.0.1:0").await;
        let trap = Trap::start("127.0.0.2:0")
            .await
            .expect("listener on 127.0.0.2");
        let t = trap.addr.port();
        pages.serve("/skok", Page::redirect(&format!("http://127.0.0.2:{t}/")));
        pages.serve(
            "/skok-hex",
            Page::redirect(&format!("http://0x7f000002:{t}/")),
        );
        pages.serve(
            "/skok-metadane",
            Page::redirect("http://169.254.169.254/latest/meta-data/"),
        );
        let app = app_with(kind, "127.0.0.1/32", &[pages.addr.port(), t, 80], &[]).await;
        let anna = app.user("Anna").await;
        let jan = app.user("Jan").await;
        let c = app.conversation(&anna, &[&jan], None).await;
        let mut ids = Vec::new();
        for path in ["/skok", "/skok-hex", "/skok-metadane"] {
            ids.push(app.send(&anna, c.id, &pages.url(path)).await.id);
        }
        wait_finished(&app, 3).await;
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert_eq!(trap.accepted(), 0, "the redirect target was contacted");
        for path in ["/skok", "/skok-hex", "/skok-metadane"] {
            assert_eq!(pages.hits(path), 1, "{path}");
        }
        for id in ids {
            assert_eq!(preview_of(&app, &jan, c.id, id).await, None);
        }
    }
);

both_dbs!(ports_internal_domains_and_the_off_switch, |kind| {
    let pages = PageServer::start("127.0.0.1:0").await;
    pages.serve("/", Page::html("<title>Strona</title>"));
    // The page's port is not allowed.
    let app = app_with(kind, "127.0.0.1", &[80, 443], &[]).await;
    let anna = app.user("Anna").await;
    let jan = app.user("Jan").await;
    let c = app.conversation(&anna, &[&jan], None).await;
    let m = app.send(&anna, c.id, &pages.url("/")).await;
    wait_finished(&app, 1).await;
    assert_eq!(preview_of(&app, &jan, c.id, m.id).await, None);

    // The address is allowed but named by an internal domain.
    let app = app_with(
        kind,
        "127.0.0.1,::1",
        &[pages.addr.port()],
        &["--link-preview-skip-domains", "localhost"],
    )
    .await;
    let anna = app.user("Anna").await;
    let jan = app.user("Jan").await;
    let c = app.conversation(&anna, &[&jan], None).await;
    let m = app
        .send(
            &anna,
            c.id,
            &format!("http://localhost:{}/", pages.addr.port()),
        )
        .await;
    wait_finished(&app, 1).await;
    assert_eq!(preview_of(&app, &jan, c.id, m.id).await, None);

    // Previews off: nothing is queued.
    let app = spawn_app_with(
        kind,
        &[
            "--link-preview-allow-addresses",
            "127.0.0.1",
            "--link-preview-ports",
            &pages.addr.port().to_string(),
        ],
    )
    .await;
    let anna = app.user("Anna").await;
    let jan = app.user("Jan").await;
    let c = app.conversation(&anna, &[&jan], None).await;
    let m = app.send(&anna, c.id, &pages.url("/")).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(app.state.link_previews.finished(), 0);
    assert_eq!(preview_of(&app, &jan, c.id, m.id).await, None);
    assert_eq!(pages.total_hits(), 0);
});
