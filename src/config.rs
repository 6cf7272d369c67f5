//! Settings of one run, validated from the command line or the configuration file's
//! `[capture]` and `[limits]` sections.

use std::sync::Arc;

use anyhow::{bail, Result};
use apitap_parsers::http::HttpConfig;
use apitap_sensor::decode::DecodeConfig;
use apitap_sensor::flow::FlowConfig;

use crate::cli::CommonArgs;

/// Validated settings for the processing pipeline.
#[derive(Clone)]
pub struct Settings {
    /// Link, tunnel and IP decoding, with the defragmentation limits.
    pub decode: DecodeConfig,
    /// Flow table and TCP reassembly limits and timeouts.
    pub flow: FlowConfig,
    /// HTTP parser limits and the query parameters to redact.
    pub http: Arc<HttpConfig>,
    /// Bytes HTTP parsing may hold across all connections (`--http-buffer-mib`).
    pub max_http_buffered_total: usize,
    /// Build the endpoint inventory (with `--out`, unless `--no-inventory`).
    pub inventory: bool,
    /// Run only up to this stage (`read --stop-after`, for measuring); `None`: every stage.
    pub stop_after: Option<crate::pipeline::Stage>,
    /// Worker threads for decode, reassembly and HTTP parsing; 0 or 1 runs them on the
    /// reading thread.
    pub workers: usize,
    /// Live capture: how long the reading thread waits for room in a full worker queue before
    /// it drops the batch (counted per worker). `None` (reading a file) waits for ever.
    pub queue_wait: Option<std::time::Duration>,
    /// Session keys from key logs: TLS connections are decrypted when set.
    pub tls_keys: Option<crate::tls_keys::KeyStore>,
    /// The key log files and directory the keys come from (`--tls-keylog`, `[tls]`).
    pub keylog_files: Vec<std::path::PathBuf>,
    /// See `keylog_files`.
    pub keylog_dir: Option<std::path::PathBuf>,
    /// Limits of each connection's decryption.
    pub decrypt: apitap_parsers::tls::decrypt::DecryptConfig,
    /// HTTP/2 parser limits.
    pub h2: Arc<apitap_parsers::h2::H2Config>,
}

/// The worker threads `requested` stands for: 0 means one per available core.
pub fn resolve_workers(requested: usize) -> usize {
    if requested > 0 {
        return requested;
    }
    std::thread::available_parallelism().map(std::num::NonZeroUsize::get).unwrap_or(1)
}

impl Settings {
    /// The daemon's settings from its `[capture]` section (the analysis always runs).
    pub fn from_capture(cap: &crate::daemon::config::CaptureSection) -> Self {
        let flow = FlowConfig { split_by_vlan: cap.split_vlans, ..FlowConfig::default() };
        let mut http = HttpConfig::default();
        http.redact_query_params.extend(cap.redact_params.iter().map(|n| n.trim().to_ascii_lowercase()));
        Settings {
            decode: DecodeConfig::default(),
            flow,
            http: Arc::new(http),
            max_http_buffered_total: (cap.http_buffer_mib as usize) << 20,
            inventory: true,
            stop_after: None,
            workers: resolve_workers(cap.workers),
            queue_wait: Some(crate::pipeline::workers::LIVE_QUEUE_WAIT),
            tls_keys: None,
            keylog_files: Vec::new(),
            keylog_dir: None,
            decrypt: Default::default(),
            h2: Default::default(),
        }
    }

    /// The same settings with the configuration file's `[tls]` applied: a key store when key
    /// logs are configured (empty: the caller reads or watches them), and the decryptors'
    /// limits.
    pub fn with_tls(mut self, tls: &crate::daemon::config::TlsSection) -> Self {
        self.decrypt = tls.decrypt_config();
        self.keylog_files.extend(tls.keylog_files.iter().cloned());
        if tls.keylog_dir.is_some() {
            self.keylog_dir = tls.keylog_dir.clone();
        }
        if self.tls_keys.is_none() && (!self.keylog_files.is_empty() || self.keylog_dir.is_some()) {
            self.tls_keys = Some(crate::tls_keys::KeyStore::new(tls.max_keylog_sessions));
        }
        self
    }

    /// The same settings with the configuration file's `[http2]` limits.
    pub fn with_http2(mut self, h2: &crate::daemon::config_http2::Http2Section) -> Self {
        self.h2 = h2.h2_config();
        self
    }

    /// A reader of the configured key logs into the settings' store (`None` without one).
    pub fn keylog_reader(&self) -> Option<crate::tls_keys::KeyLogReader> {
        let store = self.tls_keys.clone()?;
        Some(crate::tls_keys::KeyLogReader::new(store, self.keylog_files.clone(), self.keylog_dir.clone()))
    }

    /// The same settings with the configuration file's `[limits]` applied: the decoder's,
    /// the defragmenter's, the flow table's and the HTTP parser's limits. What other sections
    /// set (VLAN handling, redacted parameters) is kept. `limits` must have passed
    /// [`LimitsSection::validate`](crate::daemon::limits::LimitsSection::validate), as every
    /// loaded file has.
    pub fn with_limits(mut self, limits: &crate::daemon::limits::LimitsSection) -> Self {
        limits.apply_decode(&mut self.decode);
        limits.apply_flow(&mut self.flow);
        let mut http = (*self.http).clone();
        limits.apply_http(&mut http);
        self.http = Arc::new(http);
        self
    }

    /// Builds the settings from the command line, rejecting what cannot work. With
    /// `--config`, the file's `[limits]` apply (its `[capture]` does not: the command line
    /// sets those).
    pub fn from_args(args: &CommonArgs, out: Option<&std::path::Path>) -> Result<Self> {
        if out.is_none() && (!args.spec.is_empty() || args.config.is_some()) {
            bail!("--spec and --config build the endpoint inventory, which is written to --out DIR: add --out");
        }
        let flow = FlowConfig { split_by_vlan: args.split_vlans, ..FlowConfig::default() };
        let mut http = HttpConfig::default();
        for name in &args.redact_param {
            let name = name.trim();
            if name.is_empty() || !name.bytes().all(|b| b.is_ascii_graphic() && b != b'=' && b != b'&') {
                bail!("--redact-param: {name:?} is not a parameter name (use letters, digits, '_', '-', separated by commas)");
            }
            http.redact_query_params.push(name.to_ascii_lowercase());
        }
        let settings = Settings {
            decode: DecodeConfig::default(),
            flow,
            http: Arc::new(http),
            max_http_buffered_total: (args.http_buffer_mib as usize) << 20,
            inventory: out.is_some() && !args.no_inventory,
            stop_after: None,
            workers: resolve_workers(usize::from(args.workers)),
            queue_wait: None,
            tls_keys: None,
            keylog_files: args.tls_keylog.clone(),
            keylog_dir: None,
            decrypt: Default::default(),
            h2: Default::default(),
        };
        // The key logs are read by the command: once for `read`, followed for `capture`.
        Ok(match &args.config {
            Some(path) => {
                let file = crate::config_file::load(path)?;
                settings.with_limits(&file.limits).with_tls(&file.tls).with_http2(&file.http2)
            }
            None => settings.with_tls(&crate::daemon::config::TlsSection::default()),
        })
    }
}
