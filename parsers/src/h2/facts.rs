//! What an HTTP/2 stream adds to its [`HttpTransaction`](crate::http::HttpTransaction).

use crate::http::Direction;

use super::H2Event;

/// HTTP/2 facts of one transaction (one stream), in
/// [`HttpTransaction::h2`](crate::http::HttpTransaction::h2). Header values are not kept
/// here; trailer *names* are, as header names are.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct H2Facts {
    /// The stream id.
    pub stream_id: u32,
    /// `:scheme` of the request.
    pub scheme: Option<String>,
    /// The stream was promised by the server (PUSH_PROMISE); its request is the promise's.
    pub pushed: bool,
    /// The stream is the request that upgraded an HTTP/1.1 connection to h2c (stream 1).
    pub upgraded: bool,
    /// The stream was reset: by whom, and the error code.
    pub reset: Option<(Direction, u32)>,
    /// A GOAWAY put the stream above its last stream id: the peer will not process it.
    pub goaway: bool,
    /// Request header fields (all blocks) that could not be decoded: their table entry was
    /// inserted before the sensor joined, or was lost to a gap.
    pub request_unknown_fields: u32,
    /// Response header fields that could not be decoded, likewise.
    pub response_unknown_fields: u32,
    /// Request trailer names, in order (bounded like header names).
    pub request_trailer_names: Vec<String>,
    /// Response trailer names.
    pub response_trailer_names: Vec<String>,
    /// Stream events, at most `max_events_per_transaction`.
    pub events: Vec<H2Event>,
}

impl H2Facts {
    /// Whether any header field of the stream could not be decoded.
    pub fn is_partial(&self) -> bool {
        self.request_unknown_fields > 0 || self.response_unknown_fields > 0
    }
}

/// gRPC facts of one call, in [`HttpTransaction::grpc`](crate::http::HttpTransaction::grpc),
/// for a request whose content type is `application/grpc` (or `application/grpc+...`).
/// Messages are counted from their 5-byte length prefixes across DATA frames; a streaming
/// call is one transaction with its message counts.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct GrpcFacts {
    /// Service from `:path` (`/package.Service/Method`).
    pub service: Option<String>,
    /// Method from `:path`.
    pub method: Option<String>,
    /// Messages the client sent.
    pub request_messages: u64,
    /// Messages the server sent.
    pub response_messages: u64,
    /// Sum of the request messages' lengths (as prefixed, compressed or not).
    pub request_message_bytes: u64,
    /// Sum of the response messages' lengths.
    pub response_message_bytes: u64,
    /// Largest request message.
    pub max_request_message: u32,
    /// Largest response message.
    pub max_response_message: u32,
    /// Messages with the compressed flag set (both directions).
    pub compressed_messages: u64,
    /// `grpc-status` from the trailers (or a trailers-only response).
    pub status: Option<u32>,
    /// `grpc-message`, percent-decoded as gRPC sends it, bounded by `max_grpc_message`, card
    /// numbers masked. Free text from the server: it may hold personal data.
    pub message: Option<String>,
    /// The response was trailers only (HEADERS with END_STREAM and a grpc-status, no DATA).
    pub trailers_only: bool,
    /// `grpc-encoding` of the request, when set.
    pub encoding: Option<String>,
}
