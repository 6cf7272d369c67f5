//! The HTML page: one self-contained file (inline CSS, inline SVG charts, no script, no
//! external font, image or link), readable on a laptop and on paper.
//!
//! Numbers the tests read back carry `data-count="NAME"`; the endpoint tables carry an id
//! and `data-class` per row.

use std::fmt::Write as _;

use super::html_tables::{self as tables, Col};
use super::model::{Class, ConsumerSource, EndpointRow, Report};
use super::svg;
use super::text::{count, delta, html, when, when_opt};

const STYLE: &str = include_str!("style.css");

/// How a count's change reads: for most of them more is worse.
#[derive(Clone, Copy)]
enum Sense {
    MoreIsWorse,
    Neutral,
}

fn chip(change: Option<i64>, sense: Sense) -> String {
    let Some(d) = change else { return String::new() };
    let class = match (d.signum(), sense) {
        (0, _) => "flat",
        (1, Sense::MoreIsWorse) => "up",
        (1, Sense::Neutral) => "up goodup",
        _ => "down",
    };
    format!(r#"<span class="chip {class}" title="change since the previous report">{}</span>"#, delta(d))
}

fn kpi(class: &str, label: &str, name: &str, value: u64, chip: &str, sub: &str) -> String {
    format!(
        r#"<div class="kpi {class}"><div class="label">{label}</div><div class="value"><span data-count="{name}">{}</span>{chip}</div><div class="sub">{sub}</div></div>"#,
        count(value)
    )
}

/// Whether "new" marks mean anything: only against a previous report.
fn mark_new(r: &Report) -> bool {
    r.compared_with.baseline == "previous_report"
}

fn header(r: &Report) -> String {
    let period = match (&r.period.first_seen, &r.period.last_seen) {
        (Some(a), Some(b)) => format!("Traffic from {} to {}", html(&when(a)), html(&when(b))),
        _ => "No traffic seen yet".to_string(),
    };
    let baseline = match r.compared_with.baseline {
        "previous_report" => format!(
            "Compared with the report of <b>{}</b>",
            html(&when_opt(r.compared_with.previous_generated_at.as_deref().or(r.compared_with.previous_last_seen.as_deref())))
        ),
        _ => "No previous report: <b>new</b> means new since the sensor started".to_string(),
    };
    let generated = r.generated_at.as_deref().map(|g| format!("Generated <b>{}</b><br>", html(&when(g)))).unwrap_or_default();
    format!(
        r#"<header class="top"><div class="wrap"><div><p class="eyebrow">apitap · shadow-API inventory</p><h1>{}</h1><p class="period">{period} (packet time; times on this page are UTC)</p></div><div class="meta">{generated}{baseline}</div></div></header>"#,
        html(&r.title)
    )
}

fn nav(r: &Report) -> String {
    let mut links = vec![("overview", "Overview"), ("attention", "Needs attention"), ("traffic", "Traffic")];
    links.push(("consumers", "Consumers"));
    links.push(("anomalies", "Anomalies"));
    links.extend([("shadow", "Shadow"), ("zombie", "Zombie"), ("orphan", "Orphans"), ("all", "All endpoints")]);
    if !r.no_longer_listed.is_empty() {
        links.push(("gone", "No longer listed"));
    }
    let mut out = String::from(r#"<nav class="toc"><div class="wrap">"#);
    for (id, name) in links {
        let _ = write!(out, r##"<a href="#{id}">{name}</a>"##);
    }
    out.push_str("</div></nav>");
    out
}

fn kpis(r: &Report) -> String {
    let s = &r.summary;
    let ch = s.change.as_ref();
    let since = if r.compared_with.baseline == "previous_report" { "since the last report" } else { "since the sensor started" };
    let mut out = String::from(r#"<section class="kpis" id="summary">"#);
    out.push_str(&kpi(
        "k-shadow",
        "New shadow endpoints",
        "new_shadow",
        s.new_shadow,
        "",
        &format!(r#"{since} · <span data-count="shadow">{}</span> shadow in total {}"#, count(s.shadow), chip(ch.map(|c| c.shadow), Sense::MoreIsWorse)),
    ));
    out.push_str(&kpi(
        "k-zombie",
        "New zombie endpoints",
        "new_zombie",
        s.new_zombie,
        "",
        &format!(r#"{since} · <span data-count="zombie">{}</span> zombie in total {}"#, count(s.zombie), chip(ch.map(|c| c.zombie), Sense::MoreIsWorse)),
    ));
    out.push_str(&kpi(
        "k-orphan",
        "Orphan operations",
        "orphan",
        s.orphan,
        &chip(ch.map(|c| c.orphan), Sense::MoreIsWorse),
        "documented, never called",
    ));
    out.push_str(&kpi(
        "k-sensitive",
        "Sensitive data without auth",
        "sensitive_without_auth",
        s.sensitive_without_auth,
        &chip(ch.map(|c| c.sensitive_without_auth), Sense::MoreIsWorse),
        "endpoints answering it to requests with no credential",
    ));
    match s.open_anomalies {
        Some(n) => {
            let high = r.anomalies.open_by_severity.get("high").copied().unwrap_or(0)
                + r.anomalies.open_by_severity.get("critical").copied().unwrap_or(0);
            out.push_str(&kpi(
                "k-anomalies",
                "Open anomalies",
                "open_anomalies",
                n,
                &chip(ch.and_then(|c| c.open_anomalies), Sense::MoreIsWorse),
                &format!("{} high or critical · {} findings in all", count(high), count(r.anomalies.findings)),
            ));
        }
        None => out.push_str(
            r#"<div class="kpi k-anomalies"><div class="label">Open anomalies</div><div class="value muted">—</div><div class="sub">no anomalies file given</div></div>"#,
        ),
    }
    out.push_str(&kpi(
        "k-endpoints",
        "API endpoints",
        "endpoints",
        s.endpoints,
        &chip(ch.map(|c| c.endpoints), Sense::Neutral),
        &format!(
            r#"on <span data-count="services">{}</span> services · <span data-count="requests">{}</span> requests"#,
            count(s.services),
            count(s.requests)
        ),
    ));
    out.push_str("</section>");
    out
}

fn overview(r: &Report) -> String {
    let s = &r.summary;
    let counts = [(Class::Documented, s.documented), (Class::Shadow, s.shadow), (Class::Zombie, s.zombie), (Class::Orphan, s.orphan)];
    let mut legend = String::from(r#"<ul class="legend">"#);
    let meaning = |c: Class| match c {
        Class::Documented => "in a spec, in traffic",
        Class::Shadow => "in traffic, in no spec",
        Class::Zombie => "deprecated, still called",
        Class::Orphan => "in a spec, never called",
    };
    for (c, n) in counts {
        let _ = write!(
            legend,
            r#"<li><span class="sw {0}"></span><b data-count="{0}-total">{1}</b> {0} <span class="muted">· {2}</span></li>"#,
            c.name(),
            count(n),
            meaning(c)
        );
    }
    legend.push_str("</ul>");
    let mut notes = String::new();
    if s.shadow > s.shadow_unaccepted {
        let _ = write!(notes, r#"<p class="note">{} of the shadow endpoints are accepted by an operator.</p>"#, count(s.shadow - s.shadow_unaccepted));
    }
    if s.services_not_inspectable > 0 {
        let _ = write!(
            notes,
            r#"<p class="note">{} services were seen only encrypted: their endpoints are unknown.</p>"#,
            count(s.services_not_inspectable)
        );
    }
    for n in &r.notes {
        let _ = write!(notes, r#"<p class="note">{}</p>"#, html(n));
    }
    format!(
        r#"<section class="panel" id="overview"><h2>Endpoints by class<span class="n">{}</span></h2>{}{legend}{notes}</section>"#,
        count(s.endpoints),
        svg::class_bar(&counts)
    )
}

fn attention(r: &Report) -> String {
    // Most pressing first: shadow before zombie, then the busiest.
    let mut news: Vec<&EndpointRow> =
        r.endpoints.iter().filter(|e| e.new && matches!(e.classification, Class::Shadow | Class::Zombie)).collect();
    news.sort_by(|a, b| a.classification.cmp(&b.classification).then(b.hits.cmp(&a.hits)));
    let mut sensitive: Vec<&EndpointRow> = r.endpoints.iter().filter(|e| e.sensitive_without_auth > 0).collect();
    sensitive.sort_by_key(|e| std::cmp::Reverse(e.sensitive_without_auth));
    let since = if r.compared_with.baseline == "previous_report" { "since the last report" } else { "since the sensor started" };
    let new_cols: &[Col] = if r.compared_with.baseline == "previous_report" {
        &[Col::Host, Col::Method, Col::Path, Col::Class, Col::Was, Col::Requests, Col::Consumers, Col::Auth, Col::FirstSeen]
    } else {
        &[Col::Host, Col::Method, Col::Path, Col::Class, Col::Requests, Col::Consumers, Col::Auth, Col::FirstSeen]
    };
    format!(
        r#"<section class="panel long" id="attention"><h2>Needs attention</h2><p class="lead">Shadow and zombie endpoints new {since} (absent before, or in another class), and endpoints that answered sensitive data to requests that carried no credential.</p><h3>New shadow and zombie endpoints<span class="muted"> · {}</span></h3>{}<h3>Sensitive data without authentication<span class="muted"> · {}</span></h3>{}</section>"#,
        count(news.len() as u64),
        tables::endpoints("new-endpoints", &news, new_cols, &format!("No new shadow or zombie endpoint {since}."), false),
        count(sensitive.len() as u64),
        tables::endpoints(
            "sensitive",
            &sensitive,
            &[Col::Host, Col::Method, Col::Path, Col::Class, Col::SensitiveNoAuth, Col::Sensitive, Col::Auth, Col::LastSeen],
            "No endpoint answered sensitive data to a request without credentials.",
            mark_new(r)
        ),
    )
}

fn traffic(r: &Report) -> String {
    let mut out = String::from(r#"<section class="panel" id="traffic"><h2>Traffic per service</h2>"#);
    let series = svg::traffic_series(&r.services);
    match &series {
        Some((grid, lines, errors)) => {
            let _ = write!(
                out,
                r#"<p class="lead">Requests {} for the busiest services (packet time, UTC), and the error responses of all services below.</p>"#,
                grid.step_name()
            );
            out.push_str(&svg::traffic_chart(grid, lines));
            out.push_str(r#"<ul class="legend" style="margin:8px 0 14px 56px">"#);
            for s in lines {
                let total: u64 = s.values.iter().sum();
                let _ = write!(
                    out,
                    r#"<li><span class="sw" style="background:{}"></span>{} <b>{}</b></li>"#,
                    s.colour,
                    html(&s.name),
                    count(total)
                );
            }
            out.push_str("</ul>");
            out.push_str(&svg::errors_chart(grid, errors));
            out.push_str(r#"<p class="chart-caption">Error responses (4xx and 5xx), all services.</p>"#);
        }
        None => out.push_str(
            r#"<p class="lead">Requests and endpoints per service. This inventory has no hourly traffic, so there is no chart over time.</p>"#,
        ),
    }
    out.push_str(r#"<h3>Services</h3>"#);
    out.push_str(&tables::services(r, series.as_ref().map(|(g, _, _)| g)));
    out.push_str("</section>");
    out
}

fn consumers(r: &Report) -> String {
    let c = &r.consumers;
    let lead = match c.source {
        ConsumerSource::ConsumersFile => format!("The busiest of {} consumers, by requests.", count(c.total)),
        ConsumerSource::Anomalies => format!(
            "No consumers list was given: these are the {} consumers that anomalies name, those with the most open findings first.",
            count(c.total)
        ),
        ConsumerSource::NotAvailable => "Who calls the APIs, from the sensor's consumers list.".to_string(),
    };
    format!(r#"<section class="panel" id="consumers"><h2>Top consumers</h2><p class="lead">{lead}</p>{}</section>"#, tables::consumers(c))
}

fn anomalies(r: &Report) -> String {
    let a = &r.anomalies;
    let (lead, body) = if !a.available {
        (
            "Findings of the behavioural detectors.".to_string(),
            r#"<div class="empty">Not available: no anomalies file was given to this report.</div>"#.to_string(),
        )
    } else if a.findings == 0 {
        ("Findings of the behavioural detectors.".to_string(), r#"<div class="empty">No finding.</div>"#.to_string())
    } else {
        let mut sev = String::new();
        for s in ["critical", "high", "medium", "low", "informational"] {
            if let Some(n) = a.open_by_severity.get(s).filter(|n| **n > 0) {
                let _ = write!(sev, r#" <span class="badge sev-{s}">{} {s}</span>"#, count(*n));
            }
        }
        (
            format!(
                r#"<b data-count="open-anomalies-total">{}</b> open of {} findings{}{}. Open findings by kind and severity; the last columns count every finding of the kind."#,
                count(a.open),
                count(a.findings),
                if sev.is_empty() { String::new() } else { format!(":{sev}") },
                tuned(a),
            ),
            tables::kind_matrix(&a.by_kind),
        )
    };
    format!(r#"<section class="panel" id="anomalies"><h2>Anomalies</h2><p class="lead">{lead}</p>{body}</section>"#)
}

/// What tuning took out of the open count: `; 3 suppressed by rules, 2 closed by analysts`.
fn tuned(a: &super::model::AnomaliesSection) -> String {
    let mut parts = Vec::new();
    if a.suppressed > 0 {
        parts.push(format!(r#"<span data-count="suppressed-findings">{}</span> suppressed by rules"#, count(a.suppressed)));
    }
    if a.closed_by_analysts > 0 {
        parts.push(format!(r#"<span data-count="analyst-closed-findings">{}</span> closed by analysts"#, count(a.closed_by_analysts)));
    }
    if parts.is_empty() {
        String::new()
    } else {
        format!(" ({})", parts.join(", "))
    }
}

fn open_list(r: &Report) -> String {
    let a = &r.anomalies;
    if !a.available || a.open == 0 {
        return String::new();
    }
    format!(
        r#"<section class="panel long" id="open-list"><h2>Open findings<span class="n">{}</span></h2><p class="lead">Most severe first. Consumers are named by their non-secret labels.</p>{}</section>"#,
        count(a.open),
        tables::open_findings(&a.open_findings, a.open)
    )
}

fn class_section(r: &Report, class: Class, lead: &str, cols: &[Col], empty: &str) -> String {
    let rows: Vec<&EndpointRow> = r.endpoints.iter().filter(|e| e.classification == class).collect();
    let title = match class {
        Class::Shadow => "Shadow endpoints",
        Class::Zombie => "Zombie endpoints",
        Class::Orphan => "Orphan operations",
        Class::Documented => "Documented endpoints",
    };
    format!(
        r#"<section class="panel long" id="{}"><h2>{title}<span class="n">{}</span></h2><p class="lead">{lead}</p>{}</section>"#,
        class.name(),
        count(rows.len() as u64),
        tables::endpoints(&format!("list-{}", class.name()), &rows, cols, empty, mark_new(r))
    )
}

fn gone(r: &Report) -> String {
    if r.no_longer_listed.is_empty() {
        return String::new();
    }
    let mut out = format!(
        r#"<section class="panel long" id="gone"><h2>No longer listed<span class="n">{}</span></h2><p class="lead">In the previous report, not in this inventory (the sensor restarted without its store, or the spec changed).</p><div class="scroll"><table id="gone-list"><thead><tr><th>Service</th><th>Method</th><th>Path</th><th>Class then</th></tr></thead><tbody>"#,
        count(r.no_longer_listed.len() as u64)
    );
    for k in r.no_longer_listed.iter().take(super::MAX_HTML_ROWS) {
        let _ = write!(
            out,
            r#"<tr>{}<td class="method">{}</td><td class="path">{}</td><td><span class="badge {3}">{3}</span></td></tr>"#,
            tables::host_cell(&k.host),
            html(&k.method),
            tables::path_html(&k.path),
            k.classification.name()
        );
    }
    out.push_str("</tbody></table></div></section>");
    out
}

fn service_findings(r: &Report) -> String {
    if r.service_findings.is_empty() {
        return String::new();
    }
    let mut out = String::from(
        r#"<section class="panel" id="service-findings"><h2>Service findings</h2><table><thead><tr><th>Service</th><th>Finding</th><th class="num">Count</th><th>Detail</th></tr></thead><tbody>"#,
    );
    for f in r.service_findings.iter().take(super::MAX_HTML_ROWS) {
        let _ = write!(
            out,
            r#"<tr>{}<td>{}</td><td class="num">{}</td><td>{}</td></tr>"#,
            tables::host_cell(&f.host),
            html(&f.kind.replace('_', " ")),
            count(f.count),
            html(&f.detail)
        );
    }
    out.push_str("</tbody></table></section>");
    out
}

fn graphql(r: &Report) -> String {
    if r.graphql_operations.is_empty() {
        return String::new();
    }
    let mut out = format!(
        r#"<section class="panel long" id="graphql"><h2>GraphQL operations<span class="n">{}</span></h2><p class="lead">Each operation sent to a GraphQL path (names only, never variables). Errors are responses with a top-level <code>errors</code> key, which GraphQL answers with HTTP 200.</p><div class="scroll"><table id="graphql-list"><thead><tr><th>Service</th><th>Path</th><th>Type</th><th>Operation</th><th class="num">Requests</th><th class="num">Errors</th><th class="num">Consumers</th><th class="num">Introspection from outside</th><th>Last seen</th></tr></thead><tbody>"#,
        count(r.graphql_operations.len() as u64)
    );
    for o in r.graphql_operations.iter().take(super::MAX_HTML_ROWS) {
        let _ = write!(
            out,
            r#"<tr>{}<td>{}</td><td>{}</td><td>{}</td><td class="num">{}</td><td class="num">{}</td><td class="num">{}</td><td class="num">{}</td><td>{}</td></tr>"#,
            tables::host_cell(&o.host),
            html(&o.path),
            html(&o.operation_type),
            html(&o.operation_name),
            count(o.hits),
            count(o.errors),
            count(o.consumers),
            count(o.external_introspection),
            html(&o.last_seen)
        );
    }
    out.push_str("</tbody></table></div>");
    if r.graphql_operations.len() > super::MAX_HTML_ROWS {
        let _ = write!(out, r#"<p class="muted">{} more in inventory.json.</p>"#, count((r.graphql_operations.len() - super::MAX_HTML_ROWS) as u64));
    }
    out.push_str("</section>");
    out
}

/// The whole page.
pub fn render(r: &Report) -> String {
    let mut body = String::new();
    body.push_str(&kpis(r));
    body.push_str(&overview(r));
    body.push_str(&attention(r));
    body.push_str(&traffic(r));
    body.push_str(&consumers(r));
    body.push_str(&anomalies(r));
    body.push_str(&open_list(r));
    let base = [Col::Host, Col::Method, Col::Path];
    body.push_str(&class_section(
        r,
        Class::Shadow,
        "In traffic, in no loaded spec. Document them, accept them (<code>apitap inventory accept</code>) or shut them down.",
        &[base.as_slice(), &[Col::Class, Col::Requests, Col::Errors, Col::Consumers, Col::Auth, Col::Sensitive, Col::FirstSeen, Col::LastSeen]].concat(),
        "No shadow endpoint.",
    ));
    body.push_str(&class_section(
        r,
        Class::Zombie,
        "Deprecated (in the spec, by a superseded spec, or by the server's own Deprecation or Sunset header) and still called.",
        &[base.as_slice(), &[Col::Class, Col::Why, Col::Spec, Col::Requests, Col::Consumers, Col::LastSeen]].concat(),
        "No zombie endpoint.",
    ));
    body.push_str(&class_section(
        r,
        Class::Orphan,
        "Documented operations nobody called in this period: candidates for retirement, or a spec bound to the wrong host.",
        &[base.as_slice(), &[Col::Spec]].concat(),
        "Every documented operation was called.",
    ));
    let all: Vec<&EndpointRow> = r.endpoints.iter().collect();
    let _ = write!(
        body,
        r#"<section class="panel long" id="all"><h2>All endpoints<span class="n">{}</span></h2><p class="lead">The whole inventory, by service and path.</p>{}</section>"#,
        count(all.len() as u64),
        tables::endpoints(
            "inventory",
            &all,
            &[base.as_slice(), &[Col::Class, Col::Requests, Col::Errors, Col::Consumers, Col::Auth, Col::Sensitive, Col::P99, Col::LastSeen]].concat(),
            "The inventory is empty.",
            mark_new(r)
        )
    );
    body.push_str(&graphql(r));
    body.push_str(&gone(r));
    body.push_str(&service_findings(r));
    format!(
        r#"<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><meta name="color-scheme" content="light"><meta name="generator" content="apitap {}"><title>{}</title><style>{STYLE}</style></head>
<body>{}{}<main><div class="wrap">{body}</div></main><footer><div class="wrap"><p>Made by apitap from the sensor's inventory{}{}. Shapes, names and counts only: no request or response values, no credentials. Consumer ids are keyed hashes.</p><p>Not shown: endpoints of services seen only encrypted (without keys), GraphQL subscriptions over WebSocket, and anything before the sensor's first packet.</p></div></footer></body></html>
"#,
        env!("CARGO_PKG_VERSION"),
        html(&r.title),
        header(r),
        nav(r),
        if r.anomalies.available { ", its anomalies" } else { "" },
        if r.consumers.source == ConsumerSource::ConsumersFile { " and its consumers list" } else { "" },
    )
}
