//! Which scanner a body gets, from its content type (or its first byte when there is none).

/// How a body is analysed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Treatment {
    /// Shape and detectors on values.
    Json,
    /// `application/x-www-form-urlencoded`: names as shape, values scanned.
    Form,
    /// Detectors over the raw text.
    Text,
    /// HTML and binary media: nothing.
    Skip,
}

/// Binary `application/` subtypes: scanning them as text would only find noise.
const BINARY_APPLICATION: &[&str] = &[
    "octet-stream",
    "pdf",
    "zip",
    "gzip",
    "x-gzip",
    "x-tar",
    "x-7z-compressed",
    "protobuf",
    "x-protobuf",
    "vnd.google.protobuf",
    "grpc",
    "grpc+proto",
    "cbor",
    "msgpack",
    "x-msgpack",
    "wasm",
];

pub(crate) fn classify(content_type: Option<&str>, body: &[u8]) -> Treatment {
    let Some(ct) = content_type.map(essence).filter(|ct| !ct.is_empty()) else {
        let body = body.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(body);
        return match body.iter().find(|b| !b.is_ascii_whitespace()) {
            Some(b'{' | b'[') => Treatment::Json,
            _ => Treatment::Text,
        };
    };
    let (top, sub) = ct.split_once('/').unwrap_or((ct, ""));
    let is = |a: &str, b: &str| a.eq_ignore_ascii_case(b);
    if is(top, "application") {
        if is(sub, "json") || (ends_with_ci(sub, "+json") && !is(sub, "jose+json")) {
            return Treatment::Json;
        }
        if is(sub, "x-www-form-urlencoded") {
            return Treatment::Form;
        }
        if is(sub, "xhtml+xml")
            || BINARY_APPLICATION.iter().any(|b| is(sub, b))
            || starts_with_ci(sub, "grpc")
        {
            return Treatment::Skip;
        }
        return Treatment::Text;
    }
    if is(top, "text") {
        return if is(sub, "json") {
            Treatment::Json
        } else if is(sub, "html") {
            Treatment::Skip
        } else {
            Treatment::Text
        };
    }
    if ["image", "audio", "video", "font"]
        .iter()
        .any(|t| is(top, t))
    {
        return Treatment::Skip;
    }
    Treatment::Text
}

/// The media type without parameters or surrounding blanks: `Application/JSON; charset=utf-8`
/// gives `Application/JSON`.
fn essence(ct: &str) -> &str {
    ct.split(';').next().unwrap_or("").trim()
}

fn ends_with_ci(s: &str, suffix: &str) -> bool {
    s.len() >= suffix.len()
        && s.get(s.len() - suffix.len()..)
            .is_some_and(|end| end.eq_ignore_ascii_case(suffix))
}

fn starts_with_ci(s: &str, prefix: &str) -> bool {
    s.get(..prefix.len())
        .is_some_and(|start| start.eq_ignore_ascii_case(prefix))
}
