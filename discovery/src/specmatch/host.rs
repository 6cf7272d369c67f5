//! Host patterns: which `Host` header values a spec binding or route applies to.

/// One validated host pattern from a binding or route.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct HostPattern {
    /// Lower-case name without a trailing dot; for a wildcard, the suffix including its
    /// leading dot (`.bank.example`).
    name: String,
    /// `*.suffix`: any name ending in `.suffix` with at least one character before it.
    wildcard: bool,
    /// The port, when the pattern gives one.
    port: Option<String>,
}

/// A request's `Host` split into name and port.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RequestHost<'a> {
    name: &'a str,
    port: Option<&'a str>,
}

impl<'a> RequestHost<'a> {
    /// Splits a `Host` header value. IPv6 literals keep their brackets (`[::1]:8443` gives
    /// name `[::1]`, port `8443`); a trailing dot on the name is ignored.
    pub(crate) fn parse(host: &'a str) -> RequestHost<'a> {
        let host = host.trim();
        let (name, port) = split_port(host);
        RequestHost {
            name: name.strip_suffix('.').unwrap_or(name),
            port,
        }
    }
}

/// Splits `name:port`. A colon is a port separator only when digits follow it and the name
/// is not a bare IPv6 address (which has several colons).
fn split_port(host: &str) -> (&str, Option<&str>) {
    if host.starts_with('[') {
        if let Some(end) = host.find(']') {
            let (name, rest) = host
                .split_at_checked(end.saturating_add(1))
                .unwrap_or((host, ""));
            return (name, rest.strip_prefix(':').filter(|p| is_port(p)));
        }
        return (host, None);
    }
    match host.rsplit_once(':') {
        Some((name, port)) if is_port(port) && !name.contains(':') => (name, Some(port)),
        _ => (host, None),
    }
}

fn is_port(p: &str) -> bool {
    !p.is_empty() && p.len() <= 5 && p.bytes().all(|b| b.is_ascii_digit())
}

impl HostPattern {
    /// Validates one pattern: an exact name (`api.bank.example`), a name with a port
    /// (`api.bank.example:8443`), or a wildcard (`*.bank.example`, optionally with a port).
    pub(crate) fn parse(pattern: &str) -> Result<HostPattern, &'static str> {
        let trimmed = pattern.trim();
        let (name, port) = split_port(trimmed);
        if trimmed.ends_with(':') {
            return Err("a `:` is not followed by a port number");
        }
        let name = name.strip_suffix('.').unwrap_or(name);
        let (wildcard, name) = match name.strip_prefix("*.") {
            Some(suffix) => (true, suffix),
            None => (false, name),
        };
        if name.is_empty() {
            return Err("the host name is empty (an empty host list already means any host)");
        }
        if name.contains(['*', '/', ' ', '\t']) {
            return Err("only a leading `*.` is allowed as a wildcard, and no `/` or spaces");
        }
        if !name.starts_with('[') && name.contains(':') {
            return Err("a port must be digits (write IPv6 addresses in brackets)");
        }
        let name = name.to_ascii_lowercase();
        Ok(HostPattern {
            name: if wildcard { format!(".{name}") } else { name },
            wildcard,
            port: port.map(str::to_string),
        })
    }

    /// Whether the request's host is one this pattern names. A pattern without a port
    /// accepts any port; one with a port requires exactly that port in the `Host` header.
    pub(crate) fn matches(&self, host: &RequestHost<'_>) -> bool {
        if let Some(port) = &self.port {
            if host.port != Some(port.as_str()) {
                return false;
            }
        }
        if self.wildcard {
            host.name.len() > self.name.len()
                && host
                    .name
                    .len()
                    .checked_sub(self.name.len())
                    .and_then(|at| host.name.get(at..))
                    .is_some_and(|tail| tail.eq_ignore_ascii_case(&self.name))
        } else {
            host.name.eq_ignore_ascii_case(&self.name)
        }
    }
}

/// Whether any pattern matches; an empty list matches every host.
pub(crate) fn any_matches(patterns: &[HostPattern], host: &RequestHost<'_>) -> bool {
    patterns.is_empty() || patterns.iter().any(|p| p.matches(host))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(pattern: &str, host: &str) -> bool {
        HostPattern::parse(pattern)
            .unwrap()
            .matches(&RequestHost::parse(host))
    }

    #[test]
    fn exact_names_ignore_case_trailing_dot_and_port() {
        assert!(m("api.bank.example", "api.bank.example"));
        assert!(m("api.bank.example", "API.Bank.Example"));
        assert!(m("api.bank.example", "api.bank.example:8443"));
        assert!(m("api.bank.example.", "api.bank.example."));
        assert!(m("api.bank.example", "api.bank.example."));
        assert!(!m("api.bank.example", "api.bank.example.evil"));
        assert!(!m("api.bank.example", "xapi.bank.example"));
        assert!(!m("api.bank.example", ""));
    }

    #[test]
    fn a_port_in_the_pattern_must_be_in_the_host() {
        assert!(m("api.bank.example:8443", "api.bank.example:8443"));
        assert!(!m("api.bank.example:8443", "api.bank.example:443"));
        assert!(!m("api.bank.example:8443", "api.bank.example"));
    }

    #[test]
    fn wildcards_need_a_label_before_the_suffix() {
        assert!(m("*.bank.example", "api.bank.example"));
        assert!(m("*.bank.example", "a.b.BANK.example:443"));
        assert!(!m("*.bank.example", "bank.example"));
        assert!(!m("*.bank.example", "evilbank.example"));
        assert!(m("*.bank.example:8443", "api.bank.example:8443"));
        assert!(!m("*.bank.example:8443", "api.bank.example"));
    }

    #[test]
    fn ipv6_literals_keep_their_brackets() {
        assert!(m("[2001:db8::1]", "[2001:db8::1]:8443"));
        assert!(m("[2001:db8::1]:8443", "[2001:db8::1]:8443"));
        assert!(!m("[2001:db8::1]:8443", "[2001:db8::1]"));
        // A bare IPv6 address in a Host header has no port to split off.
        let h = RequestHost::parse("2001:db8::1");
        assert_eq!((h.name, h.port), ("2001:db8::1", None));
    }

    #[test]
    fn malformed_patterns_are_refused() {
        for bad in ["", "*.", "*", "a.*.b", "api:", "api:x", "a b", "a/b"] {
            assert!(HostPattern::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn hostile_host_values_do_not_panic() {
        for host in [
            "",
            ":",
            "[",
            "[]:",
            "]:1",
            "é:80",
            "*.",
            "\u{0}",
            "[::1]:99999999",
        ] {
            let _ = m("api.bank.example", host);
            let _ = m("*.é", host);
        }
    }
}
