//! gRPC message framing (the 5-byte length prefix of each message, gRPC's PROTOCOL-HTTP2.md)
//! counted across DATA frames with constant state, and the call's facts from `:path` and the
//! trailers.

use crate::http::text::wire_string;

use super::GrpcFacts;

/// Counts length-prefixed messages in one direction's DATA bytes, however they are split.
#[derive(Clone, Debug, Default)]
pub(crate) struct MessageReader {
    /// Bytes of the current 5-byte prefix seen.
    prefix: [u8; 5],
    prefix_len: u8,
    /// Bytes of the current message still to skip.
    remaining: u64,
    /// The reader lost its place (a gap): nothing more is counted.
    lost: bool,
}

/// Messages completed by one call to [`MessageReader::feed`].
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Counted {
    pub messages: u64,
    pub bytes: u64,
    pub largest: u32,
    pub compressed: u64,
}

impl MessageReader {
    /// Reads DATA bytes; returns the messages whose prefix completed in them (a message is
    /// counted when its prefix is read, so a stream cut inside a message still counts it).
    pub fn feed(&mut self, mut data: &[u8]) -> Counted {
        let mut c = Counted::default();
        while !data.is_empty() && !self.lost {
            if self.remaining > 0 {
                let take = usize::try_from(self.remaining).unwrap_or(usize::MAX).min(data.len());
                self.remaining -= take as u64;
                data = data.get(take..).unwrap_or_default();
                continue;
            }
            let Some((&b, rest)) = data.split_first() else { break };
            data = rest;
            if let Some(slot) = self.prefix.get_mut(usize::from(self.prefix_len)) {
                *slot = b;
            }
            self.prefix_len += 1;
            if usize::from(self.prefix_len) == self.prefix.len() {
                let [flag, l0, l1, l2, l3] = self.prefix;
                let len = u32::from_be_bytes([l0, l1, l2, l3]);
                c.messages += 1;
                c.bytes += u64::from(len);
                c.largest = c.largest.max(len);
                c.compressed += u64::from(flag & 1);
                self.remaining = u64::from(len);
                self.prefix_len = 0;
            }
        }
        c
    }

    /// Bytes of the stream were lost: message boundaries are no longer known.
    pub fn lose(&mut self) {
        self.lost = true;
    }

    /// Whether the stream ended inside a message (or its prefix).
    pub fn mid_message(&self) -> bool {
        !self.lost && (self.remaining > 0 || self.prefix_len > 0)
    }
}

/// Whether a content type is gRPC's (`application/grpc`, `application/grpc+proto`, ...).
pub(crate) fn is_grpc(content_type: &[u8]) -> bool {
    let ct = content_type.trim_ascii();
    let base = ct.split(|&c| c == b';').next().unwrap_or_default().trim_ascii();
    base.len() >= 16
        && base.get(..16).is_some_and(|p| p.eq_ignore_ascii_case(b"application/grpc"))
        && matches!(base.get(16), None | Some(b'+'))
}

/// Service and method from a gRPC `:path` (`/package.Service/Method`).
pub(crate) fn service_method(path: &[u8], limit: usize) -> (Option<String>, Option<String>) {
    let Some(rest) = path.strip_prefix(b"/") else { return (None, None) };
    let mut parts = rest.splitn(2, |&c| c == b'/');
    let service = parts.next().filter(|s| !s.is_empty());
    let method = parts.next().filter(|m| !m.is_empty() && !m.contains(&b'/') && !m.contains(&b'?'));
    match (service, method) {
        (Some(s), Some(m)) => (Some(wire_string(s, limit).0), Some(wire_string(m, limit).0)),
        _ => (None, None),
    }
}

/// The HTTP status gRPC gateways (grpc-gateway's `HTTPStatusFromCode`, Envoy's gRPC-JSON
/// transcoder) answer for a `grpc-status` code: 400 for invalid arguments, 401 unauthenticated,
/// 403 permission denied, 404 not found, 429 resource exhausted, 503 unavailable, and so on;
/// codes outside the 17 defined ones are 500.
pub fn http_status_of_grpc(code: u32) -> u16 {
    match code {
        0 => 200,
        1 => 499,
        3 | 9 | 11 => 400,
        4 => 504,
        5 => 404,
        6 | 10 => 409,
        7 => 403,
        8 => 429,
        12 => 501,
        14 => 503,
        16 => 401,
        _ => 500,
    }
}

/// `grpc-status` as a number.
pub(crate) fn parse_status(value: &[u8]) -> Option<u32> {
    let v = value.trim_ascii();
    if v.is_empty() || v.len() > 9 || !v.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(v).ok()?.parse().ok()
}

/// `grpc-message`, percent-decoded (gRPC percent-encodes it), bounded, card numbers masked.
pub(crate) fn message_text(value: &[u8], limit: usize) -> String {
    let decoded = crate::http::text::unescape_uri(value);
    let masked = crate::http::card::mask_card_numbers(&decoded).unwrap_or(decoded);
    wire_string(&masked, limit).0
}

impl GrpcFacts {
    pub(crate) fn add(&mut self, to_server: bool, c: Counted) {
        if to_server {
            self.request_messages += c.messages;
            self.request_message_bytes += c.bytes;
            self.max_request_message = self.max_request_message.max(c.largest);
        } else {
            self.response_messages += c.messages;
            self.response_message_bytes += c.bytes;
            self.max_response_message = self.max_response_message.max(c.largest);
        }
        self.compressed_messages += c.compressed;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg(flag: u8, body: &[u8]) -> Vec<u8> {
        let mut v = vec![flag];
        v.extend_from_slice(&(body.len() as u32).to_be_bytes());
        v.extend_from_slice(body);
        v
    }

    #[test]
    fn messages_are_counted_however_the_bytes_are_split() {
        let mut all = msg(0, b"hello");
        all.extend(msg(1, &[7u8; 300]));
        all.extend(msg(0, b""));
        for step in [1, 2, 5, 6, 7, 100, all.len()] {
            let mut r = MessageReader::default();
            let mut total = Counted::default();
            for piece in all.chunks(step) {
                let c = r.feed(piece);
                total.messages += c.messages;
                total.bytes += c.bytes;
                total.largest = total.largest.max(c.largest);
                total.compressed += c.compressed;
            }
            assert_eq!(total, Counted { messages: 3, bytes: 305, largest: 300, compressed: 1 }, "step {step}");
            assert!(!r.mid_message());
        }
        let mut r = MessageReader::default();
        let _ = r.feed(&all[..8]);
        assert!(r.mid_message());
    }

    #[test]
    fn failed_calls_map_to_the_gateways_http_statuses() {
        // The table of grpc-gateway's runtime.HTTPStatusFromCode, code by code.
        let want = [200, 499, 500, 400, 504, 404, 409, 403, 429, 400, 409, 400, 501, 500, 503, 500, 401];
        for (code, status) in want.iter().enumerate() {
            assert_eq!(http_status_of_grpc(code as u32), *status, "grpc-status {code}");
        }
        assert_eq!(http_status_of_grpc(99), 500);
    }

    #[test]
    fn content_types_paths_and_status() {
        assert!(is_grpc(b"application/grpc"));
        assert!(is_grpc(b"application/grpc+proto"));
        assert!(is_grpc(b"Application/GRPC; charset=x"));
        assert!(!is_grpc(b"application/grpc-web"));
        assert!(!is_grpc(b"application/json"));
        assert_eq!(
            service_method(b"/bank.v1.Payments/Transfer", 100),
            (Some("bank.v1.Payments".into()), Some("Transfer".into()))
        );
        assert_eq!(service_method(b"/just-a-path", 100), (None, None));
        assert_eq!(parse_status(b"14"), Some(14));
        assert_eq!(parse_status(b"x"), None);
        assert_eq!(message_text(b"not%20found", 100), "not found");
        assert_eq!(message_text(b"abcdef", 3), "abc");
    }
}
