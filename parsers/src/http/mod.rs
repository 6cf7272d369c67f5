//! Sans-IO HTTP/1.x: turns the two reassembled byte streams of a TCP connection into
//! request/response transactions.
//!
//! ```
//! use std::sync::Arc;
//! use apitap_parsers::{Direction, HttpConfig, HttpParser};
//!
//! let mut p = HttpParser::new(Arc::new(HttpConfig::default()));
//! let _ = p.handle_data(1, Direction::ToServer, b"GET /a?token=s3cret HTTP/1.1\r\nHost: x\r\n\r\n");
//! let _ = p.handle_data(2, Direction::ToClient, b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi");
//! let t = p.poll_transaction().unwrap();
//! assert_eq!(t.uri.as_deref(), Some("/a?token=REDACTED"));
//! assert_eq!((t.status_code, t.response_body_len), (Some(200), 2));
//! ```
//!
//! The reference for what a transaction contains is Zeek's http.log: the parser follows Zeek's
//! HTTP analyzer and its pairing script where the RFCs leave room (sloppy request lines,
//! HTTP/0.9, bodies without framing, responses without requests), so its output can be
//! compared with Zeek's row by row. Where it goes beyond Zeek (gap resynchronisation,
//! decoding limits, smuggling indicators, a response that ends before its request) it says so
//! in [`HttpEvent`]s.
//!
//! Bodies are counted, not stored, unless [`HttpConfig::max_body_capture`] asks for the first
//! bytes of each (decoded) entity; those are personal data and stay in memory (see
//! [`HttpTransaction`]). A request's credential is never stored: a keyed digest of it
//! ([`credential_digest`]) lets consumers be counted. A deployment that identifies consumers lists
//! the few request headers whose raw values it needs in [`HttpConfig::retain_headers`]; those
//! are kept, bounded, in [`HttpTransaction::retained`] and never printed.
//!
//! Not supported here: HTTP/2 (parsed by [`crate::h2`], which the app layer switches to on
//! the preface or after an `Upgrade: h2c`), HTTP/3, parsing inside tunnels (CONNECT,
//! Upgrade), multipart bodies (counted as a whole, not split into parts), trailer fields
//! (skipped), content codings other than gzip and deflate (counted undecoded, not captured).

pub(crate) mod body;
mod capture;
pub(crate) mod card;
mod config;
pub(crate) mod credential;
mod decode;
mod detect;
mod event;
pub(crate) mod head;
mod iban;
mod lines;
pub(crate) mod message;
mod parser;
pub(crate) mod redact;
pub(crate) mod retain;
pub(crate) mod text;
mod transaction;
mod txn;

pub use config::{HttpConfig, HttpStats, DECODE_RATIO_FLOOR, DEFAULT_REDACTED_PARAMS};
pub use credential::{credential_digest, CredentialSource, API_KEY_HEADERS};
pub use detect::{detect_request, detect_response, Detection};
pub use event::HttpEvent;
pub use parser::{HttpConnParser, HttpParser, Progress, StreamState};
pub use retain::RetainedHeaders;
pub use text::REDACTED;
pub use transaction::HttpTransaction;

/// Which way bytes travel.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum Direction {
    /// From the client (the connection's originator) to the server.
    ToServer,
    /// From the server to the client.
    ToClient,
}

impl Direction {
    /// The other direction.
    pub fn reverse(self) -> Direction {
        match self {
            Direction::ToServer => Direction::ToClient,
            Direction::ToClient => Direction::ToServer,
        }
    }
}
