//! The HTTP parser of one connection's plain bytes (clear, or decrypted from TLS): HTTP/1.x,
//! or HTTP/2 from the connection preface, from a mid-connection join, or after an HTTP/1.1
//! `Upgrade: h2c` answered `101 Switching Protocols`. One set of calls for both, so the app
//! layer and the TLS connection drive either the same way.

use std::collections::VecDeque;
use std::sync::Arc;

use apitap_parsers::h2::{looks_like_h2, H2Config, H2ConnParser, H2Stats, PREFACE};
use apitap_parsers::http::{Direction, HttpConfig, HttpConnParser, HttpStats, HttpTransaction, StreamState};

/// The counters both versions' parsers count into, summed over the layer's connections.
#[derive(Debug, Default)]
pub struct ParseStats {
    /// HTTP/1.x.
    pub http: HttpStats,
    /// HTTP/2 (its `http` part holds what both versions count: requests, bytes, gaps ...).
    pub h2: H2Stats,
    /// Whether any connection was parsed as HTTP/1.x, and as HTTP/2 (before that their
    /// counters are not shown).
    pub http_seen: bool,
    /// See `http_seen`.
    pub h2_seen: bool,
    /// Connections switched from HTTP/1.1 to HTTP/2 by `Upgrade: h2c`.
    pub h2c_upgrades: u64,
}

/// The settings a parser is made with.
#[derive(Clone, Copy)]
pub struct ParseCfg<'a> {
    /// HTTP (both versions: limits, redaction, body capture, the credential key).
    pub http: &'a Arc<HttpConfig>,
    /// HTTP/2's own limits.
    pub h2: &'a Arc<H2Config>,
}

/// What the first bytes of a connection say about the HTTP version.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Version {
    /// The client's bytes start with the HTTP/2 connection preface.
    Http2Preface,
    /// No preface, but frames (a capture that started after it).
    Http2Frames,
    /// Not enough bytes to tell.
    NeedMore,
    /// Neither.
    No,
}

/// HTTP/2 or not, from the first bytes of the side that would be the client (`client`) and
/// of the other side (`server`).
pub fn http2_start(client: &[u8], server: &[u8]) -> Version {
    let n = client.len().min(PREFACE.len());
    if !client.is_empty() && client.get(..n) == PREFACE.get(..n) {
        return if n == PREFACE.len() { Version::Http2Preface } else { Version::NeedMore };
    }
    if looks_like_h2(client) || looks_like_h2(server) {
        return Version::Http2Frames;
    }
    Version::No
}

enum Inner {
    H1(Box<HttpConnParser>),
    H2(Box<H2ConnParser>),
}

/// One connection's HTTP parser.
pub struct PlainParser {
    inner: Inner,
    /// Transactions the HTTP/1.x parser had finished when its connection switched to HTTP/2:
    /// handed out before HTTP/2's.
    pending: VecDeque<HttpTransaction>,
}

impl PlainParser {
    /// An HTTP/1.x parser (which switches to HTTP/2 if the connection upgrades to h2c).
    pub fn http1(cfg: ParseCfg<'_>, stats: &mut ParseStats) -> Self {
        stats.http_seen = true;
        PlainParser { inner: Inner::H1(Box::new(HttpConnParser::new(Arc::clone(cfg.http)))), pending: VecDeque::new() }
    }

    /// An HTTP/2 parser.
    pub fn http2(cfg: ParseCfg<'_>, stats: &mut ParseStats) -> Self {
        stats.h2_seen = true;
        PlainParser { inner: Inner::H2(Box::new(H2ConnParser::new(Arc::clone(cfg.http), Arc::clone(cfg.h2)))), pending: VecDeque::new() }
    }

    /// Whether the connection is parsed as HTTP/2.
    pub fn is_http2(&self) -> bool {
        matches!(self.inner, Inner::H2(_))
    }

    /// Feeds bytes of one direction, in order.
    pub fn handle_data(&mut self, cfg: ParseCfg<'_>, stats: &mut ParseStats, ts: u64, dir: Direction, data: &[u8]) {
        match &mut self.inner {
            Inner::H2(p) => {
                let _ = p.handle_data(&mut stats.h2, ts, dir, data);
            }
            Inner::H1(p) => {
                let progress = p.handle_data(&mut stats.http, ts, dir, data);
                if progress.state == StreamState::Tunnel {
                    self.upgrade(cfg, stats);
                    if self.is_http2() {
                        let rest = data.get(progress.consumed..).unwrap_or_default();
                        if !rest.is_empty() {
                            self.handle_data(cfg, stats, ts, dir, rest);
                        }
                    }
                }
            }
        }
    }

    /// After the HTTP/1.x parser turned the connection into a tunnel: when the tunnel is an
    /// `Upgrade: h2c`, HTTP/2 takes over, with the upgrading request as its stream 1 (whose
    /// transaction, the 101 exchange, is not handed out: stream 1 is the same request).
    fn upgrade(&mut self, cfg: ParseCfg<'_>, stats: &mut ParseStats) {
        let Inner::H1(p) = &mut self.inner else { return };
        while let Some(t) = p.poll_transaction() {
            self.pending.push_back(t);
        }
        let Some(at) = self.pending.iter().rposition(|t| t.tunnel.as_deref().is_some_and(|p| p.eq_ignore_ascii_case("h2c")) && t.status_code == Some(101)) else {
            return;
        };
        let Some(request) = self.pending.remove(at) else { return };
        // The HTTP/1.x parser's partial state (nothing, after a 101) is dropped with it.
        p.handle_close(&mut stats.http, request.response_end.unwrap_or(request.ts));
        while let Some(t) = p.poll_transaction() {
            self.pending.push_back(t);
        }
        self.inner = Inner::H2(Box::new(H2ConnParser::after_upgrade(Arc::clone(cfg.http), Arc::clone(cfg.h2), &request)));
        stats.h2_seen = true;
        stats.h2c_upgrades += 1;
    }

    /// A gap of `len` bytes in one direction.
    pub fn handle_gap(&mut self, stats: &mut ParseStats, ts: u64, dir: Direction, len: u64) {
        match &mut self.inner {
            Inner::H1(p) => p.handle_gap(&mut stats.http, ts, dir, len),
            Inner::H2(p) => p.handle_gap(&mut stats.h2, ts, dir, len),
        }
    }

    /// The end of one direction.
    pub fn handle_eof(&mut self, stats: &mut ParseStats, ts: u64, dir: Direction) {
        match &mut self.inner {
            Inner::H1(p) => p.handle_eof(&mut stats.http, ts, dir),
            Inner::H2(p) => p.handle_eof(&mut stats.h2, ts, dir),
        }
    }

    /// The connection closed: what is pending becomes transactions.
    pub fn handle_close(&mut self, stats: &mut ParseStats, ts: u64) {
        match &mut self.inner {
            Inner::H1(p) => p.handle_close(&mut stats.http, ts),
            Inner::H2(p) => p.handle_close(&mut stats.h2, ts),
        }
    }

    /// The next finished transaction.
    pub fn poll_transaction(&mut self) -> Option<HttpTransaction> {
        if let Some(t) = self.pending.pop_front() {
            return Some(t);
        }
        match &mut self.inner {
            Inner::H1(p) => p.poll_transaction(),
            Inner::H2(p) => p.poll_transaction(),
        }
    }

    /// Bytes the parser holds (bounded by its configuration).
    pub fn buffered_bytes(&self) -> usize {
        match &self.inner {
            Inner::H1(p) => p.buffered_bytes(),
            Inner::H2(p) => p.buffered_bytes(),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    #[test]
    fn the_preface_or_frames_say_http2() {
        assert_eq!(http2_start(PREFACE, b""), Version::Http2Preface);
        assert_eq!(http2_start(&PREFACE[..10], b""), Version::NeedMore);
        assert_eq!(http2_start(b"GET / HTTP/1.1\r\n", b""), Version::No);
        assert_eq!(http2_start(b"", b""), Version::No);
    }
}
