//! Charts as inline SVG, drawn here so the page needs no script and loads nothing: the
//! traffic of each service over time, its errors, sparklines and the class bar.
//!
//! Time is bucketed so that a chart never has more than [`MAX_CHART_BUCKETS`] points,
//! whatever the period: hours for two weeks, then 2, 3, 4, 6, 12 hours, days, two days and
//! weeks; past that, only the latest buckets are drawn.

use std::fmt::Write as _;

use super::input::TrafficPoint;
use super::model::{Class, ServiceRow};
use super::text::{epoch_secs, html};

/// Points per chart at most (two weeks of hours).
pub const MAX_CHART_BUCKETS: i64 = 336;

/// Services drawn as their own line; the rest are summed into one "other services" line.
pub const MAX_CHART_SERVICES: usize = 8;

/// Bucket sizes tried, in hours. Those up to a day divide a day, so buckets start at UTC
/// midnight.
const BUCKET_HOURS: [i64; 9] = [1, 2, 3, 4, 6, 12, 24, 48, 168];

/// Line colours of the services (a colour-blind-safe categorical palette); the last is for
/// the "other services" line.
pub const SERIES_COLOURS: [&str; 9] =
    ["#3366cc", "#e08a1e", "#2a9d8f", "#b5479b", "#6a7f10", "#8c6bd6", "#c8553d", "#1b8bb4", "#8a94a6"];

/// The time grid of a chart: `n` buckets of `hours` hours from hour `start` (hours since
/// the epoch).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Grid {
    /// First bucket's start, in hours since the epoch.
    pub start: i64,
    /// Bucket size in hours.
    pub hours: i64,
    /// Buckets.
    pub n: i64,
}

fn hour_of(p: &TrafficPoint) -> Option<i64> {
    epoch_secs(&p.hour).map(|s| s.div_euclid(3600))
}

impl Grid {
    /// The grid covering every point of `series`; `None` when no point has a readable time.
    pub fn covering<'a>(series: impl Iterator<Item = &'a [TrafficPoint]>) -> Option<Grid> {
        let (mut lo, mut hi) = (i64::MAX, i64::MIN);
        for s in series {
            for h in s.iter().filter_map(hour_of) {
                lo = lo.min(h);
                hi = hi.max(h);
            }
        }
        if lo > hi {
            return None;
        }
        for hours in BUCKET_HOURS {
            let start = lo - lo.rem_euclid(hours);
            let n = (hi - start) / hours + 1;
            if n <= MAX_CHART_BUCKETS {
                return Some(Grid { start, hours, n });
            }
        }
        // Longer than the largest buckets allow: keep the latest weeks.
        let hours = 168;
        let last = hi - hi.rem_euclid(hours);
        Some(Grid { start: last - (MAX_CHART_BUCKETS - 1) * hours, hours, n: MAX_CHART_BUCKETS })
    }

    /// Sums a series into the grid: (requests, errors) per bucket. Points outside are left out.
    pub fn bucket(&self, points: &[TrafficPoint]) -> Vec<(u64, u64)> {
        let mut out = vec![(0u64, 0u64); usize::try_from(self.n).unwrap_or(0)];
        for p in points {
            let Some(h) = hour_of(p) else { continue };
            let i = (h - self.start).div_euclid(self.hours);
            if let Some(slot) = usize::try_from(i).ok().and_then(|i| out.get_mut(i)) {
                slot.0 = slot.0.saturating_add(p.requests);
                slot.1 = slot.1.saturating_add(p.errors);
            }
        }
        out
    }

    /// A description such as `hourly` or `per 6 hours`.
    pub fn step_name(&self) -> String {
        match self.hours {
            1 => "per hour".into(),
            24 => "per day".into(),
            168 => "per week".into(),
            h => format!("per {h} hours"),
        }
    }
}

/// A round number at or above `v` (1, 2 or 5 times a power of ten).
fn nice_ceil(v: u64) -> u64 {
    if v <= 1 {
        return 1;
    }
    let mut p = 1u64;
    while p.saturating_mul(10) < v {
        p = p.saturating_mul(10);
    }
    for m in [1u64, 2, 5, 10] {
        let c = p.saturating_mul(m);
        if c >= v {
            return c;
        }
    }
    p.saturating_mul(10)
}

/// The y axis of a chart whose largest value is `v`: a round step and the top, with at most
/// four steps, so every grid line has a round label.
fn axis(v: u64) -> (u64, u64) {
    let step = nice_ceil(v.div_ceil(4).max(1));
    (step, step.saturating_mul(v.div_ceil(step).max(1)))
}

/// `1.2k`, `3.4M`: for axis labels.
pub fn compact(n: u64) -> String {
    let f = n as f64;
    if n >= 1_000_000 {
        format!("{}M", trim(f / 1e6))
    } else if n >= 1_000 {
        format!("{}k", trim(f / 1e3))
    } else {
        n.to_string()
    }
}

fn trim(f: f64) -> String {
    let s = format!("{f:.1}");
    s.strip_suffix(".0").map_or(s.clone(), str::to_string)
}

fn label_time(hour: i64, with_date: bool) -> String {
    let Some(t) = chrono::DateTime::from_timestamp(hour.saturating_mul(3600), 0) else { return String::new() };
    if with_date {
        t.format("%b %-d").to_string()
    } else {
        t.format("%H:%M").to_string()
    }
}

/// Chart frame in viewBox units.
struct Frame {
    w: f64,
    h: f64,
    left: f64,
    right: f64,
    top: f64,
    bottom: f64,
}

impl Frame {
    fn x(&self, grid: &Grid, i: i64) -> f64 {
        let inner = self.w - self.left - self.right;
        if grid.n <= 1 {
            return self.left + inner / 2.0;
        }
        self.left + inner * i as f64 / (grid.n - 1) as f64
    }

    fn y(&self, v: u64, max: u64) -> f64 {
        let inner = self.h - self.top - self.bottom;
        self.h - self.bottom - inner * v as f64 / max.max(1) as f64
    }
}

fn x_axis(out: &mut String, f: &Frame, grid: &Grid) {
    let span = grid.n * grid.hours;
    let step = [1i64, 2, 3, 6, 12, 24, 48, 72, 168, 336, 720, 2160, 8760].into_iter().find(|s| span / s <= 8).unwrap_or(8760);
    let first = grid.start + (step - grid.start.rem_euclid(step)) % step;
    let mut h = first;
    while h < grid.start + span {
        let pos = (h - grid.start) as f64 / grid.hours as f64;
        let inner = f.w - f.left - f.right;
        let x = if grid.n <= 1 { f.left + inner / 2.0 } else { f.left + inner * pos / (grid.n - 1) as f64 };
        if x <= f.w - f.right + 0.5 {
            let midnight = h.rem_euclid(24) == 0;
            let _ = write!(
                out,
                r#"<line class="tick" x1="{x:.1}" x2="{x:.1}" y1="{}" y2="{}"/><text class="axis" x="{x:.1}" y="{}" text-anchor="middle">{}</text>"#,
                f.h - f.bottom,
                f.h - f.bottom + 4.0,
                f.h - f.bottom + 16.0,
                label_time(h, step >= 24 || midnight)
            );
        }
        h += step;
    }
}

fn y_axis(out: &mut String, f: &Frame, step: u64, max: u64) {
    for k in 0..=max / step.max(1) {
        let v = step * k;
        let y = f.y(v, max);
        let _ = write!(
            out,
            r#"<line class="{}" x1="{}" x2="{}" y1="{y:.1}" y2="{y:.1}"/><text class="axis" x="{}" y="{:.1}" text-anchor="end">{}</text>"#,
            if k == 0 { "base" } else { "grid" },
            f.left,
            f.w - f.right,
            f.left - 8.0,
            y + 4.0,
            compact(v)
        );
    }
}

fn polyline(f: &Frame, grid: &Grid, values: &[u64], max: u64) -> String {
    let mut pts = String::new();
    for (i, v) in values.iter().enumerate() {
        let _ = write!(pts, "{:.1},{:.1} ", f.x(grid, i as i64), f.y(*v, max));
    }
    pts.trim_end().to_string()
}

/// One line of the traffic chart.
pub struct Series {
    /// Its name (a host, or "other services").
    pub name: String,
    /// Colour.
    pub colour: &'static str,
    /// Requests per bucket.
    pub values: Vec<u64>,
}

/// The lines of the traffic chart: the busiest services with hourly traffic, one line each,
/// the rest summed. Also the errors per bucket over all services.
pub fn traffic_series(services: &[ServiceRow]) -> Option<(Grid, Vec<Series>, Vec<u64>)> {
    let with: Vec<&ServiceRow> = services.iter().filter(|s| !s.traffic.is_empty()).collect();
    let grid = Grid::covering(with.iter().map(|s| s.traffic.as_slice()))?;
    let n = usize::try_from(grid.n).unwrap_or(0);
    let mut series = Vec::new();
    let mut other = vec![0u64; n];
    let mut errors = vec![0u64; n];
    let mut others = 0usize;
    // `services` is busiest first.
    for (i, s) in with.iter().enumerate() {
        let b = grid.bucket(&s.traffic);
        for (e, (_, err)) in errors.iter_mut().zip(&b) {
            *e = e.saturating_add(*err);
        }
        let values: Vec<u64> = b.iter().map(|(r, _)| *r).collect();
        match SERIES_COLOURS.get(i).filter(|_| i < MAX_CHART_SERVICES) {
            Some(colour) => series.push(Series { name: s.host.clone(), colour, values }),
            None => {
                others += 1;
                for (o, v) in other.iter_mut().zip(values) {
                    *o = o.saturating_add(v);
                }
            }
        }
    }
    if others > 0 {
        series.push(Series { name: format!("{others} other services"), colour: "#8a94a6", values: other });
    }
    Some((grid, series, errors))
}

/// The traffic chart: requests per bucket, one line per series.
pub fn traffic_chart(grid: &Grid, series: &[Series]) -> String {
    let f = Frame { w: 1000.0, h: 280.0, left: 56.0, right: 16.0, top: 12.0, bottom: 28.0 };
    let (step, max) = axis(series.iter().flat_map(|s| s.values.iter().copied()).max().unwrap_or(0));
    let mut out = format!(
        r#"<svg class="chart" viewBox="0 0 {} {}" role="img" aria-labelledby="traffic-title"><title id="traffic-title">Requests {} per service</title>"#,
        f.w,
        f.h,
        grid.step_name()
    );
    y_axis(&mut out, &f, step, max);
    x_axis(&mut out, &f, grid);
    for s in series {
        let _ = write!(
            out,
            r#"<polyline class="series" stroke="{}" points="{}"><title>{}</title></polyline>"#,
            s.colour,
            polyline(&f, grid, &s.values, max),
            html(&s.name)
        );
        if grid.n == 1 {
            if let Some(v) = s.values.first() {
                let _ = write!(out, r#"<circle cx="{:.1}" cy="{:.1}" r="4" fill="{}"/>"#, f.x(grid, 0), f.y(*v, max), s.colour);
            }
        }
    }
    out.push_str("</svg>");
    out
}

/// Errors per bucket over all services, as bars under the traffic chart.
pub fn errors_chart(grid: &Grid, errors: &[u64]) -> String {
    let f = Frame { w: 1000.0, h: 110.0, left: 56.0, right: 16.0, top: 10.0, bottom: 28.0 };
    let max = errors.iter().copied().max().unwrap_or(0).max(1);
    let mut out = format!(
        r#"<svg class="chart" viewBox="0 0 {} {}" role="img" aria-labelledby="errors-title"><title id="errors-title">Error responses {} over all services</title>"#,
        f.w,
        f.h,
        grid.step_name()
    );
    // A baseline and the top line are enough for a strip this low.
    for v in [0, max] {
        let y = f.y(v, max);
        let _ = write!(
            out,
            r#"<line class="{}" x1="{}" x2="{}" y1="{y:.1}" y2="{y:.1}"/><text class="axis" x="{}" y="{:.1}" text-anchor="end">{}</text>"#,
            if v == 0 { "base" } else { "grid" },
            f.left,
            f.w - f.right,
            f.left - 8.0,
            y + 4.0,
            compact(v)
        );
    }
    x_axis(&mut out, &f, grid);
    let inner = f.w - f.left - f.right;
    let slot = inner / grid.n.max(1) as f64;
    let bar = (slot * 0.7).clamp(1.0, 18.0);
    for (i, e) in errors.iter().enumerate() {
        if *e == 0 {
            continue;
        }
        let x = f.x(grid, i as i64) - bar / 2.0;
        let y = f.y(*e, max);
        let _ = write!(
            out,
            r#"<rect class="err" x="{x:.1}" y="{y:.1}" width="{bar:.1}" height="{:.1}"><title>{} errors</title></rect>"#,
            (f.h - f.bottom - y).max(0.5),
            e
        );
    }
    out.push_str("</svg>");
    out
}

/// A small line of a service's requests over the grid, for a table cell.
pub fn sparkline(grid: &Grid, points: &[TrafficPoint], colour: &str) -> String {
    let values: Vec<u64> = grid.bucket(points).into_iter().map(|(r, _)| r).collect();
    let f = Frame { w: 120.0, h: 26.0, left: 1.0, right: 1.0, top: 2.0, bottom: 2.0 };
    let max = values.iter().copied().max().unwrap_or(0).max(1);
    let line = polyline(&f, grid, &values, max);
    let area = format!("{:.1},{:.1} {line} {:.1},{:.1}", f.left, f.h - f.bottom, f.w - f.right, f.h - f.bottom);
    format!(
        r#"<svg class="spark" viewBox="0 0 120 26" aria-hidden="true"><polygon points="{area}" fill="{colour}" fill-opacity="0.12"/><polyline points="{line}" fill="none" stroke="{colour}" stroke-width="1.5"/></svg>"#
    )
}

/// The endpoints by class as one stacked bar.
pub fn class_bar(counts: &[(Class, u64)]) -> String {
    let total: u64 = counts.iter().map(|(_, n)| *n).sum();
    let mut out = String::from(r#"<svg class="classbar" viewBox="0 0 1000 14" preserveAspectRatio="none" role="img" aria-label="Endpoints by class">"#);
    if total == 0 {
        out.push_str(r##"<rect x="0" y="0" width="1000" height="14" fill="#e3e6eb"/></svg>"##);
        return out;
    }
    let mut x = 0.0f64;
    for (class, n) in counts {
        if *n == 0 {
            continue;
        }
        let w = 1000.0 * *n as f64 / total as f64;
        let _ = write!(
            out,
            r#"<rect class="f-{}" x="{x:.2}" y="0" width="{w:.2}" height="14"><title>{}: {n}</title></rect>"#,
            class.name(),
            class.name()
        );
        x += w;
    }
    out.push_str("</svg>");
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

    use super::*;

    fn pt(hour: &str, requests: u64) -> TrafficPoint {
        TrafficPoint { hour: hour.into(), requests, errors: 0, bytes: 0 }
    }

    #[test]
    fn two_days_of_hours_are_hourly_buckets() {
        let s = vec![pt("2026-03-28T06:00:00Z", 5), pt("2026-03-29T11:00:00Z", 7)];
        let g = Grid::covering([s.as_slice()].into_iter()).unwrap();
        assert_eq!(g.hours, 1);
        assert_eq!(g.n, 30);
        let b = g.bucket(&s);
        assert_eq!(b.first(), Some(&(5, 0)));
        assert_eq!(b.last(), Some(&(7, 0)));
        assert_eq!(b.iter().map(|x| x.0).sum::<u64>(), 12);
    }

    #[test]
    fn a_long_period_is_bucketed_and_bounded() {
        // 60 days: 1440 hours, more than 336 buckets of 1, 2, 3 hours; 6-hour buckets fit.
        let s = vec![pt("2026-01-01T00:00:00Z", 1), pt("2026-01-01T05:00:00Z", 2), pt("2026-03-01T23:00:00Z", 3)];
        let g = Grid::covering([s.as_slice()].into_iter()).unwrap();
        assert_eq!(g.hours, 6);
        assert!(g.n <= MAX_CHART_BUCKETS);
        let b = g.bucket(&s);
        assert_eq!(b.first(), Some(&(3, 0)), "the first two hours fall in one 6-hour bucket");
        // Ten years: weekly buckets, only the latest kept.
        let s = vec![pt("2016-01-01T00:00:00Z", 1), pt("2026-01-01T00:00:00Z", 2)];
        let g = Grid::covering([s.as_slice()].into_iter()).unwrap();
        assert_eq!((g.hours, g.n), (168, MAX_CHART_BUCKETS));
        assert_eq!(g.bucket(&s).iter().map(|x| x.0).sum::<u64>(), 2, "the old point is outside");
    }

    #[test]
    fn unreadable_times_are_skipped() {
        let s = vec![pt("yesterday", 5)];
        assert!(Grid::covering([s.as_slice()].into_iter()).is_none());
    }

    #[test]
    fn axis_numbers() {
        assert_eq!(nice_ceil(0), 1);
        assert_eq!(nice_ceil(7), 10);
        assert_eq!(nice_ceil(11), 20);
        assert_eq!(nice_ceil(180), 200);
        assert_eq!(nice_ceil(420), 500);
        assert_eq!(axis(5), (2, 6));
        assert_eq!(axis(3300), (1000, 4000));
        assert_eq!(axis(57), (20, 60));
        assert_eq!(axis(0), (1, 1));
        assert_eq!(compact(950), "950");
        assert_eq!(compact(1500), "1.5k");
        assert_eq!(compact(2_000_000), "2M");
    }
}
