//! Composes a notification mail: a text and an HTML part (Polish, or
//! English for users whose `language` is `en`), the senders and previews of
//! the unread messages, a link to the conversation in the web app, and
//! RFC 2369/8058 `List-Unsubscribe` headers whose one-click link turns the
//! notifications off. Pure: no database, no network.

use lettre::Message;
use lettre::message::header::{ContentTransferEncoding, Header, HeaderName, HeaderValue};
use lettre::message::{Mailbox, MultiPart, SinglePart};
use url::Url;

/// At most this many messages are quoted; older unread ones are counted.
pub const MAX_SHOWN: usize = 20;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    Pl,
    En,
}

impl Lang {
    /// Polish unless the user chose English.
    pub fn of(language: &str) -> Self {
        if language.trim().eq_ignore_ascii_case("en") {
            Self::En
        } else {
            Self::Pl
        }
    }
}

/// One quoted message.
#[derive(Debug, Clone)]
pub struct Item {
    pub sender: String,
    /// Plain-text preview (empty for a message with only attachments).
    pub preview: String,
}

/// Everything a notification says.
#[derive(Debug, Clone)]
pub struct Notification {
    pub to: Mailbox,
    pub lang: Lang,
    /// The group's name, or for a 1:1 the other person's name.
    pub title: String,
    pub is_group: bool,
    /// Oldest first; at most `MAX_SHOWN`.
    pub items: Vec<Item>,
    /// All unread messages (≥ `items.len()`).
    pub unread: u64,
    pub link: String,
    pub unsubscribe: String,
    pub message_id: String,
}

/// The sender address: MAIL_FROM, or `Wiadomości <no-reply@host>` with the
/// host of PUBLIC_URL (`localhost` when that is an IP address, which is no
/// mail domain). The error names the setting.
pub fn sender(mail_from: Option<&str>, public_url: &Url) -> Result<Mailbox, String> {
    match mail_from.map(str::trim).filter(|s| !s.is_empty()) {
        Some(s) => s.parse().map_err(|e| {
            format!("MAIL_FROM is not an e-mail address like \"Name <a@b.pl>\" ({e}): {s:?}")
        }),
        None => {
            let host = match public_url.host() {
                Some(url::Host::Domain(d)) => d.to_owned(),
                _ => "localhost".to_owned(),
            };
            format!("Wiadomości <no-reply@{host}>")
                .parse()
                .map_err(|e| format!("PUBLIC_URL host {host:?} gives no valid default MAIL_FROM ({e}); set MAIL_FROM"))
        }
    }
}

/// `{PUBLIC_URL}/wiadomosci/{id}`.
pub fn conversation_link(public_url: &Url, conversation_id: i64) -> String {
    format!(
        "{}/wiadomosci/{conversation_id}",
        public_url.as_str().trim_end_matches('/')
    )
}

/// `{PUBLIC_URL}/api/notifications/unsubscribe?token=…`.
pub fn unsubscribe_link(public_url: &Url, token: &str) -> String {
    let mut u = public_url.clone();
    u.set_path(&format!(
        "{}/api/notifications/unsubscribe",
        public_url.path().trim_end_matches('/')
    ));
    u.set_query(None);
    u.query_pairs_mut().append_pair("token", token);
    u.to_string()
}

/// `<…>` around the URL, as RFC 2369 wants.
#[derive(Debug, Clone)]
struct ListUnsubscribe(String);

impl Header for ListUnsubscribe {
    fn name() -> HeaderName {
        HeaderName::new_from_ascii_str("List-Unsubscribe")
    }
    fn parse(s: &str) -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {
        Ok(Self(s.to_owned()))
    }
    fn display(&self) -> HeaderValue {
        HeaderValue::new(Self::name(), format!("<{}>", self.0))
    }
}

/// RFC 8058: the link may be POSTed to unsubscribe with one click.
#[derive(Debug, Clone)]
struct ListUnsubscribePost;

impl Header for ListUnsubscribePost {
    fn name() -> HeaderName {
        HeaderName::new_from_ascii_str("List-Unsubscribe-Post")
    }
    fn parse(_: &str) -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {
        Ok(Self)
    }
    fn display(&self) -> HeaderValue {
        HeaderValue::new(Self::name(), "List-Unsubscribe=One-Click".to_owned())
    }
}

/// RFC 3834: machine-made, so auto-responders stay quiet.
#[derive(Debug, Clone)]
struct AutoSubmitted;

impl Header for AutoSubmitted {
    fn name() -> HeaderName {
        HeaderName::new_from_ascii_str("Auto-Submitted")
    }
    fn parse(_: &str) -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {
        Ok(Self)
    }
    fn display(&self) -> HeaderValue {
        HeaderValue::new(Self::name(), "auto-generated".to_owned())
    }
}

/// "1 nową wiadomość", "3 nowe wiadomości", "5 nowych wiadomości".
fn pl_new_messages(n: u64) -> String {
    let form = if n == 1 {
        "nową wiadomość"
    } else if (2..=4).contains(&(n % 10)) && !(12..=14).contains(&(n % 100)) {
        "nowe wiadomości"
    } else {
        "nowych wiadomości"
    };
    format!("{n} {form}")
}

/// The subject line.
pub fn subject(n: &Notification) -> String {
    let one = n.unread == 1;
    match (n.lang, n.is_group) {
        (Lang::Pl, false) if one => format!("Nowa wiadomość od {}", n.title),
        (Lang::Pl, false) => format!("Nowe wiadomości od {}", n.title),
        (Lang::Pl, true) if one => format!("Nowa wiadomość w grupie {}", n.title),
        (Lang::Pl, true) => format!("Nowe wiadomości w grupie {}", n.title),
        (Lang::En, false) if one => format!("New message from {}", n.title),
        (Lang::En, false) => format!("New messages from {}", n.title),
        (Lang::En, true) if one => format!("New message in {}", n.title),
        (Lang::En, true) => format!("New messages in {}", n.title),
    }
}

struct Texts {
    greeting: String,
    intro: String,
    attachment: &'static str,
    more: Option<String>,
    open: &'static str,
    why: &'static str,
    unsubscribe: &'static str,
}

fn texts(n: &Notification) -> Texts {
    let name = n.to.name.clone().unwrap_or_default();
    let hidden = n.unread.saturating_sub(n.items.len() as u64);
    match n.lang {
        Lang::Pl => Texts {
            greeting: if name.is_empty() {
                "Dzień dobry,".into()
            } else {
                format!("Dzień dobry, {name},")
            },
            intro: if n.is_group {
                format!("masz {} w grupie {}:", pl_new_messages(n.unread), n.title)
            } else {
                format!("masz {} od {}:", pl_new_messages(n.unread), n.title)
            },
            attachment: "(załącznik)",
            more: (hidden > 0).then(|| format!("Pozostałe nieprzeczytane: {hidden}.")),
            open: "Otwórz rozmowę",
            why: "Dostajesz tę wiadomość, bo masz włączone powiadomienia e-mail o nowych wiadomościach.",
            unsubscribe: "Wyłącz powiadomienia e-mail",
        },
        Lang::En => Texts {
            greeting: if name.is_empty() {
                "Hello,".into()
            } else {
                format!("Hello {name},")
            },
            intro: {
                let what = if n.unread == 1 {
                    "1 new message".to_owned()
                } else {
                    format!("{} new messages", n.unread)
                };
                if n.is_group {
                    format!("you have {what} in {}:", n.title)
                } else {
                    format!("you have {what} from {}:", n.title)
                }
            },
            attachment: "(attachment)",
            more: (hidden > 0).then(|| format!("Older unread messages: {hidden}.")),
            open: "Open the conversation",
            why: "You get this because e-mail notifications about new messages are on.",
            unsubscribe: "Turn e-mail notifications off",
        },
    }
}

fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

/// The plain-text part.
pub fn text_body(n: &Notification) -> String {
    let t = texts(n);
    let mut out = format!("{}\n\n{}\n\n", t.greeting, t.intro);
    for item in &n.items {
        let preview = if item.preview.is_empty() {
            t.attachment
        } else {
            &item.preview
        };
        out.push_str(&format!("{}:\n  {preview}\n\n", item.sender));
    }
    if let Some(more) = &t.more {
        out.push_str(&format!("{more}\n\n"));
    }
    out.push_str(&format!(
        "{}: {}\n\n-- \n{}\n{}: {}\n",
        t.open, n.link, t.why, t.unsubscribe, n.unsubscribe
    ));
    out
}

/// The HTML part: simple, inline-styled, every text escaped (message
/// previews are user input).
pub fn html_body(n: &Notification) -> String {
    let t = texts(n);
    let lang = match n.lang {
        Lang::Pl => "pl",
        Lang::En => "en",
    };
    let mut items = String::new();
    for item in &n.items {
        let preview = if item.preview.is_empty() {
            format!("<em>{}</em>", escape(t.attachment))
        } else {
            escape(&item.preview)
        };
        items.push_str(&format!(
            "<p style=\"margin:0 0 12px\"><strong>{}</strong><br>{preview}</p>\n",
            escape(&item.sender)
        ));
    }
    let more = t
        .more
        .as_deref()
        .map(|m| format!("<p style=\"color:#555\">{}</p>\n", escape(m)))
        .unwrap_or_default();
    format!(
        "<!doctype html>\n<html lang=\"{lang}\"><head><meta charset=\"utf-8\"><title>{subject}</title></head>\n\
<body style=\"font-family:Arial,Helvetica,sans-serif;font-size:15px;color:#222\">\n\
<p>{greeting}</p>\n<p>{intro}</p>\n{items}{more}\
<p><a href=\"{link}\" style=\"display:inline-block;padding:10px 16px;background:#1a56db;color:#fff;text-decoration:none;border-radius:6px\">{open}</a></p>\n\
<hr style=\"border:none;border-top:1px solid #ddd\">\n\
<p style=\"font-size:12px;color:#777\">{why} <a href=\"{unsub}\">{unsub_label}</a>.</p>\n\
</body></html>\n",
        subject = escape(&subject(n)),
        greeting = escape(&t.greeting),
        intro = escape(&t.intro),
        link = escape(&n.link),
        open = escape(t.open),
        why = escape(t.why),
        unsub = escape(&n.unsubscribe),
        unsub_label = escape(t.unsubscribe),
    )
}

/// The whole mail.
pub fn compose(n: &Notification, from: &Mailbox) -> Result<Message, lettre::error::Error> {
    // Quoted-printable keeps the Polish text readable in the raw mail and
    // its lines short.
    let text = SinglePart::builder()
        .header(lettre::message::header::ContentType::TEXT_PLAIN)
        .header(ContentTransferEncoding::QuotedPrintable)
        .body(text_body(n));
    let html = SinglePart::builder()
        .header(lettre::message::header::ContentType::TEXT_HTML)
        .header(ContentTransferEncoding::QuotedPrintable)
        .body(html_body(n));
    Message::builder()
        .from(from.clone())
        .to(n.to.clone())
        .subject(subject(n))
        .message_id(Some(n.message_id.clone()))
        .header(ListUnsubscribe(n.unsubscribe.clone()))
        .header(ListUnsubscribePost)
        .header(AutoSubmitted)
        .multipart(MultiPart::alternative().singlepart(text).singlepart(html))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(lang: Lang, unread: u64) -> Notification {
        Notification {
            to: "Jan Kowalski <jan@firma.pl>".parse().unwrap(),
            lang,
            title: "Anna Nowak".into(),
            is_group: false,
            items: vec![Item {
                sender: "Anna Nowak".into(),
                preview: "<b>Cześć</b> & witaj".into(),
            }],
            unread,
            link: "https://portal.pl/wiadomosci/7".into(),
            unsubscribe: "https://portal.pl/api/notifications/unsubscribe?token=1.abc".into(),
            message_id: "<notify.1.2@portal.pl>".into(),
        }
    }

    #[test]
    fn polish_plurals() {
        assert_eq!(pl_new_messages(1), "1 nową wiadomość");
        assert_eq!(pl_new_messages(3), "3 nowe wiadomości");
        assert_eq!(pl_new_messages(5), "5 nowych wiadomości");
        assert_eq!(pl_new_messages(12), "12 nowych wiadomości");
        assert_eq!(pl_new_messages(22), "22 nowe wiadomości");
    }

    #[test]
    fn previews_are_escaped_in_html_and_counted_when_hidden() {
        let n = sample(Lang::Pl, 25);
        let html = html_body(&n);
        assert!(
            html.contains("&lt;b&gt;Cześć&lt;/b&gt; &amp; witaj"),
            "{html}"
        );
        assert!(!html.contains("<b>Cześć"));
        assert!(text_body(&n).contains("Pozostałe nieprzeczytane: 24."));
        assert_eq!(subject(&n), "Nowe wiadomości od Anna Nowak");
        assert_eq!(subject(&sample(Lang::En, 1)), "New message from Anna Nowak");
    }

    #[test]
    fn default_sender_and_links() {
        let u = Url::parse("https://portal.example.pl/").unwrap();
        assert_eq!(
            sender(None, &u).unwrap().email.to_string(),
            "no-reply@portal.example.pl"
        );
        let ip = Url::parse("http://127.0.0.1:8080").unwrap();
        assert_eq!(
            sender(None, &ip).unwrap().email.to_string(),
            "no-reply@localhost"
        );
        assert!(sender(Some("not an address"), &u).is_err());
        assert_eq!(
            conversation_link(&u, 5),
            "https://portal.example.pl/wiadomosci/5"
        );
        let sub = Url::parse("https://example.pl/czat/").unwrap();
        assert_eq!(
            unsubscribe_link(&sub, "3.a-b_c"),
            "https://example.pl/czat/api/notifications/unsubscribe?token=3.a-b_c"
        );
    }

    #[test]
    fn the_mail_has_both_parts_and_the_unsubscribe_headers() {
        let n = sample(Lang::Pl, 1);
        let from = sender(None, &Url::parse("https://portal.pl").unwrap()).unwrap();
        let raw = String::from_utf8(compose(&n, &from).unwrap().formatted()).unwrap();
        assert!(
            raw.contains(
                "List-Unsubscribe: <https://portal.pl/api/notifications/unsubscribe?token=1.abc>"
            ),
            "{raw}"
        );
        assert!(raw.contains("List-Unsubscribe-Post: List-Unsubscribe=One-Click"));
        assert!(raw.contains("multipart/alternative"));
        assert!(raw.contains("text/plain"));
        assert!(raw.contains("text/html"));
        assert!(raw.contains("Message-ID: <notify.1.2@portal.pl>"));
    }
}
