//! Which requests are API calls, and what else a web server answers: static assets, HTML
//! pages, health checks and OCSP are reported apart from the shadow list.

use serde::{Deserialize, Serialize};

use super::config::ScopeConfig;
use crate::specmatch::host_matches;
use super::observe::media_type;

/// What a request that matched no spec is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Category {
    /// An API call: candidate for the shadow list.
    Api,
    /// Scripts, stylesheets, images, fonts, files by extension.
    StaticAsset,
    /// An HTML page (response `text/html`).
    HtmlPage,
    /// A load balancer's or monitor's health probe.
    HealthCheck,
    /// An OCSP request (certificate status).
    Ocsp,
    /// A content type outside the configured API content types.
    OtherContent,
}

impl Category {
    /// Every category, in declaration order.
    pub const ALL: [Category; 6] =
        [Category::Api, Category::StaticAsset, Category::HtmlPage, Category::HealthCheck, Category::Ocsp, Category::OtherContent];

    /// The category a stable name names.
    pub fn from_name(name: &str) -> Option<Category> {
        Category::ALL.into_iter().find(|c| c.name() == name)
    }

    /// Stable name.
    pub fn name(self) -> &'static str {
        match self {
            Category::Api => "api",
            Category::StaticAsset => "static_asset",
            Category::HtmlPage => "html_page",
            Category::HealthCheck => "health_check",
            Category::Ocsp => "ocsp",
            Category::OtherContent => "other_content",
        }
    }
}

/// Whether traffic for `host` on `port` is in the configured API scope. Host patterns follow
/// the spec bindings' rules ([`host_matches`]).
pub fn in_scope(cfg: &ScopeConfig, host: &str, port: u16) -> bool {
    if cfg.exclude_hosts.iter().any(|p| host_matches(p, host)) {
        return false;
    }
    if !cfg.api_hosts.is_empty() && !cfg.api_hosts.iter().any(|p| host_matches(p, host)) {
        return false;
    }
    cfg.api_ports.is_empty() || cfg.api_ports.contains(&port)
}

/// Matches a media type against a configured pattern: exact, `type/*`, or `*+suffix`.
fn type_matches(pattern: &str, mt: &str) -> bool {
    if let Some(major) = pattern.strip_suffix("/*") {
        return mt.split('/').next().is_some_and(|m| m.eq_ignore_ascii_case(major));
    }
    if let Some(suffix) = pattern.strip_prefix("*+") {
        return mt.rsplit_once('+').is_some_and(|(_, s)| s.eq_ignore_ascii_case(suffix));
    }
    pattern.eq_ignore_ascii_case(mt)
}

/// The category of a request no spec documents.
pub fn categorize(
    cfg: &ScopeConfig,
    segments: &[&str],
    request_type: Option<&str>,
    response_type: Option<&str>,
) -> Category {
    let req = request_type.map(media_type);
    let resp = response_type.map(media_type);
    let is = |want: &str| req.as_deref() == Some(want) || resp.as_deref() == Some(want);
    if is("application/ocsp-request") || is("application/ocsp-response") {
        return Category::Ocsp;
    }
    let last = segments.last().copied().unwrap_or("");
    let path_health = cfg.health_paths.iter().any(|h| h.eq_ignore_ascii_case(last))
        || (segments.first().is_some_and(|s| s.eq_ignore_ascii_case("actuator"))
            && segments.get(1).is_some_and(|s| s.eq_ignore_ascii_case("health")));
    if path_health {
        return Category::HealthCheck;
    }
    let by_extension = last
        .rsplit_once('.')
        .is_some_and(|(stem, ext)| !stem.is_empty() && cfg.static_extensions.iter().any(|e| e.eq_ignore_ascii_case(ext)));
    let resp_major = resp.as_deref().and_then(|r| r.split('/').next()).unwrap_or("");
    let asset_type = matches!(resp_major, "image" | "font" | "video" | "audio")
        || matches!(resp.as_deref(), Some("text/css" | "application/javascript" | "text/javascript"));
    if by_extension || asset_type {
        return if resp.as_deref() == Some("text/html") { Category::HtmlPage } else { Category::StaticAsset };
    }
    if resp.as_deref() == Some("text/html") {
        return Category::HtmlPage;
    }
    if !cfg.api_content_types.is_empty() {
        let listed = |t: &Option<String>| t.as_deref().is_some_and(|t| cfg.api_content_types.iter().any(|p| type_matches(p, t)));
        if (req.is_some() || resp.is_some()) && !listed(&req) && !listed(&resp) {
            return Category::OtherContent;
        }
    }
    Category::Api
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn categories() {
        let cfg = ScopeConfig::default();
        let c = |segs: &[&str], req: Option<&str>, resp: Option<&str>| categorize(&cfg, segs, req, resp);
        assert_eq!(c(&["accounts"], None, Some("application/json")), Category::Api);
        assert_eq!(c(&["static", "app.3f2a.js"], None, Some("application/javascript")), Category::StaticAsset);
        assert_eq!(c(&["logo"], None, Some("image/png")), Category::StaticAsset);
        assert_eq!(c(&["index.html"], None, Some("text/html; charset=utf-8")), Category::HtmlPage);
        assert_eq!(c(&["login"], None, Some("text/html")), Category::HtmlPage);
        assert_eq!(c(&["healthz"], None, Some("text/plain")), Category::HealthCheck);
        assert_eq!(c(&["actuator", "health", "liveness"], None, None), Category::HealthCheck);
        assert_eq!(c(&[], Some("application/ocsp-request"), None), Category::Ocsp);
        assert_eq!(c(&["payments", "status"], None, Some("application/json")), Category::Api);
        assert_eq!(c(&[".js"], None, None), Category::Api);
    }

    #[test]
    fn configured_content_types() {
        let cfg = ScopeConfig { api_content_types: vec!["application/json".into(), "*+json".into()], ..ScopeConfig::default() };
        assert_eq!(categorize(&cfg, &["a"], None, Some("application/problem+json")), Category::Api);
        assert_eq!(categorize(&cfg, &["a"], None, Some("application/pdf")), Category::OtherContent);
        assert_eq!(categorize(&cfg, &["a"], None, None), Category::Api);
    }

    #[test]
    fn scope_by_host_and_port() {
        let cfg = ScopeConfig { api_hosts: vec!["*.bank.example".into()], api_ports: vec![443, 8080], ..ScopeConfig::default() };
        assert!(in_scope(&cfg, "api.bank.example:8080", 8080));
        assert!(!in_scope(&cfg, "www.other.example", 8080));
        assert!(!in_scope(&cfg, "api.bank.example", 80));
    }
}
