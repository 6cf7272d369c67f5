//! The `[metrics]` section of the configuration file: where the metrics and health endpoint
//! listens, its TLS files, its authentication and its limits. Raw values here; [`MetricsConfig::load`]
//! turns them into what the server runs with, reading every file, and refuses a mistake with
//! the key, the problem and the fix. docs/observability.md has the same table.

use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;

use super::tls;

/// The address served when `listen` is not set: loopback only, so a default sensor exposes
/// nothing to the network.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:9477";
/// Default `max_connections`: connections served at once; more are closed at once (counted).
pub const DEFAULT_MAX_CONNECTIONS: usize = 16;
/// Default `max_header_bytes`: the request head (request line and headers); more gets 431.
pub const DEFAULT_MAX_HEADER_BYTES: usize = 8 << 10;
/// Default `max_headers`: header lines in a request; more gets 431.
pub const DEFAULT_MAX_HEADERS: usize = 32;
/// Default `io_timeout_ms`: the longest wait for one read or write.
pub const DEFAULT_IO_TIMEOUT_MS: u64 = 5_000;
/// Default `request_timeout_ms`: the whole connection (handshake, request head, response); a
/// client dripping bytes is cut off then.
pub const DEFAULT_REQUEST_TIMEOUT_MS: u64 = 10_000;
/// Default `silent_after_s`: seconds without a packet before the health says `capture_silent`.
pub const DEFAULT_SILENT_AFTER_S: u64 = 60;
/// Default `drops_window_s`: seconds a rise in kernel drops keeps `kernel_drops_rising`.
pub const DEFAULT_DROPS_WINDOW_S: u64 = 300;
/// Default `one_sided_window_s`: the window over which a service's connections are judged
/// one-sided.
pub const DEFAULT_ONE_SIDED_WINDOW_S: u64 = 300;
/// Shortest bearer token accepted, in bytes: shorter ones can be guessed.
pub const MIN_TOKEN_BYTES: usize = 16;

/// The `[metrics]` section as written. Every key is optional.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct MetricsConfig {
    /// Whether the endpoint runs at all (default true).
    pub enabled: bool,
    /// `ip:port` to listen on (default [`DEFAULT_LISTEN`]). An IP literal: host names are not
    /// resolved, so that what is exposed is what is written.
    pub listen: String,
    /// HTTPS; without it the endpoint speaks plain HTTP, refused off loopback unless
    /// `allow_unauthenticated`.
    pub tls: Option<MetricsTls>,
    /// A file whose first line is the bearer token clients must send
    /// (`Authorization: Bearer <token>`). Must not be readable by others (`chmod 600`).
    pub bearer_token_file: Option<PathBuf>,
    /// Serve without authentication, or without TLS, on a non-loopback address (default false).
    pub allow_unauthenticated: bool,
    /// Connections served at once (default [`DEFAULT_MAX_CONNECTIONS`]).
    pub max_connections: usize,
    /// Bytes of one request head (default [`DEFAULT_MAX_HEADER_BYTES`]).
    pub max_header_bytes: usize,
    /// Header lines of one request (default [`DEFAULT_MAX_HEADERS`]).
    pub max_headers: usize,
    /// Milliseconds one read or write may wait (default [`DEFAULT_IO_TIMEOUT_MS`]).
    pub io_timeout_ms: u64,
    /// Milliseconds one connection may last (default [`DEFAULT_REQUEST_TIMEOUT_MS`]).
    pub request_timeout_ms: u64,
    /// Health: seconds without a packet before `capture_silent` (default
    /// [`DEFAULT_SILENT_AFTER_S`]); raise it for a mirror port that is idle at night.
    pub silent_after_s: u64,
    /// Health: seconds a rise in kernel or interface drops keeps `kernel_drops_rising`
    /// (default [`DEFAULT_DROPS_WINDOW_S`]).
    pub drops_window_s: u64,
    /// Health: seconds of the windows over which a service that used to be a conversation
    /// is judged seen in one direction only (`one_sided_service`; default
    /// [`DEFAULT_ONE_SIDED_WINDOW_S`]).
    pub one_sided_window_s: u64,
}

impl Default for MetricsConfig {
    fn default() -> MetricsConfig {
        MetricsConfig {
            enabled: true,
            listen: DEFAULT_LISTEN.to_string(),
            tls: None,
            bearer_token_file: None,
            allow_unauthenticated: false,
            max_connections: DEFAULT_MAX_CONNECTIONS,
            max_header_bytes: DEFAULT_MAX_HEADER_BYTES,
            max_headers: DEFAULT_MAX_HEADERS,
            io_timeout_ms: DEFAULT_IO_TIMEOUT_MS,
            request_timeout_ms: DEFAULT_REQUEST_TIMEOUT_MS,
            silent_after_s: DEFAULT_SILENT_AFTER_S,
            drops_window_s: DEFAULT_DROPS_WINDOW_S,
            one_sided_window_s: DEFAULT_ONE_SIDED_WINDOW_S,
        }
    }
}

/// `[metrics.tls]`: the server's certificate and key, and the CA that client certificates
/// must chain to.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct MetricsTls {
    /// PEM file: the server certificate, then any intermediates.
    pub cert: PathBuf,
    /// PEM file: the server's private key (PKCS#8, PKCS#1 or SEC1, unencrypted). Must not be
    /// readable by others.
    pub key: PathBuf,
    /// PEM file of CA certificates; when set, every client must present a certificate that
    /// chains to one of them (the handshake fails otherwise).
    pub client_ca: Option<PathBuf>,
}

/// A configuration mistake: the key under `[metrics]`, what is wrong, and what to do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigError {
    /// The key as written under `[metrics]` (`tls.key`, `bearer_token_file`, ...).
    pub key: String,
    /// What is wrong.
    pub problem: String,
    /// What to do instead.
    pub fix: String,
}

impl ConfigError {
    pub(crate) fn new(key: impl Into<String>, problem: impl Into<String>, fix: impl Into<String>) -> ConfigError {
        ConfigError { key: key.into(), problem: problem.into(), fix: fix.into() }
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "metrics.{}: {}; {}", self.key, self.problem, self.fix)
    }
}

impl std::error::Error for ConfigError {}

/// The bearer token, kept out of `Debug` and logs.
#[derive(Clone, PartialEq, Eq)]
pub struct BearerToken(Vec<u8>);

impl BearerToken {
    /// Whether `presented` is the token, in time independent of where they differ (the
    /// length may show).
    pub fn matches(&self, presented: &[u8]) -> bool {
        use subtle::ConstantTimeEq;
        bool::from(self.0.as_slice().ct_eq(presented))
    }
}

impl fmt::Debug for BearerToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("BearerToken(<redacted>)")
    }
}

/// The section resolved: the address, the TLS configuration built from its files, the token
/// read, the limits as durations.
#[derive(Clone, Debug)]
pub struct LoadedConfig {
    /// Where to listen.
    pub addr: SocketAddr,
    /// The rustls configuration, when TLS is on.
    pub tls: Option<Arc<rustls::ServerConfig>>,
    /// Whether clients must present a certificate (a `client_ca` is set).
    pub client_certs: bool,
    /// The token clients must send, when one is configured.
    pub token: Option<BearerToken>,
    /// Connections served at once.
    pub max_connections: usize,
    /// Bytes of one request head.
    pub max_header_bytes: usize,
    /// Header lines of one request.
    pub max_headers: usize,
    /// One read or write.
    pub io_timeout: Duration,
    /// One connection.
    pub request_timeout: Duration,
}

/// Refuses a file that others may read: a secret there is not secret.
pub(crate) fn refuse_world_readable(path: &Path, key: &str) -> Result<(), ConfigError> {
    use std::os::unix::fs::PermissionsExt;
    let meta = std::fs::metadata(path).map_err(|e| {
        ConfigError::new(key, format!("cannot read {}: {e}", path.display()), "give the path of an existing file readable by apitap")
    })?;
    let mode = meta.permissions().mode();
    if mode & 0o007 != 0 {
        return Err(ConfigError::new(
            key,
            format!("{} is accessible to every user (mode {:o})", path.display(), mode & 0o777),
            format!("run `chmod 600 {}` (owned by the user apitap runs as)", path.display()),
        ));
    }
    Ok(())
}

fn read_token(path: &Path) -> Result<BearerToken, ConfigError> {
    const KEY: &str = "bearer_token_file";
    refuse_world_readable(path, KEY)?;
    let text = std::fs::read(path).map_err(|e| {
        ConfigError::new(KEY, format!("cannot read {}: {e}", path.display()), "make the file readable by apitap (and by nobody else)")
    })?;
    // The first line: editors and `echo` add a line ending that is not part of the token.
    let line = text.split(|b| *b == b'\n' || *b == b'\r').next().unwrap_or(&[]);
    if line.len() < MIN_TOKEN_BYTES {
        return Err(ConfigError::new(
            KEY,
            format!("the token in {} has {} bytes, fewer than {MIN_TOKEN_BYTES}", path.display(), line.len()),
            "write a long random token, e.g. `openssl rand -hex 32 > FILE`",
        ));
    }
    if !line.iter().all(|b| b.is_ascii_graphic()) {
        return Err(ConfigError::new(
            KEY,
            format!("the token in {} has spaces or characters outside printable ASCII", path.display()),
            "use letters, digits and punctuation only (HTTP carries the token in a header), e.g. `openssl rand -hex 32`",
        ));
    }
    Ok(BearerToken(line.to_vec()))
}

impl MetricsConfig {
    /// Checks the section and every file it names, as `start` would. Disabled sections are
    /// not checked further.
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.load().map(|_| ())
    }

    fn limits(&self) -> Result<(), ConfigError> {
        let range = |key: &str, v: u64, lo: u64, hi: u64| -> Result<(), ConfigError> {
            if v < lo || v > hi {
                return Err(ConfigError::new(
                    key,
                    format!("{v} is outside {lo}..={hi}"),
                    "pick a value in that range (docs/observability.md gives the default and why)",
                ));
            }
            Ok(())
        };
        let wide = |v: usize| u64::try_from(v).unwrap_or(u64::MAX);
        range("max_connections", wide(self.max_connections), 1, 1024)?;
        range("max_header_bytes", wide(self.max_header_bytes), 1024, 1 << 20)?;
        range("max_headers", wide(self.max_headers), 4, 256)?;
        range("io_timeout_ms", self.io_timeout_ms, 100, 600_000)?;
        range("request_timeout_ms", self.request_timeout_ms, 100, 600_000)?;
        range("silent_after_s", self.silent_after_s, 1, 7 * 86_400)?;
        range("drops_window_s", self.drops_window_s, 1, 86_400)?;
        range("one_sided_window_s", self.one_sided_window_s, 1, 86_400)
    }

    /// The health thresholds of this section, for [`super::HealthMonitor::new`].
    pub fn health_rules(&self) -> super::health::HealthRules {
        super::health::HealthRules { silent_after: self.silent_after_s as f64, drops_window: self.drops_window_s as f64 }
    }

    /// Resolves the section: parses the address, reads and checks the TLS files and the token,
    /// and refuses what would expose the endpoint without protection on a non-loopback
    /// address unless `allow_unauthenticated` says so. `None` when disabled.
    pub fn load(&self) -> Result<Option<LoadedConfig>, ConfigError> {
        if !self.enabled {
            return Ok(None);
        }
        let addr: SocketAddr = self.listen.parse().map_err(|_| {
            ConfigError::new(
                "listen",
                format!("`{}` is not an ip:port", self.listen),
                "write an IP address and a port, e.g. \"127.0.0.1:9477\" or \"[::]:9477\" (host names are not resolved)",
            )
        })?;
        self.limits()?;
        let tls = self.tls.as_ref().map(tls::server_config).transpose()?;
        let token = self.bearer_token_file.as_deref().map(read_token).transpose()?;
        let client_certs = self.tls.as_ref().is_some_and(|t| t.client_ca.is_some());
        if !addr.ip().is_loopback() && !self.allow_unauthenticated {
            if tls.is_none() {
                return Err(ConfigError::new(
                    "tls",
                    format!("{addr} is not a loopback address and the endpoint would speak plain HTTP"),
                    "configure [metrics.tls] cert and key, or listen on 127.0.0.1, or set allow_unauthenticated = true to accept this",
                ));
            }
            if !client_certs && token.is_none() {
                return Err(ConfigError::new(
                    "allow_unauthenticated",
                    format!("{addr} is not a loopback address and no authentication is configured"),
                    "set [metrics.tls] client_ca or bearer_token_file, or listen on 127.0.0.1, or set allow_unauthenticated = true to accept this",
                ));
            }
        }
        Ok(Some(LoadedConfig {
            addr,
            tls,
            client_certs,
            token,
            max_connections: self.max_connections,
            max_header_bytes: self.max_header_bytes,
            max_headers: self.max_headers,
            io_timeout: Duration::from_millis(self.io_timeout_ms),
            request_timeout: Duration::from_millis(self.request_timeout_ms),
        }))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn parse(text: &str) -> Result<MetricsConfig, toml::de::Error> {
        toml::from_str(text)
    }

    #[test]
    fn defaults_listen_on_loopback_without_tls() {
        let c = parse("").unwrap();
        assert_eq!(c, MetricsConfig::default());
        assert_eq!(c.listen, "127.0.0.1:9477");
        let loaded = c.load().unwrap().unwrap();
        assert_eq!(loaded.addr, "127.0.0.1:9477".parse::<SocketAddr>().unwrap());
        assert!(loaded.tls.is_none() && loaded.token.is_none());
        assert_eq!(loaded.request_timeout, Duration::from_secs(10));
    }

    #[test]
    fn unknown_keys_are_refused() {
        let e = parse("listne = \"1.2.3.4:1\"").unwrap_err().to_string();
        assert!(e.contains("unknown field `listne`"), "{e}");
        let e = parse("[tls]\ncert = \"a\"\nkey = \"b\"\nca = \"c\"").unwrap_err().to_string();
        assert!(e.contains("unknown field `ca`"), "{e}");
    }

    #[test]
    fn non_loopback_needs_tls_and_authentication() {
        let c = parse("listen = \"0.0.0.0:9477\"").unwrap();
        let e = c.validate().unwrap_err();
        assert_eq!(e.key, "tls");
        assert!(e.to_string().starts_with("metrics.tls: 0.0.0.0:9477 is not a loopback address"), "{e}");
        let c = parse("listen = \"0.0.0.0:9477\"\nallow_unauthenticated = true").unwrap();
        assert!(c.validate().is_ok());
        let c = parse("enabled = false\nlisten = \"0.0.0.0:9477\"").unwrap();
        assert!(c.load().unwrap().is_none());
    }

    #[test]
    fn listen_must_be_an_ip_and_port() {
        let e = parse("listen = \"localhost:9477\"").unwrap().validate().unwrap_err();
        assert_eq!(e.key, "listen");
        assert!(e.fix.contains("host names are not resolved"));
    }

    #[test]
    fn limits_are_checked() {
        let e = parse("max_connections = 0").unwrap().validate().unwrap_err();
        assert_eq!((e.key.as_str(), e.problem.as_str()), ("max_connections", "0 is outside 1..=1024"));
    }

    #[test]
    fn token_file_rules() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("token");
        std::fs::write(&path, "0123456789abcdef0123\n").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let c = MetricsConfig { bearer_token_file: Some(path.clone()), ..MetricsConfig::default() };
        let e = c.validate().unwrap_err();
        assert_eq!(e.key, "bearer_token_file");
        assert!(e.fix.contains("chmod 600"), "{e}");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        let t = c.load().unwrap().unwrap().token.unwrap();
        assert!(t.matches(b"0123456789abcdef0123"));
        assert!(!t.matches(b"0123456789abcdef0124"));
        assert!(!t.matches(b"0123456789abcdef0123\n"));
        assert_eq!(format!("{t:?}"), "BearerToken(<redacted>)");
        std::fs::write(&path, "short\n").unwrap();
        assert!(c.validate().unwrap_err().problem.contains("fewer than 16"));
        let missing = MetricsConfig { bearer_token_file: Some(dir.path().join("nope")), ..MetricsConfig::default() };
        let e = missing.validate().unwrap_err();
        assert!(e.problem.starts_with("cannot read ") && e.problem.contains("nope"), "{e}");
    }
}
