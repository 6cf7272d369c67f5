//! The report for tickets and spreadsheets: Markdown (GitHub-flavoured tables) and
//! endpoints.csv (RFC 4180, formula-safe).

use std::fmt::Write as _;

use super::model::{Class, ConsumerSource, EndpointRow, Report};
use super::text::{self, count, delta, when, when_opt};

/// Rows per Markdown table; the rest are counted and left to endpoints.csv (a ticket is not
/// the place for thousands of rows).
pub const MAX_MARKDOWN_ROWS: usize = 200;

fn md(s: &str) -> String {
    text::markdown(s)
}

/// A GitHub-flavoured table: `right` marks the right-aligned columns.
pub fn md_table(head: &[&str], right: &[bool], rows: &[Vec<String>]) -> String {
    let mut out = String::from("|");
    for h in head {
        let _ = write!(out, " {} |", md(h));
    }
    out.push_str("\n|");
    for (i, _) in head.iter().enumerate() {
        out.push_str(if right.get(i).copied().unwrap_or(false) { " ---: |" } else { " --- |" });
    }
    out.push('\n');
    for r in rows.iter().take(MAX_MARKDOWN_ROWS) {
        out.push('|');
        for c in r {
            let _ = write!(out, " {c} |");
        }
        out.push('\n');
    }
    if rows.len() > MAX_MARKDOWN_ROWS {
        let _ = writeln!(out, "\n{} more rows in endpoints.csv.", count((rows.len() - MAX_MARKDOWN_ROWS) as u64));
    }
    out
}

/// A path as a code span (read literally, markup and all), except when it holds a backtick
/// or a line break, which would end the span: then escaped like any text. A `|` is escaped
/// in both, since GFM splits cells before it reads spans.
fn md_path(p: &str) -> String {
    if p.contains(['`', '\n', '\r']) {
        md(p)
    } else {
        format!("`{}`", p.replace('|', "\\|"))
    }
}

fn endpoint_rows(rows: &[&EndpointRow], extra: impl Fn(&EndpointRow) -> Vec<String>) -> Vec<Vec<String>> {
    rows.iter()
        .map(|e| {
            let mut r = vec![md(&e.host), md(&e.method), md_path(&e.path), e.classification.name().into()];
            r.extend(extra(e));
            r
        })
        .collect()
}

/// The report as Markdown.
pub fn markdown(r: &Report) -> String {
    let s = &r.summary;
    let mut out = format!("# {}\n\n", md(&r.title));
    match (&r.period.first_seen, &r.period.last_seen) {
        (Some(a), Some(b)) => {
            let _ = writeln!(out, "Traffic from {} to {} (packet time).", when(a), when(b));
        }
        _ => out.push_str("No traffic seen yet.\n"),
    }
    let previous = r.compared_with.baseline == "previous_report";
    if previous {
        let _ = writeln!(
            out,
            "Compared with the previous report ({}).",
            when_opt(r.compared_with.previous_generated_at.as_deref().or(r.compared_with.previous_last_seen.as_deref()))
        );
    } else {
        out.push_str("No previous report: \"new\" means new since the sensor started.\n");
    }
    let since = if previous { "since the last report" } else { "since the sensor started" };
    let ch = s.change.as_ref();
    let change = |d: Option<i64>| d.map(delta).unwrap_or_default();
    let mut rows = vec![
        vec![format!("New shadow endpoints ({since})"), count(s.new_shadow), String::new()],
        vec![format!("New zombie endpoints ({since})"), count(s.new_zombie), String::new()],
        vec!["Shadow endpoints".into(), count(s.shadow), change(ch.map(|c| c.shadow))],
        vec!["Zombie endpoints".into(), count(s.zombie), change(ch.map(|c| c.zombie))],
        vec!["Orphan operations".into(), count(s.orphan), change(ch.map(|c| c.orphan))],
        vec!["Endpoints with sensitive data without auth".into(), count(s.sensitive_without_auth), change(ch.map(|c| c.sensitive_without_auth))],
        vec!["API endpoints".into(), count(s.endpoints), change(ch.map(|c| c.endpoints))],
        vec!["Services".into(), count(s.services), change(ch.map(|c| c.services))],
    ];
    if let Some(n) = s.open_anomalies {
        rows.push(vec!["Open anomalies".into(), count(n), change(ch.and_then(|c| c.open_anomalies))]);
    }
    out.push_str("\n## Summary\n\n");
    out.push_str(&md_table(&["", "Count", "Change"], &[false, true, true], &rows));
    let news: Vec<&EndpointRow> =
        r.endpoints.iter().filter(|e| e.new && matches!(e.classification, Class::Shadow | Class::Zombie)).collect();
    let _ = write!(out, "\n## New shadow and zombie endpoints ({since})\n\n");
    if news.is_empty() {
        out.push_str("None.\n");
    } else {
        let rows = endpoint_rows(&news, |e| vec![count(e.hits), when_opt(e.first_seen.as_deref())]);
        out.push_str(&md_table(&["Service", "Method", "Path", "Class", "Requests", "First seen"], &[false, false, false, false, true, false], &rows));
    }
    let sensitive: Vec<&EndpointRow> = r.endpoints.iter().filter(|e| e.sensitive_without_auth > 0).collect();
    out.push_str("\n## Sensitive data without authentication\n\n");
    if sensitive.is_empty() {
        out.push_str("None.\n");
    } else {
        let rows = endpoint_rows(&sensitive, |e| vec![count(e.sensitive_without_auth), md(&e.sensitive.join(", "))]);
        out.push_str(&md_table(
            &["Service", "Method", "Path", "Class", "Unauthenticated sensitive responses", "Kinds"],
            &[false, false, false, false, true, false],
            &rows,
        ));
    }
    if r.anomalies.available {
        let _ = write!(out, "\n## Open anomalies\n\n{} open of {} findings.\n\n", count(r.anomalies.open), count(r.anomalies.findings));
        if !r.anomalies.by_kind.is_empty() {
            let sev = ["critical", "high", "medium", "low", "informational"];
            let rows: Vec<Vec<String>> = r
                .anomalies
                .by_kind
                .iter()
                .map(|k| {
                    let mut row = vec![md(&k.kind)];
                    row.extend(sev.iter().map(|s| count(k.open_by_severity.get(s).copied().unwrap_or(0))));
                    row.push(count(k.open));
                    row.push(count(k.closed));
                    row
                })
                .collect();
            out.push_str("Open findings by severity, then the open and closed totals of each kind.\n\n");
            out.push_str(&md_table(
                &["Kind", "Critical", "High", "Medium", "Low", "Info", "Open", "Closed"],
                &[false, true, true, true, true, true, true, true],
                &rows,
            ));
        }
    }
    if r.consumers.source != ConsumerSource::NotAvailable && !r.consumers.top.is_empty() {
        out.push_str("\n## Top consumers\n\n");
        let from_file = r.consumers.source == ConsumerSource::ConsumersFile;
        if !from_file {
            out.push_str("From the anomalies (no consumers list given): consumers with findings.\n\n");
        }
        let rows: Vec<Vec<String>> = r
            .consumers
            .top
            .iter()
            .map(|c| {
                let d = &c.consumer;
                vec![md(if d.label.is_empty() { &d.id } else { &d.label }), md(&d.source), md(&d.id), count(d.requests), count(c.open_findings)]
            })
            .collect();
        let requests = if from_file { "Requests" } else { "Requests in findings" };
        out.push_str(&md_table(&["Consumer", "Source", "Id", requests, "Open findings"], &[false, false, false, true, true], &rows));
    }
    for (class, title) in [(Class::Shadow, "Shadow endpoints"), (Class::Zombie, "Zombie endpoints"), (Class::Orphan, "Orphan operations")] {
        let list: Vec<&EndpointRow> = r.endpoints.iter().filter(|e| e.classification == class).collect();
        let _ = write!(out, "\n## {title} ({})\n\n", count(list.len() as u64));
        if list.is_empty() {
            out.push_str("None.\n");
            continue;
        }
        let rows = endpoint_rows(&list, |e| match class {
            Class::Orphan => vec![md(e.spec.as_deref().unwrap_or(""))],
            Class::Zombie => vec![count(e.hits), md(&e.zombie_reasons.join(", ")), when_opt(e.last_seen.as_deref())],
            _ => vec![count(e.hits), if e.accepted_by.is_some() { "accepted".into() } else { String::new() }, when_opt(e.last_seen.as_deref())],
        });
        let (head, right): (&[&str], &[bool]) = match class {
            Class::Orphan => (&["Service", "Method", "Path", "Class", "Spec"], &[false; 5]),
            Class::Zombie => (&["Service", "Method", "Path", "Class", "Requests", "Why", "Last seen"], &[false, false, false, false, true, false, false]),
            _ => (&["Service", "Method", "Path", "Class", "Requests", "Accepted", "Last seen"], &[false, false, false, false, true, false, false]),
        };
        out.push_str(&md_table(head, right, &rows));
    }
    out
}

/// The header of endpoints.csv.
pub const CSV_COLUMNS: [&str; 22] = [
    "host",
    "method",
    "path",
    "classification",
    "new",
    "previous_classification",
    "accepted_by",
    "zombie_reasons",
    "spec",
    "operation_id",
    "hits",
    "errors",
    "consumers",
    "counts_estimated",
    "auth",
    "unauthenticated",
    "sensitive",
    "sensitive_without_auth",
    "p50_ms",
    "p99_ms",
    "first_seen",
    "last_seen",
];

/// endpoints.csv: one row per endpoint, CRLF line ends (RFC 4180). Lists inside a cell are
/// separated by `;`.
pub fn csv(r: &Report) -> String {
    let mut out = CSV_COLUMNS.join(",");
    out.push_str("\r\n");
    for e in &r.endpoints {
        let opt = |v: Option<f64>| v.map(|x| format!("{x}")).unwrap_or_default();
        let cells = [
            e.host.clone(),
            e.method.clone(),
            e.path.clone(),
            e.classification.name().to_string(),
            e.new.to_string(),
            e.previous_classification.map(|c| c.name().to_string()).unwrap_or_default(),
            e.accepted_by.clone().unwrap_or_default(),
            e.zombie_reasons.join(";"),
            e.spec.clone().unwrap_or_default(),
            e.operation_id.clone().unwrap_or_default(),
            e.hits.to_string(),
            e.errors.to_string(),
            e.consumers.to_string(),
            e.counts_estimated.to_string(),
            e.auth.join(";"),
            e.unauthenticated.to_string(),
            e.sensitive.join(";"),
            e.sensitive_without_auth.to_string(),
            opt(e.p50_ms),
            opt(e.p99_ms),
            e.first_seen.clone().unwrap_or_default(),
            e.last_seen.clone().unwrap_or_default(),
        ];
        let line: Vec<String> = cells.iter().map(|c| text::csv(c)).collect();
        out.push_str(&line.join(","));
        out.push_str("\r\n");
    }
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

    use super::*;

    #[test]
    fn a_markdown_table_has_aligned_columns_and_escaped_cells() {
        let rows = vec![vec![md("a|b"), "1".to_string()], vec![md("<x>"), "2".to_string()]];
        let t = md_table(&["Name", "N"], &[false, true], &rows);
        let lines: Vec<&str> = t.lines().collect();
        assert_eq!(lines[0], "| Name | N |");
        assert_eq!(lines[1], "| --- | ---: |");
        assert_eq!(lines[2], "| a\\|b | 1 |");
        assert_eq!(lines[3], "| \\<x\\> | 2 |");
        // Every line has as many unescaped pipes as the header: no cell split in two.
        let pipes = |l: &str| l.replace("\\|", "").matches('|').count();
        assert!(lines.iter().all(|l| pipes(l) == 3), "{t}");
    }

    #[test]
    fn paths_are_code_spans_unless_they_could_end_one() {
        assert_eq!(md_path("/a/{id}"), "`/a/{id}`");
        assert_eq!(md_path("/a|b/<script>"), "`/a\\|b/<script>`");
        assert_eq!(md_path("/a`<b>"), "/a\\`\\<b\\>");
    }

    #[test]
    fn long_markdown_tables_are_cut_with_a_note() {
        let rows: Vec<Vec<String>> = (0..MAX_MARKDOWN_ROWS + 5).map(|i| vec![i.to_string()]).collect();
        let t = md_table(&["N"], &[true], &rows);
        assert_eq!(t.lines().filter(|l| l.starts_with("| ") && !l.contains("---") && *l != "| N |").count(), MAX_MARKDOWN_ROWS);
        assert!(t.contains("5 more rows in endpoints.csv"), "{t}");
    }
}
