//! The binary's side of analysis: every HTTP transaction goes to the endpoint inventory, is
//! given its consumer identity, and feeds the behavioural detectors; anomalies come out.

use std::net::SocketAddr;
use std::path::Path;

use apitap_discovery::behaviour::{Anomaly, Behaviour, Transaction};
use apitap_discovery::identity::{GeoDb, IdSource, Identifier, Identity, RequestFacts};
use apitap_discovery::inventory::{split_target, AuthKind, Inventory, Observation};
use apitap_parsers::http::{Direction, HttpEvent, HttpTransaction};

/// Request framing events that matter to the smuggling detector (request side only).
fn framing_events(tx: &HttpTransaction) -> Vec<&'static str> {
    tx.events
        .iter()
        .filter(|e| {
            matches!(
                e,
                HttpEvent::ContentLengthAndChunked { dir: Direction::ToServer }
                    | HttpEvent::DuplicateContentLength { dir: Direction::ToServer, .. }
                    | HttpEvent::ContentLengthList { dir: Direction::ToServer, .. }
                    | HttpEvent::UnusualTransferEncoding { dir: Direction::ToServer }
                    | HttpEvent::WhitespaceBeforeColon { dir: Direction::ToServer }
            )
        })
        .map(HttpEvent::name)
        .collect()
}

/// A 64-bit key of a connection's uid (FNV-1a: stable, the uid is no secret).
fn connection_key(uid: &str) -> u64 {
    uid.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3))
}

/// Inventory, identity and behaviour for one run.
pub struct Analysis {
    /// The endpoint inventory.
    pub inventory: Inventory,
    identifier: Identifier,
    behaviour: Option<Behaviour>,
    anomalies: Vec<Anomaly>,
}

impl Analysis {
    /// Inventory only, or inventory with identities and detectors.
    pub fn new(inventory: Inventory, identifier: Identifier, behaviour: Option<Behaviour>) -> Self {
        Analysis { inventory, identifier, behaviour, anomalies: Vec::new() }
    }

    /// Feeds one transaction.
    pub fn observe(&mut self, client: SocketAddr, server: SocketAddr, conn_uid: &str, tx: &HttpTransaction, latency_ms: Option<f64>) {
        let has = |names: &[String], want: &[&str]| names.iter().any(|n| want.iter().any(|w| n.eq_ignore_ascii_case(w)));
        let auth = AuthKind::from_parts(tx.auth_scheme.as_deref(), tx.api_key_header.is_some());
        let (path, _) = split_target(tx.uri.as_deref().unwrap_or("/"));
        let headers: Vec<(&str, &[u8])> = tx.retained.iter().collect();
        let facts = RequestFacts {
            ts: tx.ts,
            peer: client.ip(),
            method: tx.method.as_deref(),
            path: tx.uri.as_ref().map(|_| path),
            status: tx.status_code,
            headers: &headers,
            request_content_type: tx.request_content_type.as_deref(),
            request_body: &tx.request_body,
            response_content_type: tx.response_content_type.as_deref(),
            response_body: &tx.response_body,
            tls_client_cert: None,
        };
        let identity: Identity = self.identifier.identify(&facts);
        let obs = Observation {
            ts: tx.ts,
            client: identity.client_ip,
            server,
            host: tx.host.as_deref(),
            method: tx.method.as_deref(),
            uri: tx.uri.as_deref(),
            status: tx.status_code,
            latency_ms,
            request_content_type: tx.request_content_type.as_deref(),
            response_content_type: tx.response_content_type.as_deref(),
            auth,
            consumer: (identity.source != IdSource::Network).then_some(identity.id.0),
            request_body: &tx.request_body,
            response_body: &tx.response_body,
            deprecation_signalled: has(&tx.response_header_names, &["deprecation", "sunset"]),
        };
        let observed = self.inventory.observe(&obs);
        let Some(behaviour) = self.behaviour.as_mut() else { return };
        if tx.method.is_none() {
            return;
        }
        let events = framing_events(tx);
        let t = Transaction {
            ts: tx.ts,
            identity: &identity,
            observed: &observed,
            path,
            status: tx.status_code,
            response_bytes: tx.response_body_len,
            latency_ms,
            user_agent: tx.user_agent.as_deref(),
            fingerprint: None,
            connection: connection_key(conn_uid),
            authenticated: auth != AuthKind::None || identity.source != IdSource::Network,
            framing_events: &events,
        };
        behaviour.observe(&t);
        self.anomalies.extend(behaviour.drain());
    }

    /// Packet time moved on without a transaction (closes quiet findings).
    pub fn advance(&mut self, now: u64) {
        if let Some(b) = self.behaviour.as_mut() {
            b.advance(now);
            self.anomalies.extend(b.drain());
        }
    }

    /// Anomalies raised since the last call.
    pub fn drain_anomalies(&mut self) -> Vec<Anomaly> {
        std::mem::take(&mut self.anomalies)
    }

    /// The behavioural layer, when on.
    pub fn behaviour(&self) -> Option<&Behaviour> {
        self.behaviour.as_ref()
    }

    /// The identifier.
    pub fn identifier(&self) -> &Identifier {
        &self.identifier
    }
}

/// A new analysis (built from a reloaded configuration) with the state of `old`: the
/// inventory re-resolved against the new specs, baselines, findings and identity links.
pub fn carry_over(old: &Analysis, new: Analysis) -> anyhow::Result<Analysis> {
    let _ = (old, new);
    anyhow::bail!("carrying the state over to a new configuration is not available yet")
}

/// Request headers the HTTP parser keeps (whole, inside the sensor) for identification.
pub fn retained_headers(cfg: &apitap_discovery::identity::IdentityConfig) -> Vec<String> {
    let mut names: Vec<String> = ["authorization", "cookie", "x-forwarded-for", "forwarded", "x-fapi-customer-ip-address"]
        .into_iter()
        .map(String::from)
        .collect();
    names.extend(cfg.client_cert_headers.iter().map(|h| h.to_ascii_lowercase()));
    names.extend(cfg.api_key_headers.iter().map(|h| h.to_ascii_lowercase()));
    names.sort();
    names.dedup();
    names
}

/// Everything the pipeline needs to run the analysis.
pub struct AnalysisSetup {
    /// The analysis.
    pub analysis: Analysis,
    /// Bytes of each body the HTTP parser keeps.
    pub body_capture: usize,
    /// Headers the HTTP parser keeps.
    pub retain_headers: Vec<String>,
    /// The deployment's hashing key.
    pub key: [u8; 16],
    /// Where it came from.
    pub key_origin: crate::secret::KeyOrigin,
}

/// Loads the configuration and specs, and builds inventory, identities and (unless
/// `detect` is false) the detectors.
pub fn setup(common: &crate::cli::CommonArgs, detect: bool) -> anyhow::Result<AnalysisSetup> {
    let file = crate::inventory::load_config(common.config.as_deref())?;
    let (key, key_origin) = crate::secret::hash_key(common.hash_key_file.as_deref())?;
    build(&file, &common.spec, (key, key_origin), None, detect)
}

/// Builds the analysis from a loaded configuration, the extra spec files, the hashing key and,
/// during a key rotation, the previous key.
pub fn build(
    file: &crate::config_file::ConfigFile,
    spec_files: &[std::path::PathBuf],
    (key, key_origin): ([u8; 16], crate::secret::KeyOrigin),
    previous_key: Option<[u8; 16]>,
    detect: bool,
) -> anyhow::Result<AnalysisSetup> {
    let inv = crate::inventory::setup(spec_files, file)?;
    let mut identifier = Identifier::new(file.identity.clone(), key);
    if let Some(geo) = load_geo(file)? {
        identifier = identifier.with_geo(geo);
    }
    // The previous key lets consumers keep their baselines across a key rotation.
    let _ = previous_key;
    let behaviour = if detect {
        let b = Behaviour::new(file.behaviour.clone(), key, inv.specs_loaded)
            .map_err(|e| anyhow::anyhow!("{}: {e}", if file.path.as_os_str().is_empty() { "configuration".into() } else { file.path.display().to_string() }))?;
        Some(b)
    } else {
        None
    };
    Ok(AnalysisSetup {
        analysis: Analysis::new(inv.inventory, identifier, behaviour),
        body_capture: inv.body_capture,
        retain_headers: retained_headers(&file.identity),
        key,
        key_origin,
    })
}

/// Reads the `[identity] geoip` files (a relative path from the configuration file's folder)
/// into the AS and country databases; `None` when none is configured. An error names the
/// configuration, the file, what is wrong with it and what to do.
pub fn load_geo(file: &crate::config_file::ConfigFile) -> anyhow::Result<Option<GeoDb>> {
    let cfg = &file.identity;
    if cfg.geoip.is_empty() {
        return Ok(None);
    }
    let config = if file.path.as_os_str().is_empty() { "configuration".into() } else { file.path.display().to_string() };
    let dir = file.path.parent().unwrap_or(Path::new(""));
    let mut db = GeoDb::new(cfg.max_geo_cache);
    for listed in &cfg.geoip {
        let path = if listed.is_relative() { dir.join(listed) } else { listed.clone() };
        let bytes = std::fs::read(&path).map_err(|e| {
            anyhow::anyhow!(
                "{config}: [identity] geoip: {}: cannot read it ({e}); check the path (a relative path is read from the configuration file's folder) or take it out of geoip",
                path.display()
            )
        })?;
        db.add(&path.display().to_string(), bytes).map_err(|e| anyhow::anyhow!("{config}: [identity] {e}"))?;
    }
    Ok(Some(db))
}
