//! [`FaultProxy`]: a small HTTP/1.1 proxy of the tests' own, on 127.0.0.1, between
//! a client (cfy-ap's S3 client) and an upstream server (moto). It logs every
//! request (method, target, what it answered), and injects faults on chosen
//! requests: a connection reset before or after the upstream saw the request, a
//! 500/503 answer of its own, or a delay. And [`request`]: a one-shot HTTP client
//! over a plain `TcpStream`, for the helpers and the proxy's own checks.
//!
//! Every loop is bounded: the accept loop stops when the proxy is dropped,
//! connections time out after [`IO_TIMEOUT`] of silence, heads and bodies have
//! size limits.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Silence on a connection longer than this ends it.
pub const IO_TIMEOUT: Duration = Duration::from_secs(30);
const MAX_HEAD: usize = 64 << 10;
const MAX_BODY: usize = 512 << 20;

/// What the proxy does to a request a rule picked.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Fault {
    /// Reset the client's connection (RST) without forwarding the request.
    Reset,
    /// Forward the request (the upstream applies it), then reset the client's
    /// connection instead of answering: the client cannot know it worked.
    ResetAfter,
    /// Answer this HTTP status (an S3 error document) without forwarding.
    Status(u16),
    /// Wait this long, then forward as usual.
    Delay(Duration),
    /// Wait this long, then reset the connection without forwarding: a
    /// request that hangs and never lands (a client killed meanwhile leaves
    /// no write behind).
    Stall(Duration),
}

/// One request as the proxy saw it.
#[derive(Clone, Debug)]
pub struct Seen {
    pub method: String,
    /// The request target: path and query, as sent.
    pub target: String,
    /// The fault injected, if any.
    pub fault: Option<Fault>,
    /// The status the client was given (None: reset).
    pub status: Option<u16>,
    /// The request's body when it is a POST (a multi-object delete names its
    /// keys there), else empty.
    pub body: Vec<u8>,
}

struct Rule {
    method: String,
    path: String,
    /// Fires on the matching requests numbered `first..first + times` (from 1).
    first: usize,
    times: usize,
    seen: usize,
    fault: Fault,
}

#[derive(Default)]
struct State {
    rules: Vec<Rule>,
    log: Vec<Seen>,
}

pub struct FaultProxy {
    pub port: u16,
    upstream: u16,
    state: Arc<Mutex<State>>,
    stop: Arc<AtomicBool>,
    accept: Option<JoinHandle<()>>,
}

impl FaultProxy {
    /// A proxy on a free loopback port in front of `127.0.0.1:upstream`.
    pub fn start(upstream: u16) -> FaultProxy {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        listener.set_nonblocking(true).unwrap();
        let state = Arc::new(Mutex::new(State::default()));
        let stop = Arc::new(AtomicBool::new(false));
        let accept = {
            let (state, stop) = (state.clone(), stop.clone());
            std::thread::spawn(move || {
                while !stop.load(Ordering::SeqCst) {
                    match listener.accept() {
                        Ok((client, _)) => {
                            let state = state.clone();
                            std::thread::spawn(move || serve(client, upstream, &state));
                        }
                        Err(_) => std::thread::sleep(Duration::from_millis(5)),
                    }
                }
            })
        };
        FaultProxy {
            port,
            upstream,
            state,
            stop,
            accept: Some(accept),
        }
    }

    /// `http://127.0.0.1:PORT`: the endpoint a client uses to go through the proxy.
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn upstream(&self) -> u16 {
        self.upstream
    }

    /// Inject `fault` on the requests of `method` whose target contains `path`
    /// (or, when `path` ends in `$`, ends with the rest of it):
    /// the `first`-th such request (counted from 1 when the rule is added) and the
    /// `times - 1` after it (`usize::MAX`: every one from then on).
    pub fn fault(&self, method: &str, path: &str, first: usize, times: usize, fault: Fault) {
        assert!(first >= 1, "occurrences count from 1");
        self.state.lock().unwrap().rules.push(Rule {
            method: method.to_string(),
            path: path.to_string(),
            first,
            times,
            seen: 0,
            fault,
        });
    }

    /// Forget every rule (the requests already logged stay).
    pub fn clear_faults(&self) {
        self.state.lock().unwrap().rules.clear();
    }

    /// Every request seen so far, in order.
    pub fn log(&self) -> Vec<Seen> {
        self.state.lock().unwrap().log.clone()
    }

    /// Forget the log.
    pub fn clear_log(&self) {
        self.state.lock().unwrap().log.clear();
    }

    /// How many requests of each method were seen.
    pub fn counts(&self) -> BTreeMap<String, usize> {
        let mut out = BTreeMap::new();
        for s in self.log() {
            *out.entry(s.method).or_insert(0) += 1;
        }
        out
    }

    pub fn count(&self, method: &str) -> usize {
        self.log().iter().filter(|s| s.method == method).count()
    }

    /// How many faults were injected.
    pub fn faults_injected(&self) -> usize {
        self.log().iter().filter(|s| s.fault.is_some()).count()
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.accept.take() {
            let _ = t.join();
        }
    }
}

/// The fault the rules pick for this request (each matching rule counts it).
fn pick(state: &Mutex<State>, method: &str, target: &str) -> Option<Fault> {
    let mut st = state.lock().unwrap();
    let mut out = None;
    for r in st.rules.iter_mut() {
        let matches = match r.path.strip_suffix('$') {
            Some(end) => target.ends_with(end),
            None => target.contains(&r.path),
        };
        if r.method.eq_ignore_ascii_case(method) && matches {
            r.seen += 1;
            let last = r.first.saturating_add(r.times);
            if out.is_none() && r.seen >= r.first && r.seen < last {
                out = Some(r.fault);
            }
        }
    }
    out
}

fn record(
    state: &Mutex<State>,
    head: &Head,
    body: &[u8],
    fault: Option<Fault>,
    status: Option<u16>,
) {
    let (method, target) = head.request_line();
    let body = if method == "POST" {
        body.to_vec()
    } else {
        Vec::new()
    };
    state.lock().unwrap().log.push(Seen {
        method,
        target,
        fault,
        status,
        body,
    });
}

/// Ends a connection with a TCP reset (SO_LINGER 0, then close).
fn reset(stream: TcpStream) {
    let _ = rustix::net::sockopt::set_socket_linger(&stream, Some(Duration::ZERO));
    drop(stream);
}

/// One client connection, one request: every answer closes the connection
/// (`Connection: close`), so a client opens a new one for its next request.
fn serve(client: TcpStream, upstream: u16, state: &Mutex<State>) {
    let _ = client.set_read_timeout(Some(IO_TIMEOUT));
    let _ = client.set_write_timeout(Some(IO_TIMEOUT));
    let Ok(mut write_half) = client.try_clone() else {
        return;
    };
    let mut reader = BufReader::new(client);
    let Ok(Some(mut head)) = read_head(&mut reader) else {
        return;
    };
    if head
        .header("expect")
        .is_some_and(|v| v.eq_ignore_ascii_case("100-continue"))
    {
        head.remove("expect");
        if write_half
            .write_all(b"HTTP/1.1 100 Continue\r\n\r\n")
            .is_err()
        {
            return;
        }
    }
    let Ok(body) = read_body(&mut reader, &head, false) else {
        return;
    };
    let (method, target) = head.request_line();
    let fault = pick(state, &method, &target);
    match fault {
        Some(Fault::Reset) => {
            record(state, &head, &body, fault, None);
            reset(write_half);
            return;
        }
        Some(Fault::Status(code)) => {
            record(state, &head, &body, fault, Some(code));
            let _ = write_half.write_all(&error_response(code));
            let _ = write_half.shutdown(Shutdown::Both);
            return;
        }
        Some(Fault::Delay(d)) => std::thread::sleep(d),
        Some(Fault::Stall(d)) => {
            std::thread::sleep(d);
            record(state, &head, &body, fault, None);
            reset(write_half);
            return;
        }
        Some(Fault::ResetAfter) | None => {}
    }
    match forward(upstream, &head, &body) {
        Ok(answer) if fault != Some(Fault::ResetAfter) => {
            record(state, &head, &body, fault, answer.status());
            let _ = write_half.write_all(&answer.bytes);
            let _ = write_half.shutdown(Shutdown::Both);
        }
        _ => {
            record(state, &head, &body, fault, None);
            reset(write_half);
        }
    }
}

/// An S3-style error answer of the proxy's own.
fn error_response(code: u16) -> Vec<u8> {
    let (reason, s3code) = match code {
        503 => ("Service Unavailable", "SlowDown"),
        500 => ("Internal Server Error", "InternalError"),
        _ => ("Injected Fault", "InternalError"),
    };
    let body = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{s3code}</Code><Message>injected by the test's fault proxy</Message><RequestId>fault</RequestId></Error>"
    );
    format!(
        "HTTP/1.1 {code} {reason}\r\nContent-Type: application/xml\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

/// The upstream's whole answer to one request (sent with `Connection: close`,
/// read to its end), with `Connection: close` in its head.
fn forward(upstream: u16, head: &Head, body: &[u8]) -> std::io::Result<Message> {
    let mut up = TcpStream::connect(("127.0.0.1", upstream))?;
    up.set_read_timeout(Some(IO_TIMEOUT))?;
    up.set_write_timeout(Some(IO_TIMEOUT))?;
    let mut h = head.clone();
    h.remove("connection");
    h.headers.push(("Connection".into(), "close".into()));
    up.write_all(&h.to_bytes())?;
    up.write_all(body)?;
    let mut reader = BufReader::new(up);
    let Some(mut rh) = read_head(&mut reader)? else {
        return Err(std::io::Error::other(
            "the upstream closed without answering",
        ));
    };
    let head_request = head.request_line().0.eq_ignore_ascii_case("HEAD");
    let rbody = read_body(&mut reader, &rh, head_request)?;
    rh.remove("connection");
    rh.headers.push(("Connection".into(), "close".into()));
    let mut bytes = rh.to_bytes();
    bytes.extend_from_slice(&rbody);
    Ok(Message { head: rh, bytes })
}

/// A request or response head: the first line and the header fields in order.
#[derive(Clone, Debug)]
pub struct Head {
    pub first: String,
    pub headers: Vec<(String, String)>,
}

impl Head {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    fn remove(&mut self, name: &str) {
        self.headers.retain(|(k, _)| !k.eq_ignore_ascii_case(name));
    }

    /// (method, target) of a request line.
    fn request_line(&self) -> (String, String) {
        let mut it = self.first.split(' ');
        let method = it.next().unwrap_or("").to_string();
        let target = it.next().unwrap_or("").to_string();
        (method, target)
    }

    fn to_bytes(&self) -> Vec<u8> {
        let mut s = format!("{}\r\n", self.first);
        for (k, v) in &self.headers {
            s += &format!("{k}: {v}\r\n");
        }
        s += "\r\n";
        s.into_bytes()
    }
}

struct Message {
    head: Head,
    bytes: Vec<u8>,
}

impl Message {
    fn status(&self) -> Option<u16> {
        self.head.first.split(' ').nth(1)?.parse().ok()
    }
}

/// A head, or None when the stream ends before its first byte.
fn read_head(r: &mut impl BufRead) -> std::io::Result<Option<Head>> {
    let mut lines = Vec::new();
    let mut total = 0;
    loop {
        let mut line = String::new();
        let n = r.by_ref().take(MAX_HEAD as u64).read_line(&mut line)?;
        if n == 0 {
            if lines.is_empty() && total == 0 {
                return Ok(None);
            }
            return Err(std::io::Error::other("the stream ended inside a head"));
        }
        total += n;
        if total > MAX_HEAD {
            return Err(std::io::Error::other("head too long"));
        }
        let line = line.trim_end_matches(['\r', '\n']).to_string();
        if line.is_empty() {
            if lines.is_empty() {
                continue; // a stray CRLF between messages
            }
            break;
        }
        lines.push(line);
    }
    let first = lines.remove(0);
    let headers = lines
        .into_iter()
        .filter_map(|l| {
            let (k, v) = l.split_once(':')?;
            Some((k.trim().to_string(), v.trim().to_string()))
        })
        .collect();
    Ok(Some(Head { first, headers }))
}

/// A message's body as it was framed on the wire (chunks kept as chunks).
/// A response with neither length nor chunking runs to the end of the stream.
fn read_body(r: &mut impl BufRead, head: &Head, no_body: bool) -> std::io::Result<Vec<u8>> {
    let is_response = head.first.starts_with("HTTP/");
    let status: u16 = if is_response {
        head.first
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or(0)
    } else {
        0
    };
    if no_body || status == 204 || status == 304 || (100..200).contains(&status) {
        return Ok(Vec::new());
    }
    let chunked = head
        .header("transfer-encoding")
        .is_some_and(|v| v.to_ascii_lowercase().contains("chunked"));
    let mut out = Vec::new();
    if chunked {
        // Each chunk: a size line, the data, CRLF; a 0 chunk, trailers, CRLF.
        for _ in 0..1_000_000 {
            let mut line = String::new();
            if r.by_ref().take(4096).read_line(&mut line)? == 0 {
                return Err(std::io::Error::other(
                    "the stream ended inside a chunked body",
                ));
            }
            out.extend_from_slice(line.as_bytes());
            let size_text = line.trim().split(';').next().unwrap_or("").to_string();
            let size = usize::from_str_radix(&size_text, 16)
                .map_err(|_| std::io::Error::other(format!("bad chunk size {size_text:?}")))?;
            if size == 0 {
                for _ in 0..1000 {
                    let mut t = String::new();
                    if r.by_ref().take(MAX_HEAD as u64).read_line(&mut t)? == 0 {
                        return Ok(out);
                    }
                    out.extend_from_slice(t.as_bytes());
                    if t.trim().is_empty() {
                        return Ok(out);
                    }
                }
                return Err(std::io::Error::other("too many trailers"));
            }
            if out.len() + size > MAX_BODY {
                return Err(std::io::Error::other("body too large"));
            }
            let start = out.len();
            out.resize(start + size + 2, 0);
            r.read_exact(&mut out[start..])?;
        }
        return Err(std::io::Error::other("too many chunks"));
    }
    if let Some(len) = head.header("content-length") {
        let len: usize = len
            .parse()
            .map_err(|_| std::io::Error::other("bad content-length"))?;
        if len > MAX_BODY {
            return Err(std::io::Error::other("body too large"));
        }
        out.resize(len, 0);
        r.read_exact(&mut out)?;
        return Ok(out);
    }
    if is_response {
        r.take(MAX_BODY as u64).read_to_end(&mut out)?;
    }
    Ok(out)
}

/// An answer to [`request`].
#[derive(Debug)]
pub struct Response {
    pub status: u16,
    pub head: Head,
    pub body: Vec<u8>,
}

impl Response {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// One HTTP/1.1 request to `127.0.0.1:port` on a new connection (`Connection:
/// close`), `headers` added as given; the whole answer, or the error that ended
/// the exchange (a reset, a timeout).
pub fn request(
    port: u16,
    method: &str,
    target: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> std::io::Result<Response> {
    let mut s = TcpStream::connect(("127.0.0.1", port))?;
    s.set_read_timeout(Some(IO_TIMEOUT))?;
    s.set_write_timeout(Some(IO_TIMEOUT))?;
    let mut head = format!(
        "{method} {target} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (k, v) in headers {
        head += &format!("{k}: {v}\r\n");
    }
    head += "\r\n";
    s.write_all(head.as_bytes())?;
    s.write_all(body)?;
    let mut reader = BufReader::new(s);
    let Some(h) = read_head(&mut reader)? else {
        return Err(std::io::Error::other("the server closed without answering"));
    };
    let status = h
        .first
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| std::io::Error::other(format!("bad status line {:?}", h.first)))?;
    let body = read_body(&mut reader, &h, method.eq_ignore_ascii_case("HEAD"))?;
    Ok(Response {
        status,
        head: h,
        body,
    })
}

/// Polls `ready` every 50 ms until it holds or `limit` passes; whether it held.
pub fn wait_until(limit: Duration, mut ready: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    loop {
        if ready() {
            return true;
        }
        if start.elapsed() > limit {
            return false;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}
