//! Body analysis before the optimisation (see the parent module): `analyze_body` and its
//! scanners, on the library's public types.

mod detect;
pub(crate) use detect::luhn;
mod form;
mod json;
mod media;
mod shape;

pub(crate) use apitap_discovery::content::{
    BodyFacts, ContentEvent, ContentLimits, JsonType, SensitiveKind, MAX_OBJECT_ID_BYTES,
};

/// Whether the last key of a recorded JSON path names an object identifier (see
/// [`ContentLimits::max_ids`]).
pub(crate) fn is_id_key(path: &str) -> bool {
    let last = path.rsplit('.').next().unwrap_or(path);
    is_id_name(last.trim_end_matches("[]"))
}

/// Whether a name (a JSON key, a path parameter) names an object identifier: `id`, or ending
/// in `Id`, `ID`, `_id` or `-id`.
pub(crate) fn is_id_name(name: &str) -> bool {
    name.eq_ignore_ascii_case("id")
        || (name.len() > 2 && (name.ends_with("Id") || name.ends_with("ID") || name.ends_with("_id") || name.ends_with("-id")))
}

/// Adds an identifier value found under an id key, when collection is on and it qualifies.
pub(crate) fn collect_id(ids: &mut Vec<String>, max: usize, value: &[u8]) {
    if ids.len() >= max || value.is_empty() || value.len() > MAX_OBJECT_ID_BYTES {
        return;
    }
    if value.iter().any(|b| b.is_ascii_whitespace() || b.is_ascii_control()) {
        return;
    }
    let Ok(text) = std::str::from_utf8(value) else { return };
    if !ids.iter().any(|v| v == text) {
        ids.push(text.to_string());
    }
}

/// Analyses one body: its shape when it is JSON or a form, and counts of sensitive values in
/// any text. `content_type` is the raw header value (parameters and case are ignored); `body` is
/// the decoded body or a prefix of it. Never panics, never reads anything but its arguments;
/// work is linear in `min(body.len(), limits.max_bytes)`.
pub fn analyze_body(content_type: Option<&str>, body: &[u8], limits: &ContentLimits) -> BodyFacts {
    let mut out = Outcome::default();
    let scanned = match body.get(..limits.max_bytes) {
        Some(prefix) if body.len() > limits.max_bytes => {
            out.event(ContentEvent::BytesLimit {
                body_len: body.len(),
            });
            prefix
        }
        _ => body,
    };
    let over = scanned.len() < body.len();
    let mut json = false;
    match media::classify(content_type, scanned) {
        media::Treatment::Json => {
            json = json::analyze(scanned, limits, &mut out);
            if !json {
                detect::scan_text(scanned, over, &mut out.tally);
            }
        }
        media::Treatment::Form => form::analyze(scanned, over, limits, &mut out),
        media::Treatment::Text => detect::scan_text(scanned, over, &mut out.tally),
        media::Treatment::Skip => {}
    }
    out.finish(json)
}

/// What the scanners accumulate for one body.
#[derive(Default)]
struct Outcome {
    shape: shape::Shape,
    tally: detect::Tally,
    events: Vec<ContentEvent>,
    long_strings: u32,
    object_ids: Vec<String>,
}

impl Outcome {
    /// Records an event unless one of its kind is already there.
    fn event(&mut self, e: ContentEvent) {
        if !self
            .events
            .iter()
            .any(|have| std::mem::discriminant(have) == std::mem::discriminant(&e))
        {
            self.events.push(e);
        }
    }

    fn finish(mut self, json: bool) -> BodyFacts {
        let counts = self.shape.counts();
        if counts.dropped > 0 {
            self.event(ContentEvent::FieldsDropped {
                values: counts.dropped,
            });
        }
        if counts.too_long > 0 {
            self.event(ContentEvent::PathTooLong {
                values: counts.too_long,
            });
        }
        if self.long_strings > 0 {
            self.event(ContentEvent::LongStrings {
                strings: self.long_strings,
            });
        }
        let truncated = self
            .events
            .iter()
            .any(|e| !matches!(e, ContentEvent::LongStrings { .. }));
        BodyFacts {
            shape: self.shape.into_entries(),
            sensitive: self.tally.into_counts(),
            json,
            truncated,
            events: self.events,
            object_ids: self.object_ids,
        }
    }
}
