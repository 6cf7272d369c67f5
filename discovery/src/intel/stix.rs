//! STIX 2.1 bundles: `indicator` objects with `pattern_type: stix` (docs/intel.md).

use std::fmt;

use serde::de::{DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::error::Category;
use serde_json::Value;

use super::pattern;
use super::value::{parse_net, parse_value, ValueError};
use super::{
    Action, Collector, FeedError, FeedLimits, Indicator, IndicatorKind, IndicatorValue, Location,
    ParsedFeed,
};

/// Parses a STIX 2.1 bundle. `now` (unix nanoseconds) decides which indicators have
/// expired. Only a text that is not JSON, or not a bundle, is an error; every bad object is a
/// [`super::Problem`] and the rest loads. The objects are read one at a time, so memory
/// holds one object's tree beside the indicators, whatever the size of the bundle.
pub fn parse_stix(bytes: &[u8], now: i64, limits: &FeedLimits) -> Result<ParsedFeed, FeedError> {
    let mut c = Collector::new(*limits, now);
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let is_bundle = BundleSeed { c: &mut c }
        .deserialize(&mut de)
        .and_then(|b| de.end().map(|()| b))
        .map_err(|e| FeedError {
            what: match e.classify() {
                Category::Data => format!("not a STIX bundle: {e}"),
                _ => format!("not a JSON document: {e}"),
            },
        })?;
    if !is_bundle {
        return Err(FeedError {
            what: "not a STIX bundle: \"type\" is not \"bundle\"".into(),
        });
    }
    Ok(c.feed)
}

/// The bundle's members: `type` checked, `objects` read one by one, the rest skipped.
/// Gives whether `type` was `bundle`.
struct BundleSeed<'c> {
    c: &'c mut Collector,
}

impl<'de> DeserializeSeed<'de> for BundleSeed<'_> {
    type Value = bool;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<bool, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for BundleSeed<'_> {
    type Value = bool;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a STIX bundle (a JSON object)")
    }

    fn visit_map<M: MapAccess<'de>>(self, mut map: M) -> Result<bool, M::Error> {
        let mut is_bundle = false;
        while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
            match key.as_ref() {
                "type" => is_bundle = map.next_value::<Value>()?.as_str() == Some("bundle"),
                "objects" => map.next_value_seed(ObjectsSeed { c: &mut *self.c })?,
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(is_bundle)
    }
}

/// `objects`: each element parsed, handled and dropped before the next.
struct ObjectsSeed<'c> {
    c: &'c mut Collector,
}

impl<'de> DeserializeSeed<'de> for ObjectsSeed<'_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for ObjectsSeed<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("\"objects\" as an array")
    }

    fn visit_seq<S: SeqAccess<'de>>(self, mut seq: S) -> Result<(), S::Error> {
        let c = self.c;
        let mut n = 0usize;
        while let Some(obj) = seq.next_element::<Value>()? {
            n += 1;
            object(c, n, &obj);
        }
        Ok(())
    }
}

fn object(c: &mut Collector, n: usize, obj: &Value) {
    let at = Location::Object(n);
    if c.full(at) {
        return;
    }
    c.feed.counts.entries += 1;
    if obj.get("type").and_then(Value::as_str) != Some("indicator") {
        if obj.is_object() {
            c.feed.counts.ignored_objects += 1;
        } else {
            c.feed.counts.skipped += 1;
            c.problem(at, None, "not a JSON object".into(), Action::Skipped);
        }
        return;
    }
    indicator(c, at, obj);
}

fn indicator(c: &mut Collector, at: Location, obj: &Value) {
    let id = obj.get("id").and_then(Value::as_str);
    let skip = |c: &mut Collector, what: String| {
        c.feed.counts.skipped += 1;
        c.problem(at, id, what, Action::Skipped);
    };
    let Some(id) = id.filter(|i| !i.is_empty()) else {
        return skip(c, "an indicator without an \"id\"".into());
    };
    if obj.get("revoked").and_then(Value::as_bool) == Some(true) {
        c.feed.counts.revoked += 1;
        c.feed.counts.skipped += 1;
        return;
    }
    match obj.get("pattern_type").and_then(Value::as_str) {
        Some("stix") => {}
        Some(t) => {
            return skip(
                c,
                format!(
                    "pattern_type {} is not supported (only stix)",
                    super::quote_cut(t)
                ),
            )
        }
        None => return skip(c, "no \"pattern_type\"".into()),
    }
    let Some(pattern) = obj.get("pattern").and_then(Value::as_str) else {
        return skip(c, "no \"pattern\" string".into());
    };
    let confidence = match obj.get("confidence") {
        None | Some(Value::Null) => None,
        Some(v) => match v.as_u64().filter(|n| *n <= 100) {
            Some(n) => u8::try_from(n).ok(),
            None => return skip(c, format!("confidence {v} is not an integer from 0 to 100")),
        },
    };
    let mut times = [None, None];
    for (slot, key) in times.iter_mut().zip(["valid_from", "valid_until"]) {
        match obj.get(key) {
            None | Some(Value::Null) => {}
            Some(Value::String(s)) => match timestamp(s) {
                Some(t) => *slot = Some(t),
                None => {
                    return skip(
                        c,
                        format!("{key} {} is not an RFC 3339 timestamp", super::quote_cut(s)),
                    )
                }
            },
            Some(v) => return skip(c, format!("{key} {v} is not a timestamp string")),
        }
    }
    let [valid_from, valid_until] = times;
    if let (Some(f), Some(u)) = (valid_from, valid_until) {
        if u <= f {
            return skip(c, "valid_until is not later than valid_from".into());
        }
    }
    if let Some(u) = valid_until {
        if u <= c.now {
            c.feed.counts.expired += 1;
            return skip(c, "expired: valid_until has passed".into());
        }
    }
    let alts = match pattern::parse(pattern) {
        Ok(a) => a,
        Err(why) => return skip(c, format!("pattern {}: {why}", super::quote_cut(pattern))),
    };
    let name = obj.get("name").and_then(Value::as_str).unwrap_or("");
    let max = c.limits.max_value_bytes;
    let mut values = Vec::with_capacity(alts.len());
    let mut bad = Vec::new();
    for alt in &alts {
        let Some(kind) = alt.kind else {
            bad.push(format!(
                "the object path {} is not matched by apitap",
                alt.path
            ));
            continue;
        };
        let parsed = if kind == IndicatorKind::Network {
            // ipv4-addr and ipv6-addr say the family.
            let family = if alt.path.starts_with("ipv4") { 4 } else { 6 };
            if alt.value.len() > max {
                Err(ValueError::TooLong(max))
            } else {
                parse_net(alt.value.trim(), Some(family)).map(IndicatorValue::Network)
            }
        } else {
            parse_value(kind, &alt.value, max)
        };
        match parsed {
            Ok(v) => values.push(v),
            Err(e) => {
                if matches!(e, ValueError::TooLong(_)) {
                    c.feed.counts.value_too_long += 1;
                }
                bad.push(e.message(kind, &alt.value));
            }
        }
    }
    if values.is_empty() {
        let what = bad
            .first()
            .cloned()
            .unwrap_or_else(|| "the pattern has no comparison".into());
        return skip(c, what);
    }
    for what in bad {
        c.problem(at, Some(id), what, Action::AlternativeSkipped);
    }
    for value in values {
        if c.full(at) {
            return;
        }
        c.push(Indicator {
            id: id.to_string(),
            name: name.to_string(),
            value,
            confidence,
            valid_from,
            valid_until,
        });
    }
}

/// An RFC 3339 timestamp as unix nanoseconds (`None` when out of the i64 range).
pub(crate) fn timestamp(s: &str) -> Option<i64> {
    chrono::DateTime::parse_from_rfc3339(s)
        .ok()?
        .timestamp_nanos_opt()
}
