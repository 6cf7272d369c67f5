//! How long each kind of personal data is kept: the `[store.retention]` configuration section.

use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// One day.
const DAY: u64 = 86_400;
/// Longest retention accepted: 100 years (beyond it, time arithmetic would overflow).
const MAX_DAYS: u64 = 36_500;

/// A retention period: whole days, written in the configuration as an integer number of days
/// (`90`) or a string with a unit: `"90d"`, `"12w"`, `"2160h"` (hours must make whole days).
/// Zero is refused: data the sensor needs cannot be kept for no time at all; to keep something
/// longer, give a longer period.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Retention {
    days: u64,
}

impl Retention {
    /// A period of `days` days (1 to 36,500).
    pub fn days(days: u64) -> Option<Retention> {
        (1..=MAX_DAYS).contains(&days).then_some(Retention { days })
    }

    /// The number of days.
    pub fn as_days(self) -> u64 {
        self.days
    }

    /// As a duration.
    pub fn as_duration(self) -> Duration {
        Duration::from_secs(self.days * DAY)
    }

    /// The cutoff for data seen last before it, `now` minus the period (unix ns, 0 at most).
    pub fn cutoff(self, now: u64) -> u64 {
        now.saturating_sub(self.days * DAY * 1_000_000_000)
    }

    /// Parses `90d`, `12w`, `2160h` or a bare number of days.
    pub fn parse(text: &str) -> Result<Retention, String> {
        let t = text.trim();
        let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
        let (num, unit) = t.split_at(split);
        let fix = "write a number of days such as 90, or \"90d\", \"12w\", \"2160h\"";
        let n: u64 = num.parse().map_err(|_| format!("{text:?} is not a retention period; {fix}"))?;
        let days = match unit.trim() {
            "" | "d" | "day" | "days" => Some(n),
            "w" | "week" | "weeks" => n.checked_mul(7),
            "h" | "hour" | "hours" if n % 24 == 0 => Some(n / 24),
            "h" | "hour" | "hours" => return Err(format!("{text:?} is not a whole number of days; {fix}")),
            other => return Err(format!("{text:?}: unknown unit {other:?}; {fix}")),
        };
        days.and_then(Retention::days).ok_or_else(|| format!("{text:?} is out of range: retention is 1 to {MAX_DAYS} days"))
    }
}

impl fmt::Display for Retention {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}d", self.days)
    }
}

impl Serialize for Retention {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_string())
    }
}

impl<'de> Deserialize<'de> for Retention {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Days(i64),
            Text(String),
        }
        match Raw::deserialize(d)? {
            Raw::Days(n) => u64::try_from(n)
                .ok()
                .and_then(Retention::days)
                .ok_or_else(|| serde::de::Error::custom(format!("{n} days is out of range: retention is 1 to {MAX_DAYS} days"))),
            Raw::Text(t) => Retention::parse(&t).map_err(serde::de::Error::custom),
        }
    }
}

/// The `[store.retention]` section: how long each kind of personal data stays in the store
/// after it was last seen (packet time). Why each default is what it is: docs/store.md.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RetentionConfig {
    /// A consumer's profile (baseline) after its last request. Default 90 days.
    pub consumer_profiles: Retention,
    /// A consumer-to-customer link after the last request naming both. Default 30 days.
    pub customer_links: Retention,
    /// A finding after its last request. Default 180 days.
    pub findings: Retention,
    /// What a report listed, after the report. Default 400 days.
    pub reports: Retention,
}

impl Default for RetentionConfig {
    fn default() -> Self {
        Self {
            consumer_profiles: Retention { days: 90 },
            customer_links: Retention { days: 30 },
            findings: Retention { days: 180 },
            reports: Retention { days: 400 },
        }
    }
}

/// The kinds of data retention applies to, as the erasure log names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum DataKind {
    /// `consumers` rows (and their customer links).
    ConsumerProfiles,
    /// `consumer_customers` rows.
    CustomerLinks,
    /// `findings` rows.
    Findings,
    /// `reports` rows.
    Reports,
}

impl DataKind {
    /// Every kind, in the order purges report them.
    pub const ALL: [DataKind; 4] = [Self::ConsumerProfiles, Self::CustomerLinks, Self::Findings, Self::Reports];

    /// The name in the erasure log and the configuration.
    pub fn name(self) -> &'static str {
        match self {
            Self::ConsumerProfiles => "consumer_profiles",
            Self::CustomerLinks => "customer_links",
            Self::Findings => "findings",
            Self::Reports => "reports",
        }
    }

    /// Back from [`DataKind::name`].
    pub fn from_name(name: &str) -> Option<DataKind> {
        Self::ALL.into_iter().find(|k| k.name() == name)
    }
}

impl RetentionConfig {
    /// The period for one kind.
    pub fn get(&self, kind: DataKind) -> Retention {
        match kind {
            DataKind::ConsumerProfiles => self.consumer_profiles,
            DataKind::CustomerLinks => self.customer_links,
            DataKind::Findings => self.findings,
            DataKind::Reports => self.reports,
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn parses_days_weeks_and_whole_hours() {
        assert_eq!(Retention::parse("90d").map(Retention::as_days), Ok(90));
        assert_eq!(Retention::parse("12w").map(Retention::as_days), Ok(84));
        assert_eq!(Retention::parse("48h").map(Retention::as_days), Ok(2));
        assert_eq!(Retention::parse(" 7 ").map(Retention::as_days), Ok(7));
        assert!(Retention::parse("25h").unwrap_err().contains("whole number of days"));
        assert!(Retention::parse("0d").unwrap_err().contains("out of range"));
        assert!(Retention::parse("3 fortnights").unwrap_err().contains("unknown unit"));
        assert!(Retention::parse("d").is_err());
    }

    #[test]
    fn config_section_takes_integers_and_strings_and_refuses_unknown_keys() {
        let c: RetentionConfig = toml::from_str("findings = \"365d\"\nconsumer_profiles = 7\n").unwrap();
        assert_eq!(c.findings.as_days(), 365);
        assert_eq!(c.consumer_profiles.as_days(), 7);
        assert_eq!(c.customer_links.as_days(), 30, "unset keys keep their default");
        let err = toml::from_str::<RetentionConfig>("finding = 3").unwrap_err().to_string();
        assert!(err.contains("unknown field") && err.contains("finding"), "{err}");
        let err = toml::from_str::<RetentionConfig>("reports = -1").unwrap_err().to_string();
        assert!(err.contains("out of range"), "{err}");
    }

    #[test]
    fn cutoff_is_now_minus_the_period_and_never_negative() {
        let day = 86_400 * 1_000_000_000u64;
        let r = Retention::days(30).unwrap();
        assert_eq!(r.cutoff(100 * day), 70 * day);
        assert_eq!(r.cutoff(day), 0);
    }
}
