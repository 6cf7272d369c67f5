//! The daemon's own sections of the configuration file: `[daemon]`, `[capture]`, `[store]`
//! and `[report]`. Every key has a default (written beside it); unknown keys are refused by
//! the file parser. `validate` names the key and the fix for values that parse but cannot work.

use std::path::PathBuf;

use serde::Deserialize;

/// Where the daemon keeps its state unless told otherwise.
pub const DEFAULT_STATE_DIR: &str = "/var/lib/apitap";

/// `[daemon]`: identity of the sensor, privileges, logging and shutdown.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct DaemonSection {
    /// Names this sensor in every message and report. Default: `APITAP_SENSOR_ID`, else the
    /// host name.
    pub sensor_id: Option<String>,
    /// After opening the capture handle and binding the metrics port, switch to this user (and
    /// its primary group) and drop every capability. Default: none (stay as started; systemd's
    /// `User=` with ambient capabilities is the other way, see docs/deployment.md).
    pub user: Option<String>,
    /// The deployment's hashing secret (at least 16 bytes, mode 0600 or stricter). Default:
    /// `APITAP_HASH_KEY`; the daemon refuses to start without either, since random ids would
    /// make every stored baseline useless after a restart.
    pub hash_key_file: Option<PathBuf>,
    /// The previous hashing secret while a rotation is under way (docs/deployment.md).
    pub previous_hash_key_file: Option<PathBuf>,
    /// Seconds SIGTERM may take: the final checkpoint, report and Kafka flush share it.
    pub shutdown_deadline_secs: u64,
    /// Log lines as `text` (default) or `json` (one object per line, for log shippers).
    pub log_format: LogFormat,
    /// `error`, `warn`, `info` (default), `debug` or `trace`; a `tracing` filter such as
    /// `apitap=debug` works too.
    pub log_level: String,
}

impl Default for DaemonSection {
    fn default() -> Self {
        DaemonSection {
            sensor_id: None,
            user: None,
            hash_key_file: None,
            previous_hash_key_file: None,
            shutdown_deadline_secs: 30,
            log_format: LogFormat::Text,
            log_level: "info".into(),
        }
    }
}

/// How log lines are written.
#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

/// `[capture]`: the interface and the packet pipeline's settings.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct CaptureSection {
    /// The mirror interfaces (required): one name, a comma-separated list or an array. Several
    /// are merged into one flow table (a passive TAP sends each direction out of its own port).
    #[serde(deserialize_with = "interface_list")]
    pub interface: Vec<String>,
    /// BPF capture filter. Default: none (every packet; HTTP is found by content on any port).
    pub filter: Option<String>,
    /// Bytes captured per packet, 64 to 262144. Default 262144.
    pub snaplen: i32,
    /// Kernel capture buffer in MiB, 1 to 2047. Default 64.
    pub buffer_mib: i32,
    /// Promiscuous mode (a mirror port needs it). Default true.
    pub promiscuous: bool,
    /// Memory HTTP parsing may hold over all connections, in MiB. Default 256.
    pub http_buffer_mib: u32,
    /// Keep the two directions of a connection apart when they carry different VLAN tags.
    /// Default false.
    pub split_vlans: bool,
    /// Extra query and path parameter names whose values are credentials (added to the
    /// built-in list).
    pub redact_params: Vec<String>,
    /// Worker threads for decode, reassembly and HTTP parsing, 0 to 256; 0 means one per
    /// available core. Default 0.
    pub workers: usize,
}

impl Default for CaptureSection {
    fn default() -> Self {
        CaptureSection {
            interface: Vec::new(),
            filter: None,
            snaplen: 262_144,
            buffer_mib: 64,
            promiscuous: true,
            http_buffer_mib: 256,
            split_vlans: false,
            redact_params: Vec::new(),
            workers: 0,
        }
    }
}

/// `[store]`: where the state lives and how often it is written.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct StoreSection {
    /// The SQLite file. Default `/var/lib/apitap/apitap.db`.
    pub path: PathBuf,
    /// Seconds of packet time between checkpoints: the most a crash loses. Default 60.
    pub checkpoint_interval_secs: u64,
    /// `[store.retention]`: how long each kind of personal data is kept (docs/store.md).
    pub retention: crate::store::db::RetentionConfig,
}

impl Default for StoreSection {
    fn default() -> Self {
        StoreSection {
            path: PathBuf::from(DEFAULT_STATE_DIR).join("apitap.db"),
            checkpoint_interval_secs: 60,
            retention: crate::store::db::RetentionConfig::default(),
        }
    }
}

/// `[report]`: the periodic shadow-API report.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct ReportSection {
    /// Folder the reports are written to, one sub-folder per report. Default
    /// `/var/lib/apitap/reports`.
    pub dir: PathBuf,
    /// Hours of packet time between reports (fractions allowed, e.g. 0.5); 0 writes none
    /// (only `apitap report`). Default 24.
    pub every_hours: f64,
    /// Formats written: `html`, `md`, `json`, `csv`, `openapi`. Default all.
    pub formats: Vec<String>,
    /// Reports kept in `dir`; older folders are removed. Default 60.
    pub keep: usize,
}

impl Default for ReportSection {
    fn default() -> Self {
        ReportSection {
            dir: PathBuf::from(DEFAULT_STATE_DIR).join("reports"),
            every_hours: 24.0,
            formats: ["html", "md", "json", "csv", "openapi"].map(String::from).to_vec(),
            keep: 60,
        }
    }
}

/// Report formats the daemon knows.
pub const REPORT_FORMATS: [&str; 5] = ["html", "md", "json", "csv", "openapi"];

/// A value that parses but cannot work: the key and the fix.
#[derive(Debug, PartialEq, Eq)]
pub struct Invalid {
    /// `[table] key`.
    pub key: String,
    /// What is wrong and what to write instead.
    pub problem: String,
}

fn invalid(key: &str, problem: impl Into<String>) -> Invalid {
    Invalid { key: key.into(), problem: problem.into() }
}

impl DaemonSection {
    /// Checks values that parse but cannot work.
    pub fn validate(&self) -> Result<(), Invalid> {
        if self.sensor_id.as_deref().is_some_and(|s| s.trim().is_empty() || s.len() > 128) {
            return Err(invalid("[daemon] sensor_id", "must be 1 to 128 characters; leave it out to use the host name"));
        }
        if self.user.as_deref().is_some_and(|u| u.trim().is_empty()) {
            return Err(invalid("[daemon] user", "is empty; name an existing unprivileged user (e.g. \"apitap\") or leave it out"));
        }
        if !(1..=600).contains(&self.shutdown_deadline_secs) {
            return Err(invalid("[daemon] shutdown_deadline_secs", "must be 1 to 600 seconds (default 30)"));
        }
        if crate::logging::filter(&self.log_level).is_err() {
            return Err(invalid(
                "[daemon] log_level",
                format!("{:?} is not a level; write error, warn, info, debug or trace (or a filter such as \"apitap=debug\")", self.log_level),
            ));
        }
        Ok(())
    }
}

/// Longest interface name Linux accepts (IFNAMSIZ less the NUL).
const MAX_INTERFACE_NAME: usize = 15;

/// `interface = "eth1"`, `"eth1,eth2"` or `["eth1", "eth2"]`.
fn interface_list<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum OneOrMany {
        One(String),
        Many(Vec<String>),
    }
    let names = match OneOrMany::deserialize(d)? {
        OneOrMany::One(s) => s.split(',').map(|n| n.trim().to_string()).collect(),
        OneOrMany::Many(v) => v.into_iter().map(|n| n.trim().to_string()).collect::<Vec<_>>(),
    };
    Ok(names.into_iter().filter(|n| !n.is_empty()).collect())
}

impl CaptureSection {
    /// Checks values that parse but cannot work.
    pub fn validate(&self) -> Result<(), Invalid> {
        if self.interface.is_empty() {
            return Err(invalid("[capture] interface", "is required: name the mirror interface, e.g. interface = \"eth1\""));
        }
        let mut seen = std::collections::BTreeSet::new();
        for name in &self.interface {
            if name.is_empty() || name.len() > MAX_INTERFACE_NAME || name.contains(['/', ' ', '\t']) {
                return Err(invalid("[capture] interface", format!("{name:?} is not an interface name (e.g. \"eth1\"; several: [\"eth1\", \"eth2\"])")));
            }
            if !seen.insert(name) {
                return Err(invalid("[capture] interface", format!("{name} is listed twice: every packet would be seen twice")));
            }
        }
        if !(64..=262_144).contains(&self.snaplen) {
            return Err(invalid("[capture] snaplen", "must be 64 to 262144 bytes (default 262144)"));
        }
        if !(1..=2047).contains(&self.buffer_mib) {
            return Err(invalid("[capture] buffer_mib", "must be 1 to 2047 MiB (default 64)"));
        }
        if !(1..=65_536).contains(&self.http_buffer_mib) {
            return Err(invalid("[capture] http_buffer_mib", "must be 1 to 65536 MiB (default 256)"));
        }
        if self.workers > crate::pipeline::workers::MAX_WORKERS {
            return Err(invalid("[capture] workers", "must be 0 (one per core) to 256 (default 0)"));
        }
        if let Some(name) = self
            .redact_params
            .iter()
            .find(|n| n.trim().is_empty() || !n.trim().bytes().all(|b| b.is_ascii_graphic() && b != b'=' && b != b'&'))
        {
            return Err(invalid("[capture] redact_params", format!("{name:?} is not a parameter name (letters, digits, '_', '-')")));
        }
        Ok(())
    }
}

impl StoreSection {
    /// Checks values that parse but cannot work.
    pub fn validate(&self) -> Result<(), Invalid> {
        if self.path.as_os_str().is_empty() {
            return Err(invalid("[store] path", "is empty; give the SQLite file, e.g. \"/var/lib/apitap/apitap.db\""));
        }
        if !(5..=3600).contains(&self.checkpoint_interval_secs) {
            return Err(invalid("[store] checkpoint_interval_secs", "must be 5 to 3600 seconds (default 60)"));
        }
        Ok(())
    }
}

impl ReportSection {
    /// Checks values that parse but cannot work.
    pub fn validate(&self) -> Result<(), Invalid> {
        if let Some(f) = self.formats.iter().find(|f| !REPORT_FORMATS.contains(&f.as_str())) {
            return Err(invalid("[report] formats", format!("{f:?} is not a format; use some of {}", REPORT_FORMATS.join(", "))));
        }
        if self.formats.is_empty() {
            return Err(invalid("[report] formats", "is empty; list at least one format, or set every_hours = 0 to write no reports"));
        }
        if !(0.0..=744.0).contains(&self.every_hours) {
            return Err(invalid("[report] every_hours", "must be 0 to 744 (a month); 0 turns periodic reports off"));
        }
        if self.every_hours > 0.0 && self.every_hours < 0.001 {
            return Err(invalid("[report] every_hours", "must be at least 0.001 (3.6 seconds) when not 0"));
        }
        if self.keep == 0 {
            return Err(invalid("[report] keep", "must be at least 1"));
        }
        Ok(())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_except_the_missing_interface() {
        DaemonSection::default().validate().unwrap();
        StoreSection::default().validate().unwrap();
        ReportSection::default().validate().unwrap();
        let err = CaptureSection::default().validate().unwrap_err();
        assert_eq!(err.key, "[capture] interface");
        CaptureSection { interface: vec!["eth1".into()], ..CaptureSection::default() }.validate().unwrap();
    }

    #[test]
    fn workers_are_bounded() {
        let with = |workers| CaptureSection { interface: vec!["eth1".into()], workers, ..CaptureSection::default() }.validate();
        with(0).unwrap();
        with(256).unwrap();
        let err = with(257).unwrap_err();
        assert_eq!(err.key, "[capture] workers");
        assert!(err.problem.contains("0 (one per core) to 256"), "{err:?}");
    }

    #[test]
    fn interfaces_are_one_name_a_list_or_a_comma_separated_string() {
        let parse = |v: &str| toml::from_str::<CaptureSection>(&format!("interface = {v}")).unwrap().interface;
        assert_eq!(parse("\"eth1\""), ["eth1"]);
        assert_eq!(parse("\"eth1, eth2\""), ["eth1", "eth2"]);
        assert_eq!(parse("[\"eth1\", \"bond0\"]"), ["eth1", "bond0"]);
        let twice = CaptureSection { interface: parse("[\"eth1\", \"eth1\"]"), ..CaptureSection::default() };
        let e = twice.validate().unwrap_err();
        assert!(e.key == "[capture] interface" && e.problem.contains("twice"), "{e:?}");
        let bad = CaptureSection { interface: vec!["eth 1".into()], ..CaptureSection::default() };
        assert!(bad.validate().unwrap_err().problem.contains("not an interface name"));
        assert!(toml::from_str::<CaptureSection>("interface = 7").is_err());
    }

    #[test]
    fn values_that_cannot_work_name_the_key() {
        let c = CaptureSection { interface: vec!["eth1".into()], snaplen: 10, ..CaptureSection::default() };
        assert_eq!(c.validate().unwrap_err().key, "[capture] snaplen");
        let r = ReportSection { formats: vec!["pdf".into()], ..ReportSection::default() };
        let e = r.validate().unwrap_err();
        assert!(e.problem.contains("\"pdf\"") && e.problem.contains("html"), "{e:?}");
        let d = DaemonSection { log_level: "loud".into(), ..DaemonSection::default() };
        assert_eq!(d.validate().unwrap_err().key, "[daemon] log_level");
        let s = StoreSection { checkpoint_interval_secs: 0, ..StoreSection::default() };
        assert_eq!(s.validate().unwrap_err().key, "[store] checkpoint_interval_secs");
    }
}

/// `[tls]`: decryption with NSS key logs (docs/tls.md).
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct TlsSection {
    /// Key log files (the `SSLKEYLOGFILE` format), followed as they grow. Relative paths are
    /// taken from the configuration file's directory. Default: none.
    pub keylog_files: Vec<PathBuf>,
    /// A directory of key log files: every regular file in it is read, new ones as they
    /// appear, each followed as it grows (the daemon; `read` reads it once). Default: none.
    pub keylog_dir: Option<PathBuf>,
    /// Most sessions' secrets kept, the oldest forgotten first, 1 to 10,000,000. Default
    /// 100,000.
    pub max_keylog_sessions: usize,
    /// Seconds of packet time a connection's protected records wait for its keys before it
    /// is given up, 1 to 600. Default 10.
    pub key_wait_secs: u64,
    /// KiB of protected records held per connection while its keys are awaited, 16 to
    /// 65,536. Default 256.
    pub max_pending_kib: usize,
}

impl Default for TlsSection {
    fn default() -> Self {
        TlsSection {
            keylog_files: Vec::new(),
            keylog_dir: None,
            max_keylog_sessions: apitap_parsers::tls::decrypt::MAX_KEYLOG_SESSIONS,
            key_wait_secs: apitap_parsers::tls::decrypt::KEY_WAIT_NS / 1_000_000_000,
            max_pending_kib: apitap_parsers::tls::decrypt::MAX_PENDING_BYTES >> 10,
        }
    }
}

impl TlsSection {
    /// The decryptors' limits.
    pub fn decrypt_config(&self) -> apitap_parsers::tls::decrypt::DecryptConfig {
        apitap_parsers::tls::decrypt::DecryptConfig {
            max_pending_bytes: self.max_pending_kib << 10,
            key_wait_ns: self.key_wait_secs.saturating_mul(1_000_000_000),
            ..Default::default()
        }
    }

    /// Checks values that parse but cannot work.
    pub fn validate(&self) -> Result<(), Invalid> {
        if !(1..=10_000_000).contains(&self.max_keylog_sessions) {
            return Err(invalid("[tls] max_keylog_sessions", "must be 1 to 10000000 (default 100000)"));
        }
        if !(1..=600).contains(&self.key_wait_secs) {
            return Err(invalid("[tls] key_wait_secs", "must be 1 to 600 seconds (default 10)"));
        }
        if !(16..=65_536).contains(&self.max_pending_kib) {
            return Err(invalid("[tls] max_pending_kib", "must be 16 to 65536 KiB (default 256)"));
        }
        if let Some(f) = self.keylog_files.iter().find(|f| f.as_os_str().is_empty()) {
            return Err(invalid("[tls] keylog_files", format!("{f:?} is empty; give a key log file's path")));
        }
        if self.keylog_dir.as_ref().is_some_and(|d| d.as_os_str().is_empty()) {
            return Err(invalid("[tls] keylog_dir", "is empty; give a directory of key log files, or leave it out"));
        }
        Ok(())
    }
}
