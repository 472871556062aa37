//! A small SSE client for the tests: reads `GET /api/messages/stream` over
//! real HTTP and hands out parsed frames.

use std::time::Duration;

use futures_util::StreamExt;
use serde_json::Value;
use tokio::sync::mpsc;

#[derive(Debug, Clone, Default)]
pub struct Frame {
    pub id: Option<String>,
    pub event: Option<String>,
    pub data: String,
    pub retry: Option<u64>,
}

impl Frame {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.data).unwrap_or(Value::Null)
    }
}

pub struct SseStream {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    rx: mpsc::UnboundedReceiver<Frame>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for SseStream {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn parse(block: &str) -> Option<Frame> {
    let mut f = Frame::default();
    let mut any = false;
    for line in block.lines() {
        if line.starts_with(':') {
            continue;
        }
        let (k, v) = line.split_once(':').unwrap_or((line, ""));
        let v = v.strip_prefix(' ').unwrap_or(v);
        any = true;
        match k {
            "id" => f.id = Some(v.to_owned()),
            "event" => f.event = Some(v.to_owned()),
            "retry" => f.retry = v.parse().ok(),
            "data" => {
                if !f.data.is_empty() {
                    f.data.push('\n');
                }
                f.data.push_str(v);
            }
            _ => {}
        }
    }
    any.then_some(f)
}

/// Opens the stream with `req` (a prepared GET with auth).
pub async fn open(req: reqwest::RequestBuilder) -> SseStream {
    try_open(req).await.expect("stream request")
}

/// `open` for a server that may be away (the fault tests): a request that
/// fails is the caller's to handle.
pub async fn try_open(req: reqwest::RequestBuilder) -> Result<SseStream, reqwest::Error> {
    let res = req.send().await?;
    Ok(from_response(res))
}

/// Reads the frames of a response (whatever its status).
fn from_response(res: reqwest::Response) -> SseStream {
    let status = res.status().as_u16();
    let headers = res.headers().clone();
    let (tx, rx) = mpsc::unbounded_channel();
    let task = tokio::spawn(async move {
        let mut body = res.bytes_stream();
        let mut buf = String::new();
        while let Some(Ok(chunk)) = body.next().await {
            buf.push_str(&String::from_utf8_lossy(&chunk));
            while let Some(i) = buf.find("\n\n") {
                let block: String = buf.drain(..i + 2).collect();
                if let Some(f) = parse(&block)
                    && tx.send(f).is_err()
                {
                    return;
                }
            }
        }
    });
    SseStream {
        status,
        headers,
        rx,
        task,
    }
}

impl SseStream {
    /// The next frame, or None once the stream has ended; waits as long as
    /// it takes (the caller bounds it).
    pub async fn recv(&mut self) -> Option<Frame> {
        self.rx.recv().await
    }

    /// The next frame (including `retry:`-only frames), or panic after 10 s.
    pub async fn next(&mut self) -> Frame {
        tokio::time::timeout(Duration::from_secs(10), self.rx.recv())
            .await
            .expect("an SSE frame within 10 s")
            .expect("stream still open")
    }

    /// The next frame with an `event:` name, within 10 s (frames without
    /// one, such as keep-alives, do not extend the wait).
    pub async fn next_event(&mut self) -> Frame {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        loop {
            let f = tokio::time::timeout_at(deadline, self.rx.recv())
                .await
                .expect("an SSE event within 10 s")
                .expect("stream still open");
            if f.event.is_some() {
                return f;
            }
        }
    }

    /// The next event that is not about presence (contacts coming and
    /// going interleave with everything else).
    pub async fn next_non_presence(&mut self) -> Frame {
        let wait = Duration::from_secs(10);
        tokio::time::timeout(wait, async {
            loop {
                let f = self.next_event().await;
                if f.event.as_deref() != Some("presence") {
                    return f;
                }
            }
        })
        .await
        .expect("a non-presence event within 10 s")
    }

    /// Asserts that no event other than presence arrives within `wait`.
    pub async fn assert_quiet(&mut self, wait: Duration) {
        let deadline = tokio::time::Instant::now() + wait;
        while let Ok(Some(f)) = tokio::time::timeout_at(deadline, self.rx.recv()).await {
            if f.event.is_some() && f.event.as_deref() != Some("presence") {
                panic!("unexpected frame {f:?}");
            }
        }
    }

    /// Asserts that no presence event arrives within `wait` (no flapping,
    /// no second announcement).
    pub async fn assert_no_presence(&mut self, wait: Duration) {
        let deadline = tokio::time::Instant::now() + wait;
        while let Ok(Some(f)) = tokio::time::timeout_at(deadline, self.rx.recv()).await {
            assert_ne!(f.event.as_deref(), Some("presence"), "{f:?}");
        }
    }

    /// Asserts that the server ends the stream within `wait`.
    pub async fn assert_closed(&mut self, wait: Duration) {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            match tokio::time::timeout_at(deadline, self.rx.recv()).await {
                Ok(Some(_)) => continue,
                Ok(None) => return,
                Err(_) => panic!("the stream was still open after {wait:?}"),
            }
        }
    }
}
