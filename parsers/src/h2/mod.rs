//! Sans-IO HTTP/2 (RFC 9113) over cleartext TCP: prior-knowledge connections, connections
//! upgraded from HTTP/1.1 (`Upgrade: h2c`), and connections joined mid-way.
//!
//! [`H2ConnParser`] turns the two byte streams of a connection into one
//! [`HttpTransaction`](crate::http::HttpTransaction) per stream, with the same record fields
//! as HTTP/1.x (method, authority as `host`, path as `uri` redacted the same way, status,
//! body lengths, timing, credential digest, header names) plus [`H2Facts`] and, for gRPC
//! calls, [`GrpcFacts`].
//!
//! ```
//! use std::sync::Arc;
//! use apitap_parsers::h2::{looks_like_h2, H2Config, H2ConnParser, H2Stats};
//! use apitap_parsers::{Direction, HttpConfig};
//!
//! // The client preface, an empty SETTINGS, and a GET for /a on stream 1, all HPACK static
//! // entries and one literal.
//! let mut client = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".to_vec();
//! client.extend_from_slice(&[0, 0, 0, 4, 0, 0, 0, 0, 0]);
//! client.extend_from_slice(&[0, 0, 6, 1, 5, 0, 0, 0, 1, 0x82, 0x86, 0x04, 0x02, b'/', b'a']);
//! // The server's SETTINGS, then `:status: 200` on stream 1 with END_STREAM.
//! let server = [0, 0, 0, 4, 0, 0, 0, 0, 0, 0, 0, 1, 1, 5, 0, 0, 0, 1, 0x88];
//! assert!(looks_like_h2(&client));
//! let mut p = H2ConnParser::new(Arc::new(HttpConfig::default()), Arc::new(H2Config::default()));
//! let mut stats = H2Stats::default();
//! let _ = p.handle_data(&mut stats, 1, Direction::ToServer, &client);
//! let _ = p.handle_data(&mut stats, 2, Direction::ToClient, &server);
//! let t = p.poll_transaction().unwrap();
//! assert_eq!((t.method.as_deref(), t.uri.as_deref(), t.status_code), (Some("GET"), Some("/a"), Some(200)));
//! assert_eq!(t.version.as_deref(), Some("2"));
//! ```
//!
//! Supported: the connection preface; every frame type of RFC 9113 (unknown types skipped);
//! padding and priority fields; header blocks over CONTINUATION frames; HPACK with its
//! dynamic table, size updates and SETTINGS_HEADER_TABLE_SIZE, Huffman strings; SETTINGS
//! (table size and SETTINGS_MAX_FRAME_SIZE per side, acknowledgements); RST_STREAM and
//! GOAWAY (the streams they end still become transactions, marked); server push (the
//! promised stream is a transaction whose request is the promise's); trailers; 1xx
//! responses; gzip/deflate bodies decoded and captured as in HTTP/1.x; gRPC message counts
//! and status; gaps (inside DATA they are counted, elsewhere framing is searched for again).
//!
//! Mid-connection join: a direction that does not start with the preface (client) or a
//! SETTINGS frame (server) is searched for a plausible frame header (a defined type, a
//! length and stream its type allows, only defined flags, confirmed by the next frame's
//! header), at most [`H2Config::max_resync_scan`] bytes. Its HPACK table starts unknown:
//! static-table and literal fields decode (`:method` and `:path` usually do), references to
//! entries inserted before the join give unknown fields (counted per transaction in
//! [`H2Facts`], a transaction with any is *partial*), entries inserted after the join are
//! known, and the table is in sync again once the entries inserted since the join fill it
//! (no older entry can remain) or after a size update to 0. The table size of a joined
//! connection is presumed to be the default 4,096 bytes until a size update says otherwise;
//! a reference that proves it larger is [`H2Event::HpackOutOfSync`].
//!
//! Not supported: HTTP/2 over TLS unless decrypted first (the TLS module hands plaintext
//! on); HTTP/3; the client's `HTTP2-Settings` header of an h2c upgrade; flow control
//! (WINDOW_UPDATE is counted, not enforced); stream priorities (read past, not kept); the
//! CONNECT method's tunnels and extended CONNECT (WebSockets over HTTP/2), whose DATA is
//! counted as a body; validation of field names and values beyond what HPACK needs; content
//! codings other than gzip and deflate; the bodies of gRPC messages (counted, not decoded).

mod config;
mod conn;
mod event;
mod facts;
mod frame;
mod frames;
mod grpc;
pub(crate) mod hpack;
mod stream;

pub use config::{H2Config, H2Stats};
pub use conn::H2ConnParser;
pub use event::H2Event;
pub use facts::{GrpcFacts, H2Facts};
pub use frame::{headers_sender, looks_like_h2, PREFACE};
pub use grpc::http_status_of_grpc;
pub use hpack::static_table::STATIC as HPACK_STATIC_TABLE;
pub use hpack::HpackError;
