//! `messaging doctor`: checks what a deployment depends on — configuration,
//! database (reachable, migrations), Redis (PING), SMTP (greeting and EHLO),
//! storage (DATA_DIR writable) and the built web app — and reports one line
//! per check. It changes nothing a running server relies on (it may create
//! an empty DATA_DIR or the migrations table, as `serve` would), and every
//! network check is bounded by a timeout, so a black-holed host cannot hang
//! it.

use std::sync::Arc;
use std::time::Duration;

use migration::{Migrator, MigratorTrait};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use url::Url;

use crate::config::{Settings, redact};

/// The longest one check may take.
pub const TIMEOUT: Duration = Duration::from_secs(5);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Ok,
    /// Not configured: nothing to check (e.g. no REDIS_URL).
    Skipped,
    Failed,
}

/// The outcome of one check: a name and one line for the operator.
#[derive(Debug, Clone)]
pub struct Check {
    pub name: &'static str,
    pub status: Status,
    pub detail: String,
}

impl std::fmt::Display for Check {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let status = match self.status {
            Status::Ok => "ok",
            Status::Skipped => "skip",
            Status::Failed => "FAIL",
        };
        // One line, whatever an error message contains.
        let detail = self.detail.replace(['\r', '\n'], " ");
        write!(f, "{status:<4}  {:<13} {detail}", self.name)
    }
}

fn check(name: &'static str, r: Result<String, String>) -> Check {
    match r {
        Ok(detail) => Check {
            name,
            status: Status::Ok,
            detail,
        },
        Err(detail) => Check {
            name,
            status: Status::Failed,
            detail,
        },
    }
}

fn skipped(name: &'static str, detail: &str) -> Check {
    Check {
        name,
        status: Status::Skipped,
        detail: detail.to_owned(),
    }
}

/// Runs every check, in order.
pub async fn run(settings: &Settings) -> Vec<Check> {
    let mut out = vec![check(
        "configuration",
        settings.validate().map(|c| {
            format!(
                "valid (public URL {}, listening on {})",
                c.public_url, c.bind
            )
        }),
    )];
    out.push(check("database", database(settings).await));
    out.push(match settings.redis_url.as_deref().map(str::trim) {
        Some(url) if !url.is_empty() => check("redis", bounded(redis(url)).await),
        _ => skipped(
            "redis",
            "REDIS_URL is not set: real time runs in-process (one instance)",
        ),
    });
    out.push(match settings.smtp_url.as_deref().map(str::trim) {
        Some(url) if !url.is_empty() => check("smtp", bounded(smtp(url)).await),
        _ => skipped(
            "smtp",
            "SMTP_URL is not set: e-mails are written to the log",
        ),
    });
    out.push(check("storage", storage(settings).await));
    out.push(check("web app", web_app(settings)));
    out
}

async fn bounded(f: impl Future<Output = Result<String, String>>) -> Result<String, String> {
    tokio::time::timeout(TIMEOUT, f)
        .await
        .unwrap_or_else(|_| Err(format!("no answer within {} s", TIMEOUT.as_secs())))
}

async fn database(settings: &Settings) -> Result<String, String> {
    let url = settings.db.url();
    let shown = redact(&url);
    let kind = crate::db::DbKind::from_url(&url)
        .ok_or_else(|| format!("{shown}: not a postgres:// or sqlite: URL"))?;
    if kind == crate::db::DbKind::Sqlite {
        // Connecting creates the file; its directory must exist.
        settings.db.validate()?;
    }
    // The pool retries a refused connection until its timeout; a plain
    // connect first names the real cause (refused, no route, unresolvable).
    if kind == crate::db::DbKind::Postgres
        && let Ok(u) = Url::parse(&url)
        && let Ok((host, port)) = address(&u, 5432)
    {
        tokio::time::timeout(TIMEOUT, connect(&host, port))
            .await
            .map_err(|_| {
                format!(
                    "{shown}: no answer from {host}:{port} within {} s",
                    TIMEOUT.as_secs()
                )
            })?
            .map_err(|e| format!("{shown}: {e}"))?;
    }
    let conn = tokio::time::timeout(TIMEOUT, crate::db::connect(&url, 1))
        .await
        .map_err(|_| format!("{shown}: no answer within {} s", TIMEOUT.as_secs()))?
        .map_err(|e| format!("{shown}: cannot connect: {e}"))?;
    let status = async {
        let applied = Migrator::get_applied_migrations(&conn).await?;
        let pending = Migrator::get_pending_migrations(&conn).await?;
        Ok::<_, sea_orm::DbErr>((applied.len(), pending.len()))
    };
    let (applied, pending) = tokio::time::timeout(TIMEOUT, status)
        .await
        .map_err(|_| {
            format!(
                "{shown}: migration status took over {} s",
                TIMEOUT.as_secs()
            )
        })?
        .map_err(|e| format!("{shown}: cannot read the migration status: {e}"))?;
    conn.close_by_ref().await.ok();
    let kind = match kind {
        crate::db::DbKind::Postgres => "PostgreSQL",
        crate::db::DbKind::Sqlite => "SQLite",
    };
    Ok(if pending == 0 {
        format!("{kind} {shown}: {applied} migrations applied, none pending")
    } else {
        format!(
            "{kind} {shown}: {applied} migrations applied, {pending} pending \
             (`messaging serve` applies them at start, or `messaging migrate`)"
        )
    })
}

/// `host:port` of a URL, with a default port.
fn address(url: &Url, default_port: u16) -> Result<(String, u16), String> {
    let host = url
        .host_str()
        .filter(|h| !h.is_empty())
        .ok_or_else(|| "the URL has no host".to_owned())?;
    let host = host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_owned();
    Ok((host, url.port().unwrap_or(default_port)))
}

async fn connect(host: &str, port: u16) -> Result<TcpStream, String> {
    TcpStream::connect((host, port))
        .await
        .map_err(|e| format!("cannot connect to {host}:{port}: {e}"))
}

/// One RESP command as an array of bulk strings.
fn resp(args: &[&str]) -> Vec<u8> {
    let mut out = format!("*{}\r\n", args.len()).into_bytes();
    for a in args {
        out.extend_from_slice(format!("${}\r\n{a}\r\n", a.len()).as_bytes());
    }
    out
}

/// AUTH when the URL has credentials, then PING, on a plain connection.
async fn redis(url: &str) -> Result<String, String> {
    let shown = redact(url);
    let u = Url::parse(url).map_err(|e| format!("{shown}: not a URL: {e}"))?;
    let (host, port) = address(&u, 6379).map_err(|e| format!("{shown}: {e}"))?;
    let stream = connect(&host, port)
        .await
        .map_err(|e| format!("{shown}: {e}"))?;
    let (read, mut write) = stream.into_split();
    let mut read = BufReader::new(read);
    let mut line = String::new();
    let mut ask = async |cmd: Vec<u8>| -> Result<String, String> {
        write
            .write_all(&cmd)
            .await
            .map_err(|e| format!("write failed: {e}"))?;
        line.clear();
        read.read_line(&mut line)
            .await
            .map_err(|e| format!("read failed: {e}"))?;
        Ok(line.trim_end().to_owned())
    };
    let password = u.password().map(percent_decode);
    if let Some(pass) = password {
        let user = percent_decode(u.username());
        let cmd = if user.is_empty() {
            resp(&["AUTH", &pass])
        } else {
            resp(&["AUTH", &user, &pass])
        };
        let reply = ask(cmd).await.map_err(|e| format!("{shown}: {e}"))?;
        if !reply.starts_with('+') {
            return Err(format!(
                "{shown}: AUTH refused: {}",
                reply.trim_start_matches('-')
            ));
        }
    }
    let reply = ask(resp(&["PING"]))
        .await
        .map_err(|e| format!("{shown}: {e}"))?;
    if reply == "+PONG" {
        Ok(format!("{shown}: PING answered PONG"))
    } else if reply.is_empty() {
        Err(format!(
            "{shown}: the server closed the connection (not Redis?)"
        ))
    } else {
        Err(format!(
            "{shown}: PING answered {:?}",
            reply.trim_start_matches('-')
        ))
    }
}

fn percent_decode(s: &str) -> String {
    url::form_urlencoded::parse(format!("x={s}").as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default()
}

/// Reads one SMTP reply (all its lines); returns the code and the last line.
fn smtp_reply(r: &mut impl std::io::BufRead) -> Result<(u16, String), String> {
    let mut line = String::new();
    loop {
        line.clear();
        let n = r
            .read_line(&mut line)
            .map_err(|e| format!("read failed: {e}"))?;
        if n == 0 {
            return Err("the server closed the connection".into());
        }
        let code = line
            .get(..3)
            .and_then(|c| c.parse::<u16>().ok())
            .ok_or_else(|| format!("not an SMTP reply: {:?}", line.trim_end()))?;
        // `250-…` continues, `250 …` ends the reply.
        if line.as_bytes().get(3) != Some(&b'-') {
            return Ok((code, line.trim_end().to_owned()));
        }
    }
}

/// The greeting (220), EHLO (250) and QUIT; returns the greeting.
fn smtp_talk<S: std::io::Read + std::io::Write>(stream: S) -> Result<String, String> {
    let mut s = std::io::BufReader::new(stream);
    let (code, greeting) = smtp_reply(&mut s)?;
    if code != 220 {
        return Err(format!("greeting {greeting:?}, expected 220"));
    }
    s.get_mut()
        .write_all(b"EHLO messaging-doctor\r\n")
        .and_then(|()| s.get_mut().flush())
        .map_err(|e| format!("write failed: {e}"))?;
    let (code, last) = smtp_reply(&mut s)?;
    if code != 250 {
        return Err(format!("EHLO answered {last:?}"));
    }
    let _ = s.get_mut().write_all(b"QUIT\r\n");
    let _ = s.get_mut().flush();
    Ok(greeting)
}

/// Connects (over TLS for smtps://) and talks; blocking, so it runs on the
/// blocking pool with socket timeouts: one connection and a few lines need
/// no async TLS stack.
async fn smtp(url: &str) -> Result<String, String> {
    let shown = redact(url);
    let u = Url::parse(url).map_err(|e| format!("{shown}: not a URL: {e}"))?;
    let tls = u.scheme() == "smtps";
    // As mail clients do when the URL names no port: 465 for implicit TLS,
    // 587 when STARTTLS is asked for, 25 otherwise.
    let default_port = if tls {
        465
    } else if u.query_pairs().any(|(k, _)| k == "tls") {
        587
    } else {
        25
    };
    let (host, port) = address(&u, default_port).map_err(|e| format!("{shown}: {e}"))?;
    let talk = move || -> Result<String, String> {
        use std::net::ToSocketAddrs;
        let addr = (host.as_str(), port)
            .to_socket_addrs()
            .map_err(|e| format!("cannot resolve {host}: {e}"))?
            .next()
            .ok_or_else(|| format!("{host} has no address"))?;
        let sock = std::net::TcpStream::connect_timeout(&addr, TIMEOUT)
            .map_err(|e| format!("cannot connect to {host}:{port}: {e}"))?;
        let _ = sock.set_read_timeout(Some(TIMEOUT));
        let _ = sock.set_write_timeout(Some(TIMEOUT));
        if !tls {
            return smtp_talk(sock);
        }
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let roots = rustls::RootCertStore {
            roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
        };
        let config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| format!("TLS setup: {e}"))?
            .with_root_certificates(roots)
            .with_no_client_auth();
        let name = rustls::pki_types::ServerName::try_from(host.clone())
            .map_err(|e| format!("not a TLS server name: {e}"))?;
        let conn = rustls::ClientConnection::new(Arc::new(config), name)
            .map_err(|e| format!("TLS setup: {e}"))?;
        smtp_talk(rustls::StreamOwned::new(conn, sock))
    };
    let greeting = tokio::task::spawn_blocking(talk)
        .await
        .map_err(|e| format!("{shown}: check failed: {e}"))?
        .map_err(|e| format!("{shown}: {e}"))?;
    let how = if tls { " over TLS" } else { "" };
    Ok(format!("{shown}: greeted{how} ({greeting}), EHLO accepted"))
}

/// DATA_DIR exists (or can be made) and a file can be written there; with
/// ATTACHMENTS_S3_BUCKET set, an object can also be written to and removed
/// from the bucket.
async fn storage(settings: &Settings) -> Result<String, String> {
    let dir = &settings.db.data_dir;
    std::fs::create_dir_all(dir)
        .map_err(|e| format!("DATA_DIR {} cannot be created: {e}", dir.display()))?;
    let probe = dir.join(format!(".doctor-{}", std::process::id()));
    let written = std::fs::write(&probe, b"messaging doctor\n")
        .and_then(|()| std::fs::File::open(&probe)?.sync_all());
    let _ = std::fs::remove_file(&probe);
    written.map_err(|e| format!("DATA_DIR {} is not writable: {e}", dir.display()))?;
    let local = format!("DATA_DIR {} is writable", dir.display());
    let Some(s3) = settings.storage.s3_config()? else {
        return Ok(local);
    };
    let bucket = crate::storage::Storage::s3(&s3)?;
    let key = format!(".doctor/{}", std::process::id());
    let probe = async {
        bucket
            .put(&key, bytes::Bytes::from_static(b"messaging doctor\n"))
            .await
            .map_err(|e| format!("cannot write: {e}"))?;
        bucket
            .delete(&key)
            .await
            .map_err(|e| format!("cannot delete: {e}"))?;
        Ok::<_, String>(())
    };
    bounded(async { probe.await.map(|()| String::new()) })
        .await
        .map_err(|e| format!("S3 bucket {}: {e}", s3.bucket))?;
    Ok(format!("{local}; S3 bucket {} is writable", s3.bucket))
}

/// STATIC_DIR holds a built SPA.
fn web_app(settings: &Settings) -> Result<String, String> {
    let index = settings.static_dir.join("index.html");
    if index.is_file() {
        Ok(format!("{} is there", index.display()))
    } else {
        Err(format!(
            "no {}: the web app is not built (trunk build --release --offline) or STATIC_DIR is wrong",
            index.display()
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_line_per_check_whatever_the_error_says() {
        let c = Check {
            name: "redis",
            status: Status::Failed,
            detail: "a\nb\r\nc".into(),
        };
        assert_eq!(c.to_string(), "FAIL  redis         a b  c");
    }

    #[test]
    fn resp_commands_are_bulk_strings() {
        assert_eq!(resp(&["PING"]), b"*1\r\n$4\r\nPING\r\n");
        assert_eq!(
            resp(&["AUTH", "p@ss"]),
            b"*2\r\n$4\r\nAUTH\r\n$4\r\np@ss\r\n"
        );
    }
}
