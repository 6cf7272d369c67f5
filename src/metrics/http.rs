//! One connection of the endpoint: the TLS handshake (when on), one request head read with
//! httparse under `max_header_bytes` and `max_headers`, authentication, one response, close.
//! Every read and write waits at most `io_timeout_ms` and the whole connection lasts at most
//! `request_timeout_ms`. Keep-alive, request bodies and HTTP/2 are not supported: each
//! response says `Connection: close`.

use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rustls::ServerConnection;

use super::config::LoadedConfig;
use super::exposition::CONTENT_TYPE;
use super::health::HealthStatus;
use super::render::render_scrape;
use super::server::{MetricsShared, Refusal};

/// Bytes read from the socket at a time.
const READ_CHUNK: usize = 4096;

/// The connection's stream, plain or TLS.
enum Conn {
    Plain(TcpStream),
    Tls(Box<rustls::StreamOwned<ServerConnection, TcpStream>>),
}

impl Conn {
    fn tcp(&self) -> &TcpStream {
        match self {
            Conn::Plain(s) => s,
            Conn::Tls(s) => &s.sock,
        }
    }
}

impl Read for Conn {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Conn::Plain(s) => s.read(buf),
            Conn::Tls(s) => s.read(buf),
        }
    }
}

impl Write for Conn {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Conn::Plain(s) => s.write(buf),
            Conn::Tls(s) => s.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Conn::Plain(s) => s.flush(),
            Conn::Tls(s) => s.flush(),
        }
    }
}

/// The time left before `deadline`, at most `io`; an error once it has passed.
fn budget(deadline: Instant, io: Duration) -> io::Result<Duration> {
    let left = deadline.saturating_duration_since(Instant::now());
    if left < Duration::from_millis(1) {
        return Err(io::Error::new(io::ErrorKind::TimedOut, "request_timeout_ms reached"));
    }
    Ok(left.min(io))
}

fn arm(tcp: &TcpStream, deadline: Instant, io: Duration) -> io::Result<()> {
    let d = budget(deadline, io)?;
    tcp.set_read_timeout(Some(d))?;
    tcp.set_write_timeout(Some(d))
}

fn is_timeout(e: &io::Error) -> bool {
    matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut)
}

/// Serves one connection to its end. Never panics on what the client sends.
pub fn serve(tcp: TcpStream, cfg: &LoadedConfig, shared: &MetricsShared) {
    let deadline = Instant::now() + cfg.request_timeout;
    if tcp.set_nonblocking(false).is_err() {
        return;
    }
    let _ = tcp.set_nodelay(true);
    let mut conn = match &cfg.tls {
        None => Conn::Plain(tcp),
        Some(tls) => match handshake(tcp, tls, deadline, cfg.io_timeout) {
            Ok(c) => c,
            Err(r) => {
                shared.count_refusal(r);
                return;
            }
        },
    };
    let head = match read_head(&mut conn, cfg, deadline) {
        Ok(head) => head,
        Err(Outcome::Refused(r)) => {
            shared.count_refusal(r);
            return;
        }
        Err(Outcome::Respond(code, why)) => {
            let resp = Response::text(code, why);
            finish(&mut conn, &resp, false, deadline, cfg.io_timeout, shared);
            return;
        }
    };
    let resp = respond(&head, cfg, shared);
    finish(&mut conn, &resp, head.method == "HEAD", deadline, cfg.io_timeout, shared);
}

fn handshake(mut tcp: TcpStream, tls: &Arc<rustls::ServerConfig>, deadline: Instant, io: Duration) -> Result<Conn, Refusal> {
    let mut tls_conn = ServerConnection::new(tls.clone()).map_err(|_| Refusal::TlsHandshake)?;
    while tls_conn.is_handshaking() {
        arm(&tcp, deadline, io).map_err(|_| Refusal::Timeout)?;
        match tls_conn.complete_io(&mut tcp) {
            Ok((0, 0)) if tls_conn.is_handshaking() && !tls_conn.wants_write() => return Err(Refusal::Incomplete),
            Ok(_) => {}
            Err(e) if is_timeout(&e) => return Err(Refusal::Timeout),
            Err(e) if e.kind() == io::ErrorKind::InvalidData => {
                // Send the alert rustls queued (e.g. certificate required), so the client
                // learns why rather than seeing a reset.
                while tls_conn.wants_write() {
                    if tls_conn.write_tls(&mut tcp).is_err() {
                        break;
                    }
                }
                return Err(Refusal::TlsHandshake);
            }
            Err(_) => return Err(Refusal::Incomplete),
        }
    }
    Ok(Conn::Tls(Box::new(rustls::StreamOwned::new(tls_conn, tcp))))
}

/// A request head, owned (small: bounded by `max_header_bytes`).
struct Head {
    method: String,
    path: String,
    authorization: Vec<Vec<u8>>,
}

enum Outcome {
    Refused(Refusal),
    Respond(u16, &'static str),
}

fn read_head(conn: &mut Conn, cfg: &LoadedConfig, deadline: Instant) -> Result<Head, Outcome> {
    let mut buf: Vec<u8> = Vec::with_capacity(READ_CHUNK.min(cfg.max_header_bytes));
    let mut chunk = [0u8; READ_CHUNK];
    loop {
        let mut headers = vec![httparse::EMPTY_HEADER; cfg.max_headers];
        let mut req = httparse::Request::new(&mut headers);
        match req.parse(&buf) {
            Ok(httparse::Status::Complete(_)) => {
                let authorization = req
                    .headers
                    .iter()
                    .filter(|h| h.name.eq_ignore_ascii_case("authorization"))
                    .map(|h| h.value.to_vec())
                    .collect();
                return Ok(Head {
                    method: req.method.unwrap_or("").to_string(),
                    path: req.path.unwrap_or("").to_string(),
                    authorization,
                });
            }
            Ok(httparse::Status::Partial) => {}
            Err(httparse::Error::TooManyHeaders) => return Err(Outcome::Respond(431, "too many header lines\n")),
            Err(_) => return Err(Outcome::Respond(400, "malformed request\n")),
        }
        if buf.len() >= cfg.max_header_bytes {
            return Err(Outcome::Respond(431, "request head too large\n"));
        }
        arm(conn.tcp(), deadline, cfg.io_timeout).map_err(|_| Outcome::Refused(Refusal::Timeout))?;
        let room = (cfg.max_header_bytes - buf.len()).min(READ_CHUNK);
        let n = match conn.read(chunk.get_mut(..room).unwrap_or(&mut [])) {
            Ok(0) => return Err(Outcome::Refused(Refusal::Incomplete)),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) if is_timeout(&e) => return Err(Outcome::Refused(Refusal::Timeout)),
            Err(_) => return Err(Outcome::Refused(Refusal::Incomplete)),
        };
        buf.extend_from_slice(chunk.get(..n).unwrap_or(&[]));
    }
}

struct Response {
    code: u16,
    content_type: &'static str,
    extra: Vec<(&'static str, &'static str)>,
    body: Vec<u8>,
}

impl Response {
    fn text(code: u16, body: &str) -> Response {
        Response { code, content_type: "text/plain; charset=utf-8", extra: Vec::new(), body: body.as_bytes().to_vec() }
    }
}

fn reason(code: u16) -> &'static str {
    match code {
        200 => "OK",
        400 => "Bad Request",
        401 => "Unauthorized",
        404 => "Not Found",
        405 => "Method Not Allowed",
        431 => "Request Header Fields Too Large",
        503 => "Service Unavailable",
        _ => "Unknown",
    }
}

/// Whether the request carries the configured token: exactly one `Authorization` header,
/// scheme `Bearer` (any case), then the token.
fn authorized(head: &Head, cfg: &LoadedConfig) -> Result<(), &'static str> {
    let Some(token) = &cfg.token else { return Ok(()) };
    let [value] = head.authorization.as_slice() else {
        return Err(if head.authorization.is_empty() { "Bearer realm=\"apitap\"" } else { "Bearer realm=\"apitap\", error=\"invalid_request\"" });
    };
    let presented = value.get(..7).filter(|s| s.eq_ignore_ascii_case(b"bearer ")).and_then(|_| value.get(7..));
    match presented {
        Some(p) if token.matches(p) => Ok(()),
        _ => Err("Bearer realm=\"apitap\", error=\"invalid_token\""),
    }
}

fn respond(head: &Head, cfg: &LoadedConfig, shared: &MetricsShared) -> Response {
    // Authentication comes first, so that a client without credentials learns nothing,
    // not even which paths exist.
    if let Err(challenge) = authorized(head, cfg) {
        let mut r = Response::text(401, "authentication required\n");
        r.extra.push(("WWW-Authenticate", challenge));
        return r;
    }
    let path = head.path.split('?').next().unwrap_or("");
    let known = matches!(path, "/metrics" | "/health" | "/ready");
    if !known {
        return Response::text(404, "not found; try /metrics, /health or /ready\n");
    }
    if head.method != "GET" && head.method != "HEAD" {
        let mut r = Response::text(405, "only GET and HEAD\n");
        r.extra.push(("Allow", "GET, HEAD"));
        return r;
    }
    let (metrics, health, ready) = shared.snapshot();
    match path {
        "/metrics" => {
            let body = render_scrape(&metrics, &health, &shared.endpoint_stats());
            Response { code: 200, content_type: CONTENT_TYPE, extra: Vec::new(), body: body.into_bytes() }
        }
        "/health" => Response {
            code: health.http_status(),
            content_type: "application/json",
            extra: Vec::new(),
            body: health.to_json(ready).into_bytes(),
        },
        _ => {
            let ok = ready && health.status != HealthStatus::Failing;
            Response {
                code: if ok { 200 } else { 503 },
                content_type: "application/json",
                extra: Vec::new(),
                body: health.to_json(ready).into_bytes(),
            }
        }
    }
}

fn finish(conn: &mut Conn, resp: &Response, head_only: bool, deadline: Instant, io: Duration, shared: &MetricsShared) {
    let mut out = format!(
        "HTTP/1.1 {} {}\r\nContent-Type: {}\r\nContent-Length: {}\r\nCache-Control: no-store\r\nConnection: close\r\n",
        resp.code,
        reason(resp.code),
        resp.content_type,
        resp.body.len()
    )
    .into_bytes();
    for (name, value) in &resp.extra {
        out.extend_from_slice(format!("{name}: {value}\r\n").as_bytes());
    }
    out.extend_from_slice(b"\r\n");
    if !head_only {
        out.extend_from_slice(&resp.body);
    }
    let sent = write_all(conn, &out, deadline, io);
    match sent {
        Ok(()) => shared.count_response(resp.code),
        Err(e) if is_timeout(&e) => shared.count_refusal(Refusal::Timeout),
        Err(_) => shared.count_refusal(Refusal::Incomplete),
    }
    if let Conn::Tls(s) = conn {
        s.conn.send_close_notify();
        let _ = arm(&s.sock, deadline, io).and_then(|_| s.flush());
    }
    let _ = conn.tcp().shutdown(std::net::Shutdown::Write);
}

fn write_all(conn: &mut Conn, mut data: &[u8], deadline: Instant, io: Duration) -> io::Result<()> {
    while !data.is_empty() {
        arm(conn.tcp(), deadline, io)?;
        match conn.write(data) {
            Ok(0) => return Err(io::Error::new(io::ErrorKind::WriteZero, "peer closed")),
            Ok(n) => data = data.get(n..).unwrap_or(&[]),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    arm(conn.tcp(), deadline, io)?;
    conn.flush()
}
