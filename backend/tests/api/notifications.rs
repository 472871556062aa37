//! E-mail notifications against a real SMTP server: each test starts
//! aiosmtpd (`python3 -m aiosmtpd`, installed by `scripts/ensure-tools.sh`)
//! on a free port with a Maildir, points the app's SMTP_URL at it and reads
//! what arrived. Tests use a batch window of a few seconds and a fast poll;
//! they wait with deadlines and never assert on timing.

use std::future::Future;
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use backend::db::entities::email_outbox;
use sea_orm::sea_query::Expr;
use sea_orm::{EntityTrait, QueryFilter};
use serde_json::json;

use crate::helpers::{Db, ORIGIN, TestApp, TestUser, assert_problem, bare_client, spawn_app_with};

/// How long any single wait may take before the test fails.
const DEADLINE: Duration = Duration::from_secs(40);

/// Runs a test body on PostgreSQL and on SQLite with `$kind` set.
macro_rules! mail_test {
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

// ---------------------------------------------------------------------------
// A real SMTP server
// ---------------------------------------------------------------------------

/// aiosmtpd with a Maildir, killed when dropped.
struct SmtpServer {
    port: u16,
    maildir: PathBuf,
    child: Child,
    _dir: tempfile::TempDir,
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

/// aiosmtpd that demands AUTH (PLAIN or LOGIN, without TLS: loopback only)
/// with the given login and password: `python3 -c AUTH_SERVER port maildir
/// login password`.
const AUTH_SERVER: &str = r#"
import sys, threading
from aiosmtpd.controller import Controller
from aiosmtpd.handlers import Mailbox
from aiosmtpd.smtp import AuthResult, LoginPassword
port, maildir, login, password = sys.argv[1:5]
def check(server, session, envelope, mechanism, data):
    ok = isinstance(data, LoginPassword) and data.login.decode() == login and data.password.decode() == password
    return AuthResult(success=ok, handled=False)
c = Controller(Mailbox(maildir), hostname="127.0.0.1", port=int(port), authenticator=check,
               auth_required=True, auth_require_tls=False)
c.start()
threading.Event().wait()
"#;

/// aiosmtpd that touches a marker file when a mail's DATA begins and takes
/// two seconds to accept it: `python3 -c SLOW_SERVER port maildir marker`.
const SLOW_SERVER: &str = r#"
import asyncio, pathlib, sys, threading
from aiosmtpd.controller import Controller
from aiosmtpd.handlers import Mailbox
port, maildir, marker = sys.argv[1:4]
class Slow(Mailbox):
    async def handle_DATA(self, server, session, envelope):
        pathlib.Path(marker).touch()
        await asyncio.sleep(2)
        return await super().handle_DATA(server, session, envelope)
c = Controller(Slow(maildir), hostname="127.0.0.1", port=int(port))
c.start()
threading.Event().wait()
"#;

impl SmtpServer {
    async fn start() -> Self {
        Self::start_on(free_port()).await
    }

    /// A server that is slow to accept each mail (`SLOW_SERVER`); the
    /// marker file appears when the first mail is being sent.
    async fn start_slow() -> (Self, PathBuf) {
        let port = free_port();
        let dir = tempfile::tempdir().expect("tempdir");
        let maildir = dir.path().join("maildir");
        let marker = dir.path().join("sending");
        let mut cmd = Command::new("python3");
        cmd.args(["-c", SLOW_SERVER])
            .arg(port.to_string())
            .arg(&maildir)
            .arg(&marker);
        (Self::run(cmd, port, maildir, dir).await, marker)
    }

    async fn start_on(port: u16) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let maildir = dir.path().join("maildir");
        let mut cmd = Command::new("python3");
        cmd.args(["-m", "aiosmtpd", "-n", "-l"])
            .arg(format!("127.0.0.1:{port}"))
            .args(["-c", "aiosmtpd.handlers.Mailbox"])
            .arg(&maildir);
        Self::run(cmd, port, maildir, dir).await
    }

    /// A server that accepts mail only after AUTH with these credentials.
    async fn start_with_auth(login: &str, password: &str) -> Self {
        let port = free_port();
        let dir = tempfile::tempdir().expect("tempdir");
        let maildir = dir.path().join("maildir");
        let mut cmd = Command::new("python3");
        cmd.args(["-c", AUTH_SERVER])
            .arg(port.to_string())
            .arg(&maildir)
            .args([login, password]);
        Self::run(cmd, port, maildir, dir).await
    }

    async fn run(mut cmd: Command, port: u16, maildir: PathBuf, dir: tempfile::TempDir) -> Self {
        let mut child = cmd
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("python3 runs (install aiosmtpd with scripts/ensure-tools.sh)");
        let start = Instant::now();
        loop {
            if let Ok(Some(status)) = child.try_wait() {
                panic!(
                    "aiosmtpd exited ({status}); install it: python3 -m pip install aiosmtpd \
                     (scripts/ensure-tools.sh does)"
                );
            }
            if tokio::net::TcpStream::connect(("127.0.0.1", port))
                .await
                .is_ok()
            {
                break;
            }
            assert!(
                start.elapsed() < DEADLINE,
                "aiosmtpd did not start on {port}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Self {
            port,
            maildir,
            child,
            _dir: dir,
        }
    }

    fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port)
    }

    /// Every mail received so far, in arrival order.
    fn mails(&self) -> Vec<Mail> {
        let mut files: Vec<(std::time::SystemTime, PathBuf)> =
            std::fs::read_dir(self.maildir.join("new"))
                .map(|rd| {
                    rd.filter_map(|e| e.ok())
                        .map(|e| {
                            let t = e
                                .metadata()
                                .and_then(|m| m.modified())
                                .unwrap_or(std::time::UNIX_EPOCH);
                            (t, e.path())
                        })
                        .collect()
                })
                .unwrap_or_default();
        files.sort();
        files
            .into_iter()
            .map(|(_, p)| Mail::parse(std::fs::read(p).expect("mail file")))
            .collect()
    }

    /// Waits until at least `n` mails arrived; returns them all.
    async fn wait_for(&self, n: usize) -> Vec<Mail> {
        let start = Instant::now();
        loop {
            let mails = self.mails();
            if mails.len() >= n {
                return mails;
            }
            assert!(
                start.elapsed() < DEADLINE,
                "expected {n} mails, got {}",
                mails.len()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One received mail, parsed.
#[derive(Debug, Clone)]
struct Mail {
    /// Envelope recipients (aiosmtpd's `X-RcptTo`).
    rcpt: Vec<String>,
    from: String,
    to: String,
    subject: String,
    text: String,
    html: String,
    list_unsubscribe: String,
    list_unsubscribe_post: String,
    message_id: String,
    content_type: String,
}

impl Mail {
    fn parse(raw: Vec<u8>) -> Self {
        let msg = mail_parser::MessageParser::default()
            .parse(&raw)
            .expect("a parsable mail");
        let header = |name: &str| {
            msg.header_raw(name)
                .map(|v| v.trim().to_owned())
                .unwrap_or_default()
        };
        let addr = |a: Option<&mail_parser::Address>| {
            a.and_then(|a| a.first())
                .map(|a| {
                    format!(
                        "{} <{}>",
                        a.name().unwrap_or_default(),
                        a.address().unwrap_or_default()
                    )
                })
                .unwrap_or_default()
        };
        Self {
            rcpt: header("X-RcptTo")
                .split(',')
                .map(|s| s.trim().to_owned())
                .filter(|s| !s.is_empty())
                .collect(),
            from: addr(msg.from()),
            to: addr(msg.to()),
            subject: msg.subject().unwrap_or_default().to_owned(),
            text: msg.body_text(0).map(|t| t.into_owned()).unwrap_or_default(),
            html: msg.body_html(0).map(|t| t.into_owned()).unwrap_or_default(),
            list_unsubscribe: header("List-Unsubscribe"),
            list_unsubscribe_post: header("List-Unsubscribe-Post"),
            message_id: msg.message_id().unwrap_or_default().to_owned(),
            content_type: header("Content-Type"),
        }
    }

    /// The one-click URL, pointed at the test server instead of PUBLIC_URL.
    fn unsubscribe_url(&self, app: &TestApp) -> String {
        let url = self
            .list_unsubscribe
            .trim_start_matches('<')
            .trim_end_matches('>');
        assert!(url.starts_with(ORIGIN), "{url}");
        url.replacen(ORIGIN, &app.address, 1)
    }
}

// ---------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------

/// The app with its mail going to `smtp_url`, a batch window of `window`
/// seconds, a fast poll and short retries.
async fn spawn_mail_app(kind: Db, smtp_url: &str, window: u64, extra: &[&str]) -> TestApp {
    let window = window.to_string();
    let mut args = vec![
        "--smtp-url",
        smtp_url,
        "--notify-batch-window-secs",
        &window,
        "--mail-poll-interval-ms",
        "100",
        "--mail-retry-min-secs",
        "1",
        "--mail-retry-max-secs",
        "2",
        "--smtp-timeout-secs",
        "5",
    ];
    args.extend_from_slice(extra);
    spawn_app_with(kind, &args).await
}

/// The address `TestApp::user` gave: "Anna Nowak" is annanowak@firma.pl,
/// letters outside ASCII become their code points.
fn email_of(u: &TestUser) -> String {
    let local: String = u
        .name
        .to_lowercase()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_string()
            } else if c.is_alphanumeric() {
                format!("u{:x}", c as u32)
            } else {
                String::new()
            }
        })
        .collect();
    format!("{local}@firma.pl")
}

async fn outbox_len(app: &TestApp) -> i64 {
    app.scalar_i64("SELECT COUNT(*) FROM email_outbox").await
}

/// Polls `check` until it holds.
async fn eventually<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let start = Instant::now();
    while !check().await {
        assert!(start.elapsed() < DEADLINE, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Waits until the outbox is empty, then gives the workers a few more
/// polls to send anything they should not.
async fn settle(app: &TestApp) {
    eventually("an empty outbox", || async { outbox_len(app).await == 0 }).await;
    tokio::time::sleep(Duration::from_millis(800)).await;
}

fn mails_to<'a>(mails: &'a [Mail], who: &TestUser) -> Vec<&'a Mail> {
    let addr = email_of(who);
    mails.iter().filter(|m| m.rcpt == [addr.clone()]).collect()
}

// ---------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------

mail_test!(
    members_get_a_polish_mail_with_both_parts_link_and_unsubscribe,
    |kind| {
        let smtp = SmtpServer::start().await;
        let app = spawn_mail_app(kind, &smtp.url(), 3, &[]).await;
        let anna = app.user("Anna Nowak").await;
        let jan = app.user("Jan Kowalski").await;
        let ewa = app.user("Ewa Lis").await;
        app.exec(&format!(
            "UPDATE users SET language = 'en' WHERE id = {}",
            ewa.id
        ))
        .await;
        let c = app.conversation(&anna, &[&jan, &ewa], Some("Zarząd")).await;
        app.send(&anna, c.id, "Cześć **wszystkim**, spotkanie o 10:00")
            .await;
        let oops = app.send(&anna, c.id, "ups, pomyłka").await;
        let r = app
            .delete(&anna, &format!("/api/messages/{}", oops.id))
            .await;
        assert!(r.status().is_success(), "delete: {}", r.status());

        let mails = smtp.wait_for(2).await;
        settle(&app).await;
        let mails_now = smtp.mails();
        assert_eq!(mails_now.len(), 2, "one mail per member: {mails_now:#?}");
        assert!(mails_to(&mails, &anna).is_empty(), "the sender gets none");

        let m = mails_to(&mails, &jan)[0].clone();
        assert_eq!(m.rcpt, vec![email_of(&jan)]);
        assert_eq!(m.to, format!("Jan Kowalski <{}>", email_of(&jan)));
        assert_eq!(m.from, "Wiadomości <no-reply@localhost>");
        assert_eq!(m.subject, "Nowa wiadomość w grupie Zarząd");
        assert!(
            m.content_type.starts_with("multipart/alternative"),
            "{}",
            m.content_type
        );
        let link = format!("{ORIGIN}/wiadomosci/{}", c.id);
        for body in [&m.text, &m.html] {
            assert!(body.contains("Anna Nowak"), "{body}");
            assert!(body.contains("spotkanie o 10:00"), "{body}");
            assert!(body.contains(&link), "{body}");
            assert!(
                !body.contains("pomyłka"),
                "deleted messages are left out: {body}"
            );
        }
        assert!(
            m.text.contains("masz 1 nową wiadomość w grupie Zarząd"),
            "{}",
            m.text
        );
        assert!(
            m.text.contains("Cześć wszystkim"),
            "Markdown becomes text: {}",
            m.text
        );
        assert!(m.html.contains(&format!("href=\"{link}\"")), "{}", m.html);
        assert!(
            m.list_unsubscribe.starts_with(&format!(
                "<{ORIGIN}/api/notifications/unsubscribe?token={}.",
                jan.id
            )),
            "{}",
            m.list_unsubscribe
        );
        assert_eq!(m.list_unsubscribe_post, "List-Unsubscribe=One-Click");
        assert!(m.message_id.starts_with("notify."), "{}", m.message_id);
        let unsub = m
            .list_unsubscribe
            .trim_matches(|c| c == '<' || c == '>')
            .to_owned();
        assert!(
            m.text.contains(&unsub),
            "the footer repeats the link: {}",
            m.text
        );

        let e = mails_to(&mails, &ewa)[0];
        assert_eq!(e.subject, "New message in Zarząd");
        assert!(
            e.text.contains("you have 1 new message in Zarząd"),
            "{}",
            e.text
        );
    }
);

mail_test!(muted_and_opted_out_members_get_no_mail, |kind| {
    let smtp = SmtpServer::start().await;
    let app = spawn_mail_app(kind, &smtp.url(), 3, &[]).await;
    let anna = app.user("Anna Nowak").await;
    let jan = app.user("Jan Kowalski").await;
    let ewa = app.user("Ewa Lis").await;
    let olek = app.user("Olek Wrona").await;
    let piotr = app.user("Piotr Zając").await;
    let c = app
        .conversation(&anna, &[&jan, &ewa, &olek, &piotr], Some("Projekt"))
        .await;
    let r = app
        .patch(
            &jan,
            &format!("/api/conversations/{}/settings", c.id),
            json!({ "is_muted": true }),
        )
        .await;
    assert_eq!(r.status(), 200);
    app.exec(&format!(
        "UPDATE users SET notify_email_messages = false WHERE id = {}",
        ewa.id
    ))
    .await;
    app.send(&anna, c.id, "Nowa wersja gotowa").await;
    // Piotr opts out after his notification was queued: it is dropped.
    assert_eq!(outbox_len(&app).await, 2, "queued for Olek and Piotr only");
    app.exec(&format!(
        "UPDATE users SET notify_email_messages = false WHERE id = {}",
        piotr.id
    ))
    .await;

    smtp.wait_for(1).await;
    settle(&app).await;
    let mails = smtp.mails();
    assert_eq!(mails.len(), 1, "{mails:#?}");
    assert_eq!(mails[0].rcpt, vec![email_of(&olek)]);
});

mail_test!(five_messages_in_the_window_make_one_mail, |kind| {
    let smtp = SmtpServer::start().await;
    let app = spawn_mail_app(kind, &smtp.url(), 5, &[]).await;
    let anna = app.user("Anna Nowak").await;
    let jan = app.user("Jan Kowalski").await;
    let c = app.conversation(&anna, &[&jan], None).await;
    for i in 1..=5 {
        app.send(&anna, c.id, &format!("wiadomość numer {i}")).await;
    }
    assert_eq!(outbox_len(&app).await, 1, "one pending row for the batch");
    smtp.wait_for(1).await;
    settle(&app).await;
    let mails = smtp.mails();
    assert_eq!(mails.len(), 1, "{mails:#?}");
    let m = &mails[0];
    assert_eq!(m.rcpt, vec![email_of(&jan)]);
    assert_eq!(m.subject, "Nowe wiadomości od Anna Nowak");
    assert!(
        m.text.contains("masz 5 nowych wiadomości od Anna Nowak"),
        "{}",
        m.text
    );
    for i in 1..=5 {
        assert!(
            m.text.contains(&format!("wiadomość numer {i}")),
            "{}",
            m.text
        );
        assert!(
            m.html.contains(&format!("wiadomość numer {i}")),
            "{}",
            m.html
        );
    }
});

mail_test!(
    a_message_sent_while_its_batch_is_being_mailed_gets_a_mail_too,
    |kind| {
        let (smtp, sending) = SmtpServer::start_slow().await;
        let app = spawn_mail_app(kind, &smtp.url(), 1, &[]).await;
        let anna = app.user("Anna Nowak").await;
        let jan = app.user("Jan Kowalski").await;
        let c = app.conversation(&anna, &[&jan], None).await;
        app.send(&anna, c.id, "pierwsza").await;
        // The worker has read Jan's unread messages and is handing the mail
        // over; a message now is not in it, and must not be forgotten.
        eventually("the first mail in flight", || async { sending.exists() }).await;
        app.send(&anna, c.id, "druga").await;
        let mails = smtp.wait_for(2).await;
        settle(&app).await;
        assert_eq!(smtp.mails().len(), 2, "{:#?}", smtp.mails());
        assert!(mails.iter().all(|m| m.rcpt == vec![email_of(&jan)]));
        assert!(mails[0].text.contains("pierwsza"), "{}", mails[0].text);
        assert!(!mails[0].text.contains("druga"), "{}", mails[0].text);
        assert!(mails[1].text.contains("druga"), "{}", mails[1].text);
    }
);

mail_test!(reading_first_prevents_the_mail, |kind| {
    let smtp = SmtpServer::start().await;
    let app = spawn_mail_app(kind, &smtp.url(), 3, &[]).await;
    let anna = app.user("Anna Nowak").await;
    let jan = app.user("Jan Kowalski").await;
    let c = app.conversation(&anna, &[&jan], None).await;
    app.send(&anna, c.id, "pierwsza").await;
    app.send(&anna, c.id, "druga").await;
    let r = app
        .post(
            &jan,
            &format!("/api/conversations/{}/read", c.id),
            json!({}),
        )
        .await;
    assert_eq!(r.status(), 200);
    settle(&app).await;
    assert!(smtp.mails().is_empty(), "{:#?}", smtp.mails());

    // The worker is alive: what Jan has not read still comes, alone.
    app.send(&anna, c.id, "trzecia").await;
    smtp.wait_for(1).await;
    settle(&app).await;
    let mails = smtp.mails();
    assert_eq!(mails.len(), 1);
    assert!(mails[0].text.contains("trzecia"), "{}", mails[0].text);
    assert!(!mails[0].text.contains("pierwsza"), "{}", mails[0].text);
    assert_eq!(mails[0].subject, "Nowa wiadomość od Anna Nowak");
});

mail_test!(
    a_restart_between_queueing_and_sending_sends_exactly_once,
    |kind| {
        let smtp = SmtpServer::start().await;
        // The first instance polls only at start, so it never sends this.
        let mut first =
            spawn_mail_app(kind, &smtp.url(), 1, &["--mail-poll-interval-ms", "600000"]).await;
        let anna = first.user("Anna Nowak").await;
        let jan = first.user("Jan Kowalski").await;
        let c = first.conversation(&anna, &[&jan], None).await;
        first.send(&anna, c.id, "przed restartem").await;
        assert_eq!(outbox_len(&first).await, 1);
        first.state.begin_shutdown();
        // As if the instance had claimed the row and died: the row is leased
        // for two more seconds, then free again.
        email_outbox::Entity::update_many()
            .col_expr(
                email_outbox::Column::LockedUntil,
                Expr::val(Some(chrono::Utc::now() + chrono::Duration::seconds(2))),
            )
            .filter(Expr::cust("1 = 1"))
            .exec(&first.db)
            .await
            .expect("lease the row");

        // A new instance on the same database, polling normally.
        // (Later flags win.)
        first
            .args
            .extend(["--mail-poll-interval-ms".into(), "100".into()]);
        let second = first.spawn_peer().await;
        let mails = smtp.wait_for(1).await;
        settle(&second).await;
        assert_eq!(smtp.mails().len(), 1, "{mails:#?}");
        assert_eq!(mails[0].rcpt, vec![email_of(&jan)]);
        assert!(mails[0].text.contains("przed restartem"));
    }
);

mail_test!(smtp_down_is_retried_later_and_nothing_is_lost, |kind| {
    let port = free_port();
    let url = format!("smtp://127.0.0.1:{port}");
    let app = spawn_mail_app(kind, &url, 1, &[]).await;
    let anna = app.user("Anna Nowak").await;
    let jan = app.user("Jan Kowalski").await;
    let c = app.conversation(&anna, &[&jan], None).await;
    app.send(&anna, c.id, "czy ktoś odbierze?").await;
    eventually("a failed attempt", || async {
        app.scalar_i64("SELECT CAST(COALESCE(MAX(attempts), 0) AS BIGINT) FROM email_outbox")
            .await
            >= 1
    })
    .await;
    let row = email_outbox::Entity::find()
        .one(&app.db)
        .await
        .expect("query")
        .expect("the row is kept");
    assert!(
        row.last_error
            .as_deref()
            .is_some_and(|e| e.contains("127.0.0.1")),
        "{:?}",
        row.last_error
    );
    assert!(
        row.not_before > row.created_at,
        "a later attempt is scheduled"
    );

    let smtp = SmtpServer::start_on(port).await;
    let mails = smtp.wait_for(1).await;
    settle(&app).await;
    assert_eq!(smtp.mails().len(), 1);
    assert_eq!(mails[0].rcpt, vec![email_of(&jan)]);
    assert!(mails[0].text.contains("czy ktoś odbierze?"));
});

mail_test!(two_instances_send_each_batch_exactly_once, |kind| {
    let smtp = SmtpServer::start().await;
    let app = spawn_mail_app(kind, &smtp.url(), 3, &[]).await;
    let peer = app.spawn_peer().await;
    let anna = app.user("Anna Nowak").await;
    let mut others = Vec::new();
    for name in [
        "Jan Kowalski",
        "Ewa Lis",
        "Olek Wrona",
        "Ola Nowak",
        "Piotr Zając",
    ] {
        others.push(app.user(name).await);
    }
    let refs: Vec<&TestUser> = others.iter().collect();
    let group = app.conversation(&anna, &refs, Some("Wszyscy")).await;
    let direct = app.conversation(&anna, &[&others[0]], None).await;
    for i in 0..3 {
        app.send(&anna, group.id, &format!("grupowa {i}")).await;
    }
    app.send(&anna, direct.id, "tylko do Jana").await;

    smtp.wait_for(6).await;
    settle(&app).await;
    let _ = &peer;
    let mails = smtp.mails();
    assert_eq!(mails.len(), 6, "{mails:#?}");
    for u in &others {
        let to_u = mails_to(&mails, u);
        let expected = if u.id == others[0].id { 2 } else { 1 };
        assert_eq!(to_u.len(), expected, "mails to {}", u.name);
    }
});

mail_test!(
    the_unsubscribe_link_shows_a_page_and_one_click_turns_mail_off,
    |kind| {
        let smtp = SmtpServer::start().await;
        let app = spawn_mail_app(kind, &smtp.url(), 1, &[]).await;
        let anna = app.user("Anna Nowak").await;
        let jan = app.user("Jan Kowalski").await;
        let c = app.conversation(&anna, &[&jan], None).await;
        app.send(&anna, c.id, "hej").await;
        let mail = smtp.wait_for(1).await.remove(0);
        let url = mail.unsubscribe_url(&app);
        let notify_of = |id: i64| {
            let app = &app;
            async move {
                app.scalar_i64(&format!(
                    "SELECT CAST(CASE WHEN notify_email_messages THEN 1 ELSE 0 END AS BIGINT) \
                 FROM users WHERE id = {id}"
                ))
                .await
            }
        };

        // The page asks first and changes nothing.
        let r = bare_client().get(&url).send().await.expect("request");
        assert_eq!(r.status(), 200);
        assert!(
            r.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with("text/html")
        );
        let page = r.text().await.unwrap();
        assert!(page.contains("Wyłącz powiadomienia"), "{page}");
        assert!(page.contains("<form method=\"post\""), "{page}");
        assert_eq!(notify_of(jan.id).await, 1);

        // A bad token changes nothing, for anyone.
        let (id_part, sig) = url
            .rsplit_once("token=")
            .unwrap()
            .1
            .split_once('.')
            .unwrap();
        assert_eq!(id_part, jan.id.to_string());
        let forged = url.replace(
            &format!("token={}.", jan.id),
            &format!("token={}.", anna.id),
        );
        let flipped = {
            let last = if url.ends_with('A') { 'B' } else { 'A' };
            format!("{}{last}", &url[..url.len() - 1])
        };
        for bad in [forged, flipped, url.replace(sig, "")] {
            let r = bare_client().post(&bad).send().await.expect("request");
            assert_problem(r, 422, "validation_failed").await;
            let r = bare_client().get(&bad).send().await.expect("request");
            assert_problem(r, 422, "validation_failed").await;
        }
        assert_eq!(notify_of(anna.id).await, 1);
        assert_eq!(notify_of(jan.id).await, 1);

        // RFC 8058 one-click: a POST with that body, no cookie, no Origin.
        let r = bare_client()
            .post(&url)
            .header("content-type", "application/x-www-form-urlencoded")
            .body("List-Unsubscribe=One-Click")
            .send()
            .await
            .expect("request");
        assert_eq!(r.status(), 200);
        assert!(r.text().await.unwrap().contains("wyłączone"));
        assert_eq!(notify_of(jan.id).await, 0);
        assert_eq!(notify_of(anna.id).await, 1);
        let page = bare_client()
            .get(&url)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(page.contains("są wyłączone"), "{page}");

        // And no more mail.
        app.send(&anna, c.id, "jeszcze raz").await;
        settle(&app).await;
        assert_eq!(smtp.mails().len(), 1);
    }
);

mail_test!(a_member_viewing_the_conversation_gets_no_mail, |kind| {
    let smtp = SmtpServer::start().await;
    let app = spawn_mail_app(kind, &smtp.url(), 3, &[]).await;
    let anna = app.user("Anna Nowak").await;
    let jan = app.user("Jan Kowalski").await;
    let c = app.conversation(&anna, &[&jan], None).await;
    app.send(&anna, c.id, "jesteś?").await;
    // Jan is online and has the conversation open: the app marks what
    // arrives as read, here the first message; the second is still on its way.
    let r = app.post(&jan, "/api/messages/heartbeat", json!({})).await;
    assert_eq!(r.status(), 204);
    let r = app
        .post(
            &jan,
            &format!("/api/conversations/{}/read", c.id),
            json!({}),
        )
        .await;
    assert_eq!(r.status(), 200);
    app.send(&anna, c.id, "widzę, że tak").await;
    settle(&app).await;
    assert!(smtp.mails().is_empty(), "{:#?}", smtp.mails());
});

mail_test!(without_smtp_url_mails_go_to_the_outbox_folder, |kind| {
    let app = spawn_app_with(
        kind,
        &[
            "--notify-batch-window-secs",
            "1",
            "--mail-poll-interval-ms",
            "100",
        ],
    )
    .await;
    let anna = app.user("Anna Nowak").await;
    let jan = app.user("Jan Kowalski").await;
    let c = app.conversation(&anna, &[&jan], None).await;
    app.send(&anna, c.id, "do folderu").await;
    let outbox = app.test_db_dir().join("data").join("outbox");
    let files = || -> Vec<PathBuf> {
        std::fs::read_dir(&outbox)
            .map(|rd| {
                rd.filter_map(|e| e.ok().map(|e| e.path()))
                    .filter(|p| p.extension().is_some_and(|e| e == "eml"))
                    .collect()
            })
            .unwrap_or_default()
    };
    eventually("an .eml file", || async { !files().is_empty() }).await;
    settle(&app).await;
    let files = files();
    assert_eq!(files.len(), 1, "{files:?}");
    let m = Mail::parse(std::fs::read(&files[0]).expect("read .eml"));
    assert_eq!(m.to, format!("Jan Kowalski <{}>", email_of(&jan)));
    assert_eq!(m.subject, "Nowa wiadomość od Anna Nowak");
    assert!(m.text.contains("do folderu"), "{}", m.text);
});

#[test]
fn mail_settings_are_checked_at_start() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().display().to_string();
    let check = |extra: &[&str]| {
        let mut args = vec!["serve", "--data-dir", &data];
        args.extend_from_slice(extra);
        backend::config::Settings::parse_from(args)
            .expect("parses")
            .validate()
            .map(|_| ())
    };
    assert!(check(&[]).is_ok());
    assert!(check(&["--mail-from", "Biuro <biuro@firma.pl>"]).is_ok());
    assert!(check(&["--smtp-url", "smtp://u:p@mail.firma.pl:587?tls=required"]).is_ok());
    for (args, setting) in [
        (&["--mail-from", "nie adres"][..], "MAIL_FROM"),
        (
            &["--smtp-url", "smtp://mail.firma.pl?tls=maybe"][..],
            "SMTP_URL",
        ),
        (
            &["--smtp-url", "smtps://mail.firma.pl?tls=required"][..],
            "SMTP_URL",
        ),
        (
            &["--notify-batch-window-secs", "0"][..],
            "NOTIFY_BATCH_WINDOW_SECS",
        ),
        (
            &["--mail-poll-interval-ms", "0"][..],
            "MAIL_POLL_INTERVAL_MS",
        ),
        (
            &["--mail-retry-min-secs", "10", "--mail-retry-max-secs", "5"][..],
            "MAIL_RETRY",
        ),
    ] {
        let err = check(args).expect_err(setting);
        assert!(err.starts_with(setting) && !err.contains('\n'), "{err}");
    }
}

mail_test!(
    smtp_auth_comes_from_the_url_and_a_wrong_password_is_retried,
    |kind| {
        let smtp = SmtpServer::start_with_auth("powiadomienia", "tajne@hasło").await;
        // A wrong password: refused, kept, retried.
        let wrong = format!("smtp://powiadomienia:zle@127.0.0.1:{}", smtp.port);
        let mut app = spawn_mail_app(kind, &wrong, 1, &[]).await;
        let anna = app.user("Anna Nowak").await;
        let jan = app.user("Jan Kowalski").await;
        let c = app.conversation(&anna, &[&jan], None).await;
        app.send(&anna, c.id, "z hasłem").await;
        eventually("a refused attempt", || async {
            app.scalar_i64("SELECT CAST(COALESCE(MAX(attempts), 0) AS BIGINT) FROM email_outbox")
                .await
                >= 1
        })
        .await;
        let row = email_outbox::Entity::find()
            .one(&app.db)
            .await
            .expect("query")
            .expect("the row is kept");
        let error = row.last_error.unwrap_or_default();
        assert!(
            error.contains("535"),
            "the server's refusal is kept: {error}"
        );
        assert!(!error.contains("zle"), "no password in the error: {error}");
        assert!(smtp.mails().is_empty());

        // Restarted with the right one (percent-encoded in the URL): the kept
        // row goes out.
        app.state.begin_shutdown();
        app.args.extend([
            "--smtp-url".into(),
            format!(
                "smtp://powiadomienia:tajne%40has%C5%82o@127.0.0.1:{}",
                smtp.port
            ),
        ]);
        let _fixed = app.spawn_peer().await;
        let mails = smtp.wait_for(1).await;
        settle(&app).await;
        assert_eq!(smtp.mails().len(), 1);
        assert_eq!(mails[0].rcpt, vec![email_of(&jan)]);
    }
);
