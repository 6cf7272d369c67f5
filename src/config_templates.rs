//! The configuration's operator templates (`[[template]]`) as spec-matching routes, and their
//! check while the file's text is at hand: a template that does not parse, a method that is
//! not one, or a malformed host pattern (in a `[[template]]` or a `[[spec]]`) is refused with
//! the line of its entry. The spec set checks them again when it is built from the loaded
//! specs; by then the text is gone, so that error could name only the file.

use std::path::Path;

use anyhow::{bail, Result};
use apitap_discovery::specmatch::{Route, SpecSet, SpecSetError};

use crate::config_file::TemplateEntry;

/// The route an operator template stands for.
pub fn route(t: &TemplateEntry) -> Route {
    Route { method: t.method.as_ref().map(|m| m.to_ascii_uppercase()), template: t.path.clone(), hosts: t.hosts.clone() }
}

/// Checks every `[[template]]` and every `[[spec]]`'s host patterns; `line(section, index)`
/// gives the line of an entry. The spec bindings' hosts are checked as routes of their own
/// (`/` with those hosts) after the templates, so one pass of the spec set's own rules covers
/// both.
pub fn check(
    path: &Path,
    templates: &[TemplateEntry],
    spec_hosts: &[&[String]],
    line: impl Fn(&str, usize) -> usize,
) -> Result<()> {
    let mut routes: Vec<Route> = templates.iter().map(route).collect();
    routes.extend(spec_hosts.iter().map(|h| Route { method: None, template: "/".into(), hosts: h.to_vec() }));
    let owner = |i: usize| match i.checked_sub(templates.len()) {
        None => ("template", i),
        Some(s) => ("spec", s),
    };
    let Err(e) = SpecSet::new(Vec::new(), routes) else {
        return Ok(());
    };
    let fix = "write a path starting with '/' whose parameters are {name}";
    match e {
        SpecSetError::RouteTemplate { route, template, reason } => {
            bail!("{}:{}: [[template]] path {template:?}: {reason}; {fix}", path.display(), line("template", route))
        }
        SpecSetError::RouteMethod { route, method } => bail!(
            "{}:{}: [[template]] method {method:?} is not an HTTP method; give one such as \"GET\", or none for every method",
            path.display(),
            line("template", route)
        ),
        SpecSetError::Host { owner: who, host, reason } => {
            let index = who.strip_prefix("route ").and_then(|n| n.parse::<usize>().ok()).unwrap_or(0);
            let (section, i) = owner(index);
            bail!("{}:{}: [[{section}]] host {host:?}: {reason}; write \"name\", \"name:port\" or \"*.suffix\"", path.display(), line(section, i))
        }
        other => bail!("{}: {other}", path.display()),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use std::path::Path;

    use crate::config_file::parse;

    /// The `config` fuzz target's first finding: a template with nested braces (as a test's
    /// `format!` string leaves `{{customer}}`) was refused by the spec set, after the file's
    /// text was gone, so the message named no line.
    #[test]
    fn a_template_that_does_not_parse_is_refused_with_its_line() {
        let text = "[[spec]]\nfile = \"{}\"\n\n[[template]]\npath = \"/v2/customers/{{customer}}/profile\"\nmethod = \"GET\"\n";
        let err = parse(Path::new("a.toml"), text).unwrap_err().to_string();
        assert!(err.starts_with("a.toml:4: [[template]] path \"/v2/customers/{{customer}}/profile\": segment 3: parameters cannot nest"), "{err}");
        assert!(err.contains("{name}"), "{err}");
    }

    #[test]
    fn a_bad_method_or_host_pattern_is_refused_with_its_entrys_line() {
        let text = "[[template]]\npath = \"/a\"\n\n[[template]]\npath = \"/b/{id}\"\nmethod = \"GE T\"\n";
        let err = parse(Path::new("a.toml"), text).unwrap_err().to_string();
        assert!(err.starts_with("a.toml:4: [[template]] method \"GE T\""), "{err}");

        let text = "[[template]]\npath = \"/a\"\nhosts = [\"api.bank.example\"]\n\n[[spec]]\nfile = \"a.yaml\"\n\n[[spec]]\nfile = \"b.yaml\"\nhosts = [\"api.*.example\"]\n";
        let err = parse(Path::new("a.toml"), text).unwrap_err().to_string();
        assert!(err.starts_with("a.toml:8: [[spec]] host \"api.*.example\": only a leading"), "{err}");

        let text = "[[template]]\npath = \"/a\"\nhosts = [\"api.bank.example:\"]\n";
        let err = parse(Path::new("a.toml"), text).unwrap_err().to_string();
        assert!(err.starts_with("a.toml:1: [[template]] host \"api.bank.example:\": a `:`"), "{err}");
    }

    #[test]
    fn good_templates_and_hosts_pass() {
        let text = "[[spec]]\nfile = \"a.yaml\"\nhosts = [\"*.bank.example\", \"api.bank.example:8443\"]\n\n[[template]]\npath = \"/internal/reports/{report}\"\nmethod = \"get\"\n";
        let cfg = parse(Path::new("a.toml"), text).unwrap();
        assert_eq!(super::route(&cfg.template[0]).method.as_deref(), Some("GET"));
    }
}
