//! MISP CSV exports: a header line naming the columns, one attribute per record
//! (docs/intel.md).

use super::csv::Reader;
use super::value::{parse_value, ValueError};
use super::{
    Action, Collector, FeedError, FeedLimits, Indicator, IndicatorKind, Location, ParsedFeed,
};

/// The MISP attribute types apitap matches, and how: the value before `|` for the composite
/// types (`ip-src|port`: the address; `hostname|port`: the host).
fn kind_of(ty: &str) -> Option<(IndicatorKind, bool)> {
    Some(match ty {
        "ip-src" | "ip-dst" => (IndicatorKind::Network, false),
        "ip-src|port" | "ip-dst|port" => (IndicatorKind::Network, true),
        "domain" | "hostname" => (IndicatorKind::Domain, false),
        "hostname|port" => (IndicatorKind::Domain, true),
        "url" => (IndicatorKind::Url, false),
        "user-agent" => (IndicatorKind::UserAgent, false),
        "ja4" | "ja4+" | "ja4-fingerprint" => (IndicatorKind::Ja4, false),
        _ => return None,
    })
}

struct Columns {
    uuid: Option<usize>,
    ty: usize,
    value: usize,
    to_ids: Option<usize>,
    comment: Option<usize>,
}

/// Parses a MISP CSV export. The first record must be a header naming at least `type` and
/// `value` (`uuid`, `to_ids` and `comment` are used when present; other columns, `date` and
/// `timestamp` included, are ignored). A record of another type, with `to_ids` 0, or with a
/// bad value is reported by its line and skipped.
pub fn parse_misp_csv(
    bytes: &[u8],
    now: i64,
    limits: &FeedLimits,
) -> Result<ParsedFeed, FeedError> {
    let text = std::str::from_utf8(bytes).map_err(|e| FeedError {
        what: format!("not UTF-8 text: invalid byte at offset {}", e.valid_up_to()),
    })?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut records = Reader::new(text);
    let header = records
        .next()
        .and_then(|r| r.fields.ok())
        .ok_or_else(|| FeedError {
            what: "not a MISP CSV export: no header line".into(),
        })?;
    let find = |name: &str| {
        header
            .iter()
            .position(|h| h.trim().eq_ignore_ascii_case(name))
    };
    let (Some(ty), Some(value)) = (find("type"), find("value")) else {
        return Err(FeedError {
            what: "not a MISP CSV export: the header line names no \"type\" and \"value\" columns"
                .into(),
        });
    };
    let cols = Columns {
        uuid: find("uuid"),
        ty,
        value,
        to_ids: find("to_ids"),
        comment: find("comment"),
    };
    let mut c = Collector::new(*limits, now);
    for rec in records {
        let at = Location::Line(rec.line);
        let fields = match rec.fields {
            Ok(f) if f.len() == 1 && f.first().is_some_and(|s| s.trim().is_empty()) => continue,
            Ok(f) => f,
            Err(why) => {
                c.feed.counts.entries += 1;
                c.feed.counts.skipped += 1;
                c.problem(at, None, why, Action::Skipped);
                continue;
            }
        };
        if c.full(at) {
            break;
        }
        c.feed.counts.entries += 1;
        record(&mut c, rec.line, &cols, &fields);
    }
    Ok(c.feed)
}

fn record(c: &mut Collector, line: usize, cols: &Columns, fields: &[String]) {
    let at = Location::Line(line);
    let get = |i: Option<usize>| i.and_then(|i| fields.get(i)).map(String::as_str);
    let id = get(cols.uuid).filter(|u| !u.is_empty());
    let skip = |c: &mut Collector, what: String| {
        c.feed.counts.skipped += 1;
        c.problem(at, id, what, Action::Skipped);
    };
    let (Some(ty), Some(raw)) = (get(Some(cols.ty)), get(Some(cols.value))) else {
        return skip(
            c,
            format!("{} fields, fewer than the header names", fields.len()),
        );
    };
    let Some((kind, composite)) = kind_of(ty.trim()) else {
        return skip(
            c,
            format!(
                "the MISP type {} is not matched by apitap",
                super::quote_cut(ty)
            ),
        );
    };
    if let Some(flag) = get(cols.to_ids) {
        match flag.trim() {
            "1" | "true" | "True" | "" => {}
            "0" | "false" | "False" => {
                return skip(c, "to_ids is 0: not meant for detection".into())
            }
            other => {
                return skip(
                    c,
                    format!("to_ids {} is neither 0 nor 1", super::quote_cut(other)),
                )
            }
        }
    }
    let raw = if composite {
        raw.split_once('|').map_or(raw, |(v, _)| v)
    } else {
        raw
    };
    let value = match parse_value(kind, raw, c.limits.max_value_bytes) {
        Ok(v) => v,
        Err(e) => {
            if matches!(e, ValueError::TooLong(_)) {
                c.feed.counts.value_too_long += 1;
            }
            return skip(c, e.message(kind, raw));
        }
    };
    let id = id.map_or_else(|| format!("line:{line}"), str::to_string);
    let name = get(cols.comment).unwrap_or("").to_string();
    c.push(Indicator {
        id,
        name,
        value,
        confidence: None,
        valid_from: None,
        valid_until: None,
    });
}
