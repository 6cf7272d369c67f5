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
    /// Limits of each connection's decryption.
    pub decrypt: apitap_parsers::tls::decrypt::DecryptConfig,
}

/// Reads the key logs named with `--tls-keylog` into a new store (`None` when none is named);
/// a file that cannot be read stops the run.
fn read_keylogs(files: &[std::path::PathBuf]) -> Result<Option<crate::tls_keys::KeyStore>> {
    if files.is_empty() {
        return Ok(None);
    }
    let store = crate::tls_keys::KeyStore::new(apitap_parsers::tls::decrypt::MAX_KEYLOG_SESSIONS);
    let mut reader = crate::tls_keys::KeyLogReader::new(store.clone(), files.to_vec(), None).on_stderr();
    reader.poll(true)?;
    Ok(Some(store))
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
            decrypt: Default::default(),
        }
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
            decrypt: Default::default(),
        };
        let settings = Settings { tls_keys: read_keylogs(&args.tls_keylog)?, ..settings };
        Ok(match &args.config {
            Some(path) => settings.with_limits(&crate::config_file::load(path)?.limits),
            None => settings,
        })
    }
}
