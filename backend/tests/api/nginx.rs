//! The repo's nginx site (deploy/nginx.conf) for real: Debian's nginx,
//! started as a plain process on loopback, in front of two instances that
//! share PostgreSQL and Redis. Events must stream through it at once (not
//! held in a buffer), and a message sent through either instance reaches a
//! stream that nginx opened on one of them.
//!
//! Skipped (with a message) only where the nginx binary is missing;
//! `make test` installs it (scripts/ensure-tools.sh).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::json;

use crate::helpers::{Db, TestApp, spawn_app_with_redis};
use crate::sse;

const SITE: &str = include_str!("../../../deploy/nginx.conf");

fn nginx_binary() -> Option<PathBuf> {
    let candidates = [
        std::env::var("NGINX_BIN").ok().map(PathBuf::from),
        Some(PathBuf::from("/usr/sbin/nginx")),
    ];
    candidates.into_iter().flatten().find(|p| p.is_file())
}

/// deploy/nginx.conf with the upstream on the test instances, plain HTTP on
/// `port`, and without the port-80 redirect server and the TLS lines.
fn render_site(site: &str, port: u16, a: u16, b: u16) -> String {
    let mut site = site.to_owned();
    // Drop the whole `server { listen 80; … }` block.
    if let Some(at) = site.find("    listen 80;") {
        let start = site[..at].rfind("server {").expect("server block");
        let mut depth = 0;
        let mut end = start;
        for (i, c) in site[start..].char_indices() {
            match c {
                '{' => depth += 1,
                '}' => {
                    depth -= 1;
                    if depth == 0 {
                        end = start + i + 1;
                        break;
                    }
                }
                _ => {}
            }
        }
        site.replace_range(start..end, "");
    }
    site.lines()
        .filter(|l| {
            let t = l.trim_start();
            !t.starts_with("ssl_") && !t.starts_with("listen [::]")
        })
        .map(|l| {
            if l.trim_start().starts_with("listen 443") {
                format!("    listen 127.0.0.1:{port};")
            } else {
                l.replace("server 127.0.0.1:8080", &format!("server 127.0.0.1:{a}"))
                    .replace("server 127.0.0.1:8081", &format!("server 127.0.0.1:{b}"))
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

struct Nginx {
    child: Child,
    port: u16,
    _dir: tempfile::TempDir,
}

impl Drop for Nginx {
    fn drop(&mut self) {
        // SIGTERM: the master stops its workers (SIGKILL would orphan them).
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        for _ in 0..50 {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Nginx {
    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    async fn start(bin: &Path, a: u16, b: u16) -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .expect("a free port");
        let dir = tempfile::tempdir().expect("tempdir");
        let d = dir.path().display().to_string();
        std::fs::write(dir.path().join("site.conf"), render_site(SITE, port, a, b)).unwrap();
        // As root, workers would switch to an unprivileged user that cannot
        // write the temp dirs here.
        let root = Command::new("id")
            .arg("-u")
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
            .unwrap_or(false);
        let conf = format!(
            "{user}worker_processes 1;\npid {d}/nginx.pid;\nerror_log {d}/error.log warn;\n\
             events {{ worker_connections 256; }}\n\
             http {{\n  access_log {d}/access.log;\n  client_body_temp_path {d}/body;\n  \
             proxy_temp_path {d}/proxy;\n  fastcgi_temp_path {d}/fastcgi;\n  \
             uwsgi_temp_path {d}/uwsgi;\n  scgi_temp_path {d}/scgi;\n  include {d}/site.conf;\n}}\n",
            user = if root { "user root;\n" } else { "" },
        );
        std::fs::write(dir.path().join("nginx.conf"), conf).unwrap();
        let test = Command::new(bin)
            .args(["-t", "-p", &d, "-e", &format!("{d}/error.log"), "-c"])
            .arg(dir.path().join("nginx.conf"))
            .output()
            .expect("nginx -t");
        assert!(
            test.status.success(),
            "nginx -t rejected the rendered deploy/nginx.conf: {}",
            String::from_utf8_lossy(&test.stderr)
        );
        let child = Command::new(bin)
            .args(["-p", &d, "-e", &format!("{d}/error.log"), "-c"])
            .arg(dir.path().join("nginx.conf"))
            .args(["-g", "daemon off;"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start nginx");
        let nginx = Nginx {
            child,
            port,
            _dir: dir,
        };
        for _ in 0..100 {
            if tokio::net::TcpStream::connect(("127.0.0.1", port))
                .await
                .is_ok()
            {
                return nginx;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("nginx did not listen on {port} within 5 s");
    }
}

fn port_of(app: &TestApp) -> u16 {
    app.address
        .rsplit(':')
        .next()
        .and_then(|p| p.parse().ok())
        .expect("port")
}

#[test]
fn the_rendered_site_keeps_the_sse_location_and_both_instances() {
    let site = render_site(SITE, 9000, 9001, 9002);
    assert!(site.contains("listen 127.0.0.1:9000;"), "{site}");
    assert!(site.contains("server 127.0.0.1:9001") && site.contains("server 127.0.0.1:9002"));
    assert!(
        !site.contains("listen 80") && !site.contains("ssl_certificate"),
        "{site}"
    );
    let sse = &site[site
        .find("location = /api/messages/stream")
        .expect("SSE location")..];
    let sse = &sse[..sse.find('}').unwrap()];
    for line in [
        "proxy_buffering off;",
        "proxy_http_version 1.1;",
        "proxy_set_header Connection \"\";",
        "proxy_read_timeout 1h;",
    ] {
        assert!(sse.contains(line), "the SSE location lacks {line}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_stream_through_nginx_at_once_from_either_instance() {
    let Some(bin) = nginx_binary() else {
        eprintln!("SKIPPED: nginx is not installed (scripts/ensure-tools.sh installs nginx-light)");
        return;
    };
    let a = spawn_app_with_redis(Db::Postgres).await;
    let b = a.spawn_peer().await;
    let proxy = Nginx::start(&bin, port_of(&a), port_of(&b)).await;
    let anna = a.user("Anna").await;
    let jan = a.user("Jan").await;
    let c = a.conversation(&anna, &[&jan], None).await;

    // Jan's stream goes through nginx to one of the two instances.
    let mut stream = sse::open(jan.client.get(proxy.url("/api/messages/stream"))).await;
    assert_eq!(stream.status, 200);
    assert_eq!(stream.headers["content-type"], "text/event-stream");
    let first = tokio::time::timeout(Duration::from_secs(3), stream.next_event())
        .await
        .expect("the first event passed nginx at once");
    assert_eq!(first.event.as_deref(), Some("connected"));

    // Sent straight to A, then straight to B: whichever instance holds the
    // stream, one of the two crossed instances (Redis). Each event is a few
    // hundred bytes, far below nginx's buffer, so arriving within the
    // deadline while the stream stays open means nothing held it back.
    for (via, text) in [(&a, "przez instancję A"), (&b, "przez instancję B")] {
        let m = via.send(&anna, c.id, text).await;
        let f = tokio::time::timeout(Duration::from_secs(2), stream.next_non_presence())
            .await
            .unwrap_or_else(|_| panic!("'{text}' did not come through nginx within 2 s"));
        assert_eq!(f.event.as_deref(), Some("new_message"));
        assert_eq!(f.json()["message"]["id"], m.id);
        assert_eq!(f.json()["message"]["content"], text);
    }

    // And a message sent through nginx itself.
    let r = anna
        .client
        .post(proxy.url(&format!("/api/conversations/{}/messages", c.id)))
        .json(&json!({ "content": "przez nginx" }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let f = tokio::time::timeout(Duration::from_secs(2), stream.next_non_presence())
        .await
        .expect("the message sent through nginx within 2 s");
    assert_eq!(f.json()["message"]["content"], "przez nginx");
}
