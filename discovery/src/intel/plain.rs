//! Plain lists: one IPv4/IPv6 address, CIDR or domain per line (docs/intel.md).

use super::value::{parse_domain, parse_net, ValueError};
use super::{
    Action, Collector, FeedError, FeedLimits, Indicator, IndicatorKind, IndicatorValue, Location,
    ParsedFeed,
};

/// Parses a plain list: `#` starts a comment (whole line or after the value), blank lines
/// are skipped, a line that is neither an address, a CIDR nor a domain is reported by its
/// number. Indicators are named `line:N` and have no confidence nor validity window. Only a
/// text that is not UTF-8 is an error for the whole feed.
pub fn parse_plain(bytes: &[u8], now: i64, limits: &FeedLimits) -> Result<ParsedFeed, FeedError> {
    let text = std::str::from_utf8(bytes).map_err(|e| FeedError {
        what: format!("not UTF-8 text: invalid byte at offset {}", e.valid_up_to()),
    })?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut c = Collector::new(*limits, now);
    for (n, line) in text.lines().enumerate() {
        let at = Location::Line(n + 1);
        let line = line.split_once('#').map_or(line, |(v, _)| v).trim();
        if line.is_empty() {
            continue;
        }
        if c.full(at) {
            break;
        }
        c.feed.counts.entries += 1;
        match value(line, limits.max_value_bytes) {
            Ok(value) => c.push(Indicator {
                id: format!("line:{}", n + 1),
                name: String::new(),
                value,
                confidence: None,
                valid_from: None,
                valid_until: None,
            }),
            Err(what) => {
                c.feed.counts.skipped += 1;
                if what.1 {
                    c.feed.counts.value_too_long += 1;
                }
                c.problem(at, None, what.0, Action::Skipped);
            }
        }
    }
    Ok(c.feed)
}

/// The line's value; on error the message and whether it was too long.
fn value(line: &str, max: usize) -> Result<IndicatorValue, (String, bool)> {
    if line.len() > max {
        let e = ValueError::TooLong(max);
        return Err((
            e.message(IndicatorKind::Domain, line)
                .replacen("domain ", "", 1),
            true,
        ));
    }
    // Anything with ':' or '/' or only digits and dots is meant as an address.
    let looks_ip =
        line.contains([':', '/']) || line.bytes().all(|b| b.is_ascii_digit() || b == b'.');
    if looks_ip {
        return parse_net(line, None)
            .map(IndicatorValue::Network)
            .map_err(|e| (e.message(IndicatorKind::Network, line), false));
    }
    parse_domain(line)
        .map(IndicatorValue::Domain)
        .map_err(|e| (e.message(IndicatorKind::Domain, line), false))
}
