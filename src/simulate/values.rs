//! Plausible JSON values from an OpenAPI schema: what a TPP sends in a request body and what a
//! bank answers, shaped by the schema and by the property names banks use.
//!
//! Bounded by construction: at most [`MAX_DEPTH`] levels of filled objects and arrays, arrays
//! of 1 to 3 items (within `minItems`/`maxItems`, never more than [`MAX_ARRAY_ITEMS`]),
//! strings of at most [`MAX_STRING`] characters (enumerations excepted). Patterns are honoured
//! when they use the common subset [`pattern`] supports; others get a short alphanumeric
//! string that may not match.

pub mod bank;
pub mod pattern;

use apitap_discovery::openapi::{Parameter, Schema};
use serde_json::{Map, Value};

use super::creds::base64_standard;
use super::rng::Rng;
// The public face of the bank identifiers; the command may not use all of them.
#[allow(unused_imports)]
pub use bank::{card_number, iban, iban_is_valid, luhn_ok};

/// Levels of objects and arrays that get content; containers deeper than this are empty.
pub const MAX_DEPTH: usize = 6;
/// Longest generated string, unless an enumeration or `minLength` asks for more.
pub const MAX_STRING: usize = 64;
/// Most items of an array, whatever `minItems` says.
pub const MAX_ARRAY_ITEMS: u64 = 16;
/// Longest string generated to satisfy a `minLength` above [`MAX_STRING`].
pub const MAX_MIN_LENGTH: usize = 1024;
/// How far back past dates and times reach from the scenario clock.
const PAST_SECS: i64 = 90 * 86_400;

/// What the generator knows beyond the schema.
#[derive(Debug, Clone, Copy)]
pub struct ValueCtx<'a> {
    /// The scenario clock in Unix seconds: dates and times are derived from it.
    pub now_secs: i64,
    /// ISO 4217 code for `*Currency*` properties, e.g. `GBP`.
    pub currency: &'a str,
    /// ISO 3166 alpha-2 code for `*Country*` properties and IBANs, e.g. `GB`.
    pub country: &'a str,
    /// Object ids the consumer learned earlier: (parameter or property name, value). A
    /// property or path parameter of that name (case-insensitive) reuses one of them.
    pub ids: &'a [(String, String)],
}

/// A value for `schema`, with `name_hint` the property or parameter name it fills (it steers
/// dates, amounts, currencies, IBANs and ids). Optional properties are included with
/// probability 1/2. Never fails: unsupported parts become short strings.
pub fn generate(schema: &Schema, name_hint: &str, ctx: &ValueCtx<'_>, rng: &mut Rng) -> Value {
    value(schema, name_hint, ctx, rng, 0)
}

/// The text of a path parameter (`{AccountId}` ...): a known id of that name when the consumer
/// has one, else a generated value; percent-encoded for a path segment.
pub fn path_value(param: &Parameter, ctx: &ValueCtx<'_>, rng: &mut Rng) -> String {
    let raw = match known_id(&param.name, ctx, rng) {
        Some(id) => id,
        None => match generate(&param.schema, &param.name, ctx, rng) {
            Value::String(s) => s,
            other => other.to_string(),
        },
    };
    percent_encode_segment(&raw)
}

fn value(schema: &Schema, name: &str, ctx: &ValueCtx<'_>, rng: &mut Rng, depth: usize) -> Value {
    match schema {
        Schema::Object { properties, required } => {
            let mut map = Map::new();
            if depth >= MAX_DEPTH {
                return Value::Object(map);
            }
            for (prop, sub) in properties {
                if required.iter().any(|r| r == prop) || rng.chance(0.5) {
                    map.insert(prop.clone(), value(sub, prop, ctx, rng, depth + 1));
                }
            }
            // An object whose properties are all optional (OB-UK's `Data` wrappers) would often
            // come out empty, which no real server sends: it gets at least one of them.
            if map.is_empty() {
                if let Some((prop, sub)) = rng.pick(properties) {
                    map.insert(prop.clone(), value(sub, prop, ctx, rng, depth + 1));
                }
            }
            bank::fix_account_identification(name, properties, &mut map, ctx, rng);
            Value::Object(map)
        }
        Schema::Array { items, min_items, max_items } => {
            if depth >= MAX_DEPTH {
                return Value::Array(Vec::new());
            }
            let n = array_len(*min_items, *max_items, rng);
            Value::Array((0..n).map(|_| value(items, name, ctx, rng, depth + 1)).collect())
        }
        Schema::String { format, enumeration, pattern, min_length, max_length } => {
            let spec = StringSpec { format: format.as_deref(), pattern: pattern.as_deref(), min_length: *min_length, max_length: *max_length };
            match rng.pick(enumeration) {
                Some(v) => Value::String(v.clone()),
                None => Value::String(string(&spec, name, ctx, rng)),
            }
        }
        Schema::Integer { minimum, maximum, enumeration } => match rng.pick(enumeration) {
            Some(v) => Value::from(*v),
            None => Value::from(integer(*minimum, *maximum, rng)),
        },
        Schema::Number { minimum, maximum } => number(*minimum, *maximum, rng),
        Schema::Boolean => Value::Bool(rng.chance(0.5)),
        Schema::OneOf(alternatives) => match rng.pick(alternatives) {
            Some(alt) => value(alt, name, ctx, rng, depth),
            None => Value::Null,
        },
        Schema::Any => Value::String(rng.alnum(8)),
    }
}

/// 1 to 3 items, moved into `minItems..=maxItems` when those say otherwise, at most
/// [`MAX_ARRAY_ITEMS`].
fn array_len(min_items: Option<u64>, max_items: Option<u64>, rng: &mut Rng) -> u64 {
    let max = max_items.unwrap_or(u64::MAX).min(MAX_ARRAY_ITEMS);
    let lo = min_items.unwrap_or(1).max(1).min(max);
    let hi = lo.max(3).min(max);
    lo + rng.below(hi - lo + 1)
}

fn integer(minimum: Option<i64>, maximum: Option<i64>, rng: &mut Rng) -> i64 {
    let (lo, hi) = match (minimum, maximum) {
        (Some(lo), Some(hi)) => (lo, hi.max(lo)),
        (Some(lo), None) => (lo, lo.saturating_add(1000)),
        (None, Some(hi)) if hi < 0 => (hi.saturating_sub(1000), hi),
        (None, Some(hi)) => (0, hi),
        (None, None) => (0, 1000),
    };
    rng.range(lo, hi)
}

/// A number with two decimals within the bounds (0 to 1000 without them).
fn number(minimum: Option<f64>, maximum: Option<f64>, rng: &mut Rng) -> Value {
    let finite = |v: Option<f64>| v.filter(|x| x.is_finite());
    let lo = finite(minimum).unwrap_or(0.0);
    let hi = finite(maximum).unwrap_or(lo + 1000.0).max(lo);
    let v = ((lo + rng.unit() * (hi - lo)) * 100.0).round() / 100.0;
    serde_json::Number::from_f64(v.clamp(lo, hi)).map_or(Value::Null, Value::Number)
}

struct StringSpec<'s> {
    format: Option<&'s str>,
    pattern: Option<&'s str>,
    min_length: Option<u64>,
    max_length: Option<u64>,
}

impl StringSpec<'_> {
    /// Shortest and longest acceptable length in characters.
    fn bounds(&self) -> (usize, usize) {
        let min = self.min_length.map_or(0, |m| usize::try_from(m).unwrap_or(usize::MAX)).min(MAX_MIN_LENGTH);
        let max = self.max_length.map_or(MAX_STRING, |m| usize::try_from(m).unwrap_or(usize::MAX)).min(MAX_STRING).max(min);
        (min, max)
    }

    /// Whether `s` has an acceptable length and, when the pattern is supported, matches it.
    fn accepts(&self, s: &str) -> bool {
        let (min, max) = self.bounds();
        let len = s.chars().count();
        len >= min && len <= max && self.pattern.is_none_or(|p| pattern::matches(p, s) != Some(false))
    }
}

/// A string for the spec, trying in turn: the name and format hints, the pattern, and a plain
/// alphanumeric string of an acceptable length.
fn string(spec: &StringSpec<'_>, name: &str, ctx: &ValueCtx<'_>, rng: &mut Rng) -> String {
    if let Some(s) = hinted(spec, name, ctx, rng).into_iter().find(|s| spec.accepts(s)) {
        return s;
    }
    if let Some(p) = spec.pattern {
        for _ in 0..8 {
            match pattern::generate(p, rng) {
                Some(s) if spec.accepts(&s) => return s,
                Some(_) => {}
                None => break,
            }
        }
    }
    let (min, max) = spec.bounds();
    let len = rng.range(min.max(1).min(max) as i64, max.min(min.max(16)) as i64);
    rng.alnum(usize::try_from(len).unwrap_or(0))
}

fn contains_ci(haystack: &str, needle: &str) -> bool {
    haystack.to_ascii_lowercase().contains(&needle.to_ascii_lowercase())
}

/// User agents of the PSUs behind `x-customer-user-agent`.
const USER_AGENTS: &[&str] = &[
    // Shortened to fit MAX_STRING.
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) Mobile",
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) Chrome/124.0 Mobile",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) Chrome/124.0",
    "BankingApp/5.2.1 (iOS 17.4; iPhone15,2)",
];

/// The values the property name or the format calls for, best first (the caller takes the
/// first the schema accepts); empty when nothing is hinted.
fn hinted(spec: &StringSpec<'_>, name: &str, ctx: &ValueCtx<'_>, rng: &mut Rng) -> Vec<String> {
    if is_id_name(name) {
        if let Some(id) = known_id(name, ctx, rng) {
            return vec![id];
        }
    }
    let lower = name.to_ascii_lowercase();
    match spec.format {
        Some("date-time") => return date_time(name, ctx.now_secs, rng),
        Some("date") => return vec![date(name, ctx.now_secs, rng)],
        Some("uuid") => return vec![rng.uuid()],
        Some("email") => return vec![format!("{}@example.com", rng.pick_chars(8, b"abcdefghijklmnopqrstuvwxyz"))],
        Some("uri" | "url" | "uri-reference") => return vec![format!("https://tpp.example.com/{}", rng.alnum(10))],
        Some("byte") => return vec![base64_standard(&rng.bytes(12))],
        Some("ipv4") => return vec![ipv4(rng)],
        _ => {}
    }
    if name.ends_with("DateTime") {
        return date_time(name, ctx.now_secs, rng);
    }
    // Request headers of the FAPI and Open Banking profiles.
    if lower.contains("ip-address") || lower.ends_with("ipaddress") {
        return vec![ipv4(rng)];
    }
    if lower.contains("user-agent") {
        return rng.pick(USER_AGENTS).map(|ua| vec![ua.to_string()]).unwrap_or_default();
    }
    if lower.contains("auth-date") {
        return vec![http_date(ctx.now_secs.saturating_sub(rng.range(60, 86_400)))];
    }
    if lower.contains("idempotency") || lower.contains("interaction-id") {
        return vec![rng.uuid()];
    }
    if lower.contains("iban") {
        return vec![iban(ctx.country, rng)];
    }
    if lower.contains("amount") {
        return vec![amount(rng)];
    }
    if lower.contains("currency") {
        return vec![ctx.currency.to_string()];
    }
    if name.ends_with("Country") || name.ends_with("CountryCode") || lower == "country" {
        return vec![ctx.country.to_string()];
    }
    if is_id_name(name) && spec.pattern.is_none() {
        let (min, max) = spec.bounds();
        let len = 12usize.clamp(min.max(1), max.max(1));
        return vec![rng.alnum(len)];
    }
    Vec::new()
}

/// A public-looking client IPv4 address.
fn ipv4(rng: &mut Rng) -> String {
    format!("{}.{}.{}.{}", rng.range(11, 223), rng.below(256), rng.below(256), rng.range(1, 254))
}

/// `AccountId`, `ConsentId`, `id`, `ID`: names of object identifiers.
pub fn is_id_name(name: &str) -> bool {
    name.ends_with("Id") || name.ends_with("ID") || name.eq_ignore_ascii_case("id")
}

/// One of the ids the consumer learned under this name (case-insensitive), if any.
fn known_id(name: &str, ctx: &ValueCtx<'_>, rng: &mut Rng) -> Option<String> {
    let found: Vec<&String> = ctx.ids.iter().filter(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v).collect();
    rng.pick(&found).map(|v| (*v).clone())
}

/// A money amount like `123.45`: log-normal around 45, two decimals, at most 13 integer
/// digits (the Open Banking `^\d{1,13}$|^\d{1,13}\.\d{1,5}$`).
pub fn amount(rng: &mut Rng) -> String {
    let v = rng.lognormal(45.0, 1.3).clamp(0.01, 9_999_999_999_999.0);
    format!("{v:.2}")
}

/// Whether dates for this name lie ahead of the clock (expiries, requested executions).
fn is_future(name: &str) -> bool {
    ["expir", "requested", "future", "due", "next"].iter().any(|w| contains_ci(name, w))
}

fn offset_secs(name: &str, now: i64, rng: &mut Rng) -> i64 {
    // Stamps of the message itself (Open Finance Brasil's `meta.requestDateTime`) are the
    // time of the exchange, not some date around it.
    if name.eq_ignore_ascii_case("requestDateTime") {
        return now;
    }
    let delta = rng.range(0, PAST_SECS);
    if is_future(name) {
        now.saturating_add(delta)
    } else {
        now.saturating_sub(delta)
    }
}

/// One instant within 90 days of the clock as RFC 3339 date-times in UTC: the Open Banking UK
/// style `2024-03-01T10:43:07+00:00` first, then the `Z` style (`2024-03-01T10:43:07Z`) that
/// Open Finance Brasil patterns require.
fn date_time(name: &str, now: i64, rng: &mut Rng) -> Vec<String> {
    let full = format_date_time(offset_secs(name, now, rng));
    let zulu = full.strip_suffix("+00:00").map(|base| format!("{base}Z"));
    std::iter::once(full).chain(zulu).collect()
}

/// An IMF-fixdate (RFC 9110 section 5.6.7), e.g. `Sun, 10 Sep 2017 19:43:31 GMT`.
pub fn http_date(secs: i64) -> String {
    const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"]; // 1970-01-01 was a Thursday
    const MONTHS: [&str; 12] = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
    let days = secs.div_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    let s = secs.rem_euclid(86_400);
    let weekday = DAYS.get(days.rem_euclid(7) as usize).copied().unwrap_or("Thu");
    let month = MONTHS.get((m as usize).saturating_sub(1)).copied().unwrap_or("Jan");
    format!("{weekday}, {d:02} {month} {y:04} {:02}:{:02}:{:02} GMT", s / 3600, s / 60 % 60, s % 60)
}

/// RFC 3339 full-date, within 90 days of the clock.
fn date(name: &str, now: i64, rng: &mut Rng) -> String {
    let (y, m, d) = civil_from_days(offset_secs(name, now, rng).div_euclid(86_400));
    format!("{y:04}-{m:02}-{d:02}")
}

/// Unix seconds as `YYYY-MM-DDTHH:MM:SS+00:00`.
pub fn format_date_time(secs: i64) -> String {
    let (y, m, d) = civil_from_days(secs.div_euclid(86_400));
    let s = secs.rem_euclid(86_400);
    format!("{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}+00:00", s / 3600, s / 60 % 60, s % 60)
}

/// Days since 1970-01-01 to a proleptic Gregorian (year, month, day) (H. Hinnant's algorithm).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days.saturating_add(719_468);
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

/// Percent-encodes everything but RFC 3986 unreserved characters.
pub fn percent_encode_segment(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests;

#[cfg(test)]
#[test]
fn a_message_timestamp_is_the_exchange_time() {
    let mut rng = Rng::new(1);
    assert_eq!(offset_secs("requestDateTime", 1_777_000_000, &mut rng), 1_777_000_000);
}
