//! The tables of the HTML page. Every value from traffic goes through [`html`].

use std::fmt::Write as _;

use super::model::{Class, ConsumerSource, ConsumersSection, EndpointRow, KindRow, OpenFinding, Report};
use super::svg::{sparkline, Grid, SERIES_COLOURS};
use super::text::{count, html, millis, short, short_opt};
use super::MAX_HTML_ROWS;

/// A column of an endpoint table.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Col {
    /// Service.
    Host,
    /// Method.
    Method,
    /// Path template.
    Path,
    /// Class badge with the new and accepted marks.
    Class,
    /// Class in the previous report.
    Was,
    /// Requests.
    Requests,
    /// 4xx and 5xx answers.
    Errors,
    /// Distinct consumers.
    Consumers,
    /// Authentication kinds.
    Auth,
    /// Sensitive-data kinds.
    Sensitive,
    /// Sensitive responses to unauthenticated requests.
    SensitiveNoAuth,
    /// 99th percentile latency.
    P99,
    /// First request.
    FirstSeen,
    /// Last request.
    LastSeen,
    /// Zombie reasons.
    Why,
    /// Documenting spec and operation.
    Spec,
}

impl Col {
    fn head(self) -> (&'static str, bool) {
        match self {
            Col::Host => ("Service", false),
            Col::Method => ("Method", false),
            Col::Path => ("Path", false),
            Col::Class => ("Class", false),
            Col::Was => ("Before", false),
            Col::Requests => ("Requests", true),
            Col::Errors => ("Errors", true),
            Col::Consumers => ("Consumers", true),
            Col::Auth => ("Auth", false),
            Col::Sensitive => ("Sensitive data", false),
            Col::SensitiveNoAuth => ("Unauth. sensitive", true),
            Col::P99 => ("p99 ms", true),
            Col::FirstSeen => ("First seen", false),
            Col::LastSeen => ("Last seen", false),
            Col::Why => ("Why", false),
            Col::Spec => ("Spec", false),
        }
    }
}

fn badge(class: Class) -> String {
    format!(r#"<span class="badge {0}">{0}</span>"#, class.name())
}

fn tags(items: &[String], warn: impl Fn(&str) -> bool) -> String {
    if items.is_empty() {
        return r#"<span class="muted">—</span>"#.to_string();
    }
    items.iter().map(|t| format!(r#"<span class="tag{}">{}</span>"#, if warn(t) { " warn" } else { "" }, html(t))).collect()
}

/// A host cell: kept on one line unless it is long enough to need wrapping.
pub fn host_cell(host: &str) -> String {
    let class = if host.chars().count() <= 40 { "host nw" } else { "host" };
    format!(r#"<td class="{class}">{}</td>"#, html(host))
}

/// A path with break opportunities after each `/`, so long templates wrap between segments.
pub fn path_html(p: &str) -> String {
    html(p).replace('/', "/<wbr>")
}

fn cell(col: Col, e: &EndpointRow, mark_new: bool) -> String {
    let num = |n: u64| format!(r#"<td class="num">{}</td>"#, count(n));
    match col {
        Col::Host => host_cell(&e.host),
        Col::Method => format!(r#"<td class="method">{}</td>"#, html(&e.method)),
        Col::Path => format!(r#"<td class="path">{}</td>"#, path_html(&e.path)),
        Col::Class => {
            let mut s = badge(e.classification);
            if e.new && mark_new {
                s.push_str(r#"<span class="badge new">new</span>"#);
            }
            if let Some(by) = &e.accepted_by {
                let _ = write!(s, r#"<span class="badge accepted" title="accepted by {0}">accepted</span>"#, html(by));
            }
            format!(r#"<td class="class">{s}</td>"#)
        }
        Col::Was => match e.previous_classification {
            Some(c) => format!("<td>{}</td>", badge(c)),
            None => r#"<td class="muted">not listed</td>"#.to_string(),
        },
        Col::Requests => num(e.hits),
        Col::Errors => num(e.errors),
        Col::Consumers => format!(r#"<td class="num">{}{}</td>"#, if e.counts_estimated { "≈" } else { "" }, count(e.consumers)),
        Col::Auth => format!("<td>{}</td>", tags(&e.auth, |t| t == "none")),
        Col::Sensitive => format!("<td>{}</td>", tags(&e.sensitive, |_| false)),
        Col::SensitiveNoAuth => num(e.sensitive_without_auth),
        Col::P99 => match e.p99_ms {
            Some(ms) => format!(r#"<td class="num">{}</td>"#, millis(ms)),
            None => r#"<td class="num muted">—</td>"#.to_string(),
        },
        Col::FirstSeen => format!(r#"<td class="when">{}</td>"#, html(&short_opt(e.first_seen.as_deref()))),
        Col::LastSeen => format!(r#"<td class="when">{}</td>"#, html(&short_opt(e.last_seen.as_deref()))),
        Col::Why => format!("<td>{}</td>", tags(&e.zombie_reasons.iter().map(|r| r.replace('_', " ")).collect::<Vec<_>>(), |_| false)),
        Col::Spec => {
            let spec = e.spec.as_deref().unwrap_or("—");
            match &e.operation_id {
                Some(op) => format!(r#"<td>{}<br><span class="muted">{}</span></td>"#, html(spec), html(op)),
                None => format!("<td>{}</td>", html(spec)),
            }
        }
    }
}

/// A table of endpoints with the given columns; `id` names it for links and tests. At most
/// [`MAX_HTML_ROWS`] rows; a note says how many more are in endpoints.csv. `mark_new` shows
/// the "new" badge (pointless when there is no previous report and everything is new).
pub fn endpoints(id: &str, rows: &[&EndpointRow], cols: &[Col], empty: &str, mark_new: bool) -> String {
    if rows.is_empty() {
        return format!(r#"<div class="empty">{}</div>"#, html(empty));
    }
    let mut out = format!(r#"<div class="scroll"><table id="{id}"><thead><tr>"#);
    for c in cols {
        let (name, num) = c.head();
        let _ = write!(out, r#"<th{}>{name}</th>"#, if num { r#" class="num""# } else { "" });
    }
    out.push_str("</tr></thead><tbody>");
    for e in rows.iter().take(MAX_HTML_ROWS) {
        let _ = write!(out, r#"<tr data-class="{}"{}>"#, e.classification.name(), if e.new { r#" data-new="1""# } else { "" });
        for c in cols {
            out.push_str(&cell(*c, e, mark_new));
        }
        out.push_str("</tr>");
    }
    out.push_str("</tbody></table></div>");
    if rows.len() > MAX_HTML_ROWS {
        let _ = write!(
            out,
            r#"<p class="note">{} more rows are not shown here; endpoints.csv and report.json list them all.</p>"#,
            count((rows.len() - MAX_HTML_ROWS) as u64)
        );
    }
    out
}

/// The services table, with a sparkline of each one's traffic when the inventory has it.
pub fn services(report: &Report, grid: Option<&Grid>) -> String {
    if report.services.is_empty() {
        return r#"<div class="empty">No service was seen.</div>"#.to_string();
    }
    let mut out = String::from(
        r#"<div class="scroll"><table id="services"><thead><tr><th>Service</th><th class="num">Requests</th><th class="num">Errors</th><th class="num">Endpoints</th><th>Classes</th><th>Traffic</th><th>Last seen</th></tr></thead><tbody>"#,
    );
    for (i, s) in report.services.iter().take(MAX_HTML_ROWS).enumerate() {
        let total: u64 = s.endpoints.values().sum();
        let mut classes = String::new();
        for c in Class::ALL {
            if let Some(n) = s.endpoints.get(c.name()).filter(|n| **n > 0) {
                let _ = write!(classes, r#"<span class="badge {}">{} {}</span> "#, c.name(), count(*n), c.name());
            }
        }
        if !s.inspectable {
            classes.push_str(r#"<span class="tag warn">encrypted only</span>"#);
        } else if s.decrypted_requests > 0 {
            let _ = write!(classes, r#"<span class="tag">{} decrypted</span>"#, count(s.decrypted_requests));
        }
        let colour = SERIES_COLOURS.get(i).copied().unwrap_or("#8a94a6");
        let spark = match grid {
            Some(g) if !s.traffic.is_empty() => sparkline(g, &s.traffic, colour),
            _ => r#"<span class="muted">—</span>"#.to_string(),
        };
        let _ = write!(
            out,
            r#"<tr>{}<td class="num">{}</td><td class="num">{}</td><td class="num">{}</td><td>{classes}</td><td>{spark}</td><td class="when">{}</td></tr>"#,
            host_cell(&s.host),
            count(s.requests),
            s.errors.map_or_else(|| "—".to_string(), count),
            count(total),
            html(&short_opt(s.last_seen.as_deref())),
        );
    }
    out.push_str("</tbody></table></div>");
    out
}

/// The top consumers table.
pub fn consumers(c: &ConsumersSection) -> String {
    match c.source {
        ConsumerSource::NotAvailable => {
            return r#"<div class="empty">Not available: no consumers list and no anomalies were given to this report.</div>"#
                .to_string()
        }
        _ if c.top.is_empty() => return r#"<div class="empty">No consumer to show.</div>"#.to_string(),
        _ => {}
    }
    let from_file = c.source == ConsumerSource::ConsumersFile;
    let max = c.top.iter().map(|r| r.consumer.requests).max().unwrap_or(0).max(1);
    let mut out = String::from(r#"<div class="scroll"><table id="consumers"><thead><tr><th>Consumer</th>"#);
    if from_file {
        out.push_str(r#"<th class="num">Requests</th><th class="num">Errors</th><th class="num">Endpoints</th>"#);
    } else {
        out.push_str(r#"<th class="num">Requests in findings</th><th class="num">Findings</th>"#);
    }
    out.push_str(r#"<th class="num">Open findings</th><th>First seen</th><th>Last seen</th></tr></thead><tbody>"#);
    for r in &c.top {
        let d = &r.consumer;
        let name = if d.label.is_empty() { &d.id } else { &d.label };
        let pct = 100.0 * d.requests as f64 / max as f64;
        let _ = write!(
            out,
            r#"<tr><td class="who"><span class="label">{}</span><span class="tag">{}</span><span class="id">{}</span></td><td class="num">{}<span class="bar"><span style="width:{pct:.1}%"></span></span></td>"#,
            html(name),
            html(if d.source.is_empty() { "unknown" } else { &d.source }),
            html(&d.id),
            count(d.requests),
        );
        if from_file {
            let _ = write!(out, r#"<td class="num">{}</td><td class="num">{}</td>"#, count(d.errors), count(d.endpoints));
        } else {
            let _ = write!(out, r#"<td class="num">{}</td>"#, count(r.findings));
        }
        let open = if r.open_findings > 0 {
            format!(r#"<span class="badge sev-high">{}</span>"#, count(r.open_findings))
        } else {
            "0".to_string()
        };
        let _ = write!(
            out,
            r#"<td class="num">{open}</td><td class="when">{}</td><td class="when">{}</td></tr>"#,
            html(&short_opt(d.first_seen.as_deref())),
            html(&short_opt(d.last_seen.as_deref()))
        );
    }
    out.push_str("</tbody></table></div>");
    out
}

/// Severity columns shown: high, medium and low always, critical and informational when used.
fn severity_columns(rows: &[KindRow]) -> Vec<&'static str> {
    let used = |s: &str| rows.iter().any(|r| r.open_by_severity.get(s).is_some_and(|n| *n > 0));
    ["critical", "high", "medium", "low", "informational"]
        .into_iter()
        .filter(|s| matches!(*s, "high" | "medium" | "low") || used(s))
        .collect()
}

fn severity_rgb(s: &str) -> &'static str {
    match s {
        "critical" => "125,17,40",
        "high" => "214,51,108",
        "medium" => "232,89,12",
        "low" => "201,148,0",
        _ => "134,142,150",
    }
}

/// Open anomalies by kind (rows) and severity (columns), cells tinted by count, then the
/// open and closed totals of each kind.
pub fn kind_matrix(rows: &[KindRow]) -> String {
    let cols = severity_columns(rows);
    let max = rows.iter().flat_map(|r| r.open_by_severity.values().copied()).max().unwrap_or(0).max(1);
    let mut out = String::from(r#"<div class="scroll"><table id="anomaly-kinds" class="heat"><thead><tr><th>Kind</th>"#);
    for s in &cols {
        let _ = write!(out, r#"<th class="num">Open {s}</th>"#);
    }
    out.push_str(r#"<th class="num">Open</th><th class="num">Closed</th></tr></thead><tbody>"#);
    for r in rows.iter().take(MAX_HTML_ROWS) {
        let _ = write!(out, r#"<tr data-kind="{0}"><td>{1}</td>"#, html(&r.kind), html(&r.kind.replace('_', " ")));
        for s in &cols {
            let n = r.open_by_severity.get(s).copied().unwrap_or(0);
            if n == 0 {
                out.push_str(r#"<td class="cell zero">·</td>"#);
            } else {
                let alpha = 0.14 + 0.4 * n as f64 / max as f64;
                let _ = write!(out, r#"<td class="cell" style="background:rgba({},{alpha:.2})">{}</td>"#, severity_rgb(s), count(n));
            }
        }
        let _ = write!(
            out,
            r#"<td class="num"><b data-open-kind="{}">{}</b></td><td class="num muted">{}</td></tr>"#,
            html(&r.kind),
            count(r.open),
            count(r.closed)
        );
    }
    out.push_str("</tbody></table></div>");
    out
}

/// The open findings, most severe first.
pub fn open_findings(list: &[OpenFinding], open: u64) -> String {
    let mut out = String::from(
        r#"<div class="scroll"><table id="open-findings"><thead><tr><th>Severity</th><th>Kind</th><th>Consumer</th><th>Endpoint</th><th class="num">Score</th><th class="num">Requests</th><th>Last seen</th><th>Triage</th><th>Summary</th></tr></thead><tbody>"#,
    );
    for f in list.iter().take(MAX_HTML_ROWS) {
        let _ = write!(
            out,
            r#"<tr><td><span class="badge sev-{0}">{0}</span></td><td>{1}</td><td>{2}</td><td class="path">{3}</td><td class="num">{4}</td><td class="num">{5}</td><td class="when">{6}</td><td>{8}</td><td>{7}</td></tr>"#,
            f.severity,
            html(&f.kind.replace('_', " ")),
            html(f.consumer.as_deref().unwrap_or("—")),
            path_html(f.endpoint.as_deref().unwrap_or("—")),
            f.score,
            count(f.count),
            html(&short(&f.last_seen)),
            html(&f.message),
            html(&f.triage),
        );
    }
    out.push_str("</tbody></table></div>");
    let shown = list.len().min(MAX_HTML_ROWS) as u64;
    if open > shown {
        let _ = write!(out, r#"<p class="note">The {} most severe of {} open findings; anomalies.jsonl has them all.</p>"#, shown, count(open));
    }
    out
}
