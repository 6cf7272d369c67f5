//! The binary's side of analysis: every HTTP transaction goes to the endpoint inventory, is
//! given its consumer identity, and feeds the behavioural detectors; anomalies come out.

use std::net::SocketAddr;
use std::path::Path;

use apitap_discovery::behaviour::{Anomaly, Behaviour, Transaction};
use apitap_discovery::tuning::TriageMark;
use apitap_discovery::identity::{GeoDb, IdSource, Identifier, Identity, RequestFacts};
use apitap_discovery::inventory::{split_target, AuthKind, BodyInput, Inventory, Observation, PreparedBodies, Visibility};
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

/// What a transaction's connection tells the analysis besides the transaction itself.
#[derive(Clone, Copy, Debug)]
pub struct ConnFacts<'a> {
    /// Client address and port.
    pub client: SocketAddr,
    /// Server address and port.
    pub server: SocketAddr,
    /// The connection's uid (sessions are counted by it).
    pub uid: &'a str,
    /// The client's certificate from its TLS handshake, when one was seen.
    pub tls_client_cert: Option<&'a [u8]>,
    /// Read in clear or decrypted from TLS.
    pub visibility: Visibility,
    /// The client's JA4 fingerprint, for a decrypted exchange.
    pub ja4: Option<&'a str>,
}

/// Inventory, identity and behaviour for one run.
pub struct Analysis {
    /// The endpoint inventory.
    pub inventory: Inventory,
    identifier: Identifier,
    behaviour: Option<Behaviour>,
    anomalies: Vec<Anomaly>,
    /// Analysts' decisions by finding id (from the audit log), carried by the findings' events.
    triage: std::collections::HashMap<String, apitap_discovery::tuning::TriageMark>,
}

/// How a transaction authenticated, as the inventory counts it.
fn auth_kind(tx: &HttpTransaction) -> AuthKind {
    AuthKind::from_parts(tx.auth_scheme.as_deref(), tx.api_key_header.is_some())
}

/// The facts of a transaction that body analysis and its sampling read: the same ones
/// [`Analysis::observe`] gives the inventory, so that bodies prepared ahead on a worker thread
/// take the same sampling decisions as the inventory would.
pub fn body_input(tx: &HttpTransaction) -> BodyInput<'_> {
    BodyInput {
        ts: tx.ts,
        auth: auth_kind(tx),
        status: tx.outcome_status(),
        request_content_type: tx.request_content_type.as_deref(),
        request_body: &tx.request_body,
        response_content_type: tx.response_content_type.as_deref(),
        response_body: &tx.response_body,
    }
}

impl Analysis {
    /// Inventory only, or inventory with identities and detectors.
    pub fn new(inventory: Inventory, identifier: Identifier, behaviour: Option<Behaviour>) -> Self {
        Analysis { inventory, identifier, behaviour, anomalies: Vec::new(), triage: std::collections::HashMap::new() }
    }

    /// Applies a changed audit log while running: the new decisions, and for each finding in
    /// `changed` that is still open an event now (closed by an analyst: `closed`; reopened or
    /// annotated: `updated`), carrying its mark, so that the SIEM sees the decision. Returns
    /// the findings of `changed` the alert book does not hold (closed already, or never seen
    /// here) with their decisions: their events are built from the store's copy
    /// ([`apitap_discovery::behaviour::decision`]).
    pub fn apply_decisions(&mut self, triage: crate::tuning::triage::Triage, changed: &[String], now: u64) -> Vec<(String, TriageMark)> {
        let decided: Vec<(String, Option<TriageMark>)> = changed.iter().map(|id| (id.clone(), triage.marks.get(id).cloned())).collect();
        self.set_triage(triage);
        let mut unheld = Vec::new();
        for (id, mark) in decided {
            let close = mark.as_ref().is_some_and(|m| m.state == apitap_discovery::tuning::TriageState::Closed);
            let held = self.behaviour.as_mut().is_some_and(|b| b.triage_event(&id, close, now));
            if let (false, Some(m)) = (held, mark) {
                unheld.push((id, m));
            }
        }
        if let Some(b) = self.behaviour.as_mut() {
            self.anomalies.extend(b.drain());
        }
        unheld
    }

    /// The analysts' decisions in force, by finding id.
    pub fn triage_marks(&self) -> &std::collections::HashMap<String, apitap_discovery::tuning::TriageMark> {
        &self.triage
    }

    /// Applies the analysts' decisions of an audit log: verdicts absorb patterns into the
    /// baselines, and every later event of a triaged finding carries its mark.
    pub fn set_triage(&mut self, triage: crate::tuning::triage::Triage) {
        if let Some(b) = self.behaviour.as_mut() {
            b.set_absorptions(triage.absorptions());
        }
        self.triage = triage.marks;
    }

    /// Feeds one transaction of the connection `conn`; `bodies` are its bodies' facts when
    /// they were computed already (under this analysis's inventory configuration).
    pub fn observe(&mut self, conn: ConnFacts<'_>, tx: &HttpTransaction, bodies: Option<PreparedBodies>) {
        let ConnFacts { client, server, uid: conn_uid, tls_client_cert, visibility, ja4 } = conn;
        let latency_ms = crate::record::latency(tx);
        let has = |names: &[String], want: &[&str]| names.iter().any(|n| want.iter().any(|w| n.eq_ignore_ascii_case(w)));
        let auth = auth_kind(tx);
        let (path, _) = split_target(tx.uri.as_deref().unwrap_or("/"));
        let headers: Vec<(&str, &[u8])> = tx.retained.iter().collect();
        let facts = RequestFacts {
            ts: tx.ts,
            peer: client.ip(),
            method: tx.method.as_deref(),
            path: tx.uri.as_ref().map(|_| path),
            status: tx.outcome_status(),
            headers: &headers,
            request_content_type: tx.request_content_type.as_deref(),
            request_body: &tx.request_body,
            response_content_type: tx.response_content_type.as_deref(),
            response_body: &tx.response_body,
            tls_client_cert,
        };
        let identity: Identity = self.identifier.identify(&facts);
        let obs = Observation {
            ts: tx.ts,
            client: identity.client_ip,
            server,
            host: tx.host.as_deref(),
            method: tx.method.as_deref(),
            uri: tx.uri.as_deref(),
            status: tx.outcome_status(),
            latency_ms,
            request_content_type: tx.request_content_type.as_deref(),
            response_content_type: tx.response_content_type.as_deref(),
            auth,
            consumer: (identity.source != IdSource::Network).then_some(identity.id.0),
            request_body: &tx.request_body,
            response_body: &tx.response_body,
            deprecation_signalled: has(&tx.response_header_names, &["deprecation", "sunset"]),
            visibility,
        };
        let observed = self.inventory.observe_prepared(&obs, Some(tx.response_body_len), bodies);
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
            status: tx.outcome_status(),
            response_bytes: tx.response_body_len,
            latency_ms,
            user_agent: tx.user_agent.as_deref(),
            fingerprint: ja4,
            connection: connection_key(conn_uid),
            authenticated: auth != AuthKind::None || identity.source != IdSource::Network,
            framing_events: &events,
            visibility,
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
        let mut out = std::mem::take(&mut self.anomalies);
        if !self.triage.is_empty() {
            for a in &mut out {
                a.triage = self.triage.get(&a.finding_id).cloned();
            }
        }
        out
    }

    /// The behavioural layer, when on.
    pub fn behaviour(&self) -> Option<&Behaviour> {
        self.behaviour.as_ref()
    }

    /// The identifier.
    pub fn identifier(&self) -> &Identifier {
        &self.identifier
    }

    /// The identifier, to checkpoint or erase.
    pub fn identifier_mut(&mut self) -> &mut Identifier {
        &mut self.identifier
    }

    /// The behavioural layer, to checkpoint or erase.
    pub fn behaviour_mut(&mut self) -> Option<&mut Behaviour> {
        self.behaviour.as_mut()
    }

    /// Takes over the baselines, findings and token links of `old` (a reload: `self` was built
    /// from the new configuration, with `old`'s inventory already restored into it). Returns
    /// notes to log.
    pub fn adopt(&mut self, old: Analysis) -> Vec<String> {
        let mut notes = Vec::new();
        match self.identifier.restore_links(old.identifier.snapshot()) {
            Ok(n) => notes.push(format!("token links kept: {n}")),
            Err(e) => notes.push(format!("token links not kept ({e})")),
        }
        if let (Some(new), Some(prev)) = (self.behaviour.as_mut(), old.behaviour) {
            let (cfg, key, specs_loaded) = new.restore_inputs();
            let (global, profiles) = prev.into_state();
            match Behaviour::restore(cfg, key, specs_loaded, global, profiles) {
                Ok((mut b, st)) => {
                    notes.push(format!("baselines kept: {st:?}"));
                    // The new configuration's rules and the log's verdicts, not the old ones.
                    let (rules, absorbed) = new.tuning();
                    b.set_suppressions(rules);
                    b.set_absorptions(absorbed);
                    b.set_overrides(new.overrides().to_vec());
                    *new = b;
                }
                Err(e) => notes.push(format!("baselines not kept, starting fresh ({e})")),
            }
        }
        notes
    }
}

/// An analysis's state as plain data: what a checkpoint stored, or what a reload carries over
/// to the analysis built from the new configuration. Each part is optional: a part that is
/// missing or was refused starts empty.
#[derive(Default)]
pub struct AnalysisState {
    /// The inventory (matched again against the specs it is restored under).
    pub inventory: Option<apitap_discovery::inventory::InventorySnapshot>,
    /// Baselines, findings and every profile.
    pub behaviour: Option<(apitap_discovery::behaviour::BehaviourSnapshot, Vec<(u64, apitap_discovery::behaviour::Profile)>)>,
    /// Opaque-token links.
    pub identity: Option<apitap_discovery::identity::IdentitySnapshot>,
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
    let (setup, notes) = build(&file, &common.spec, (key, key_origin), None, detect, AnalysisState::default())?;
    for n in notes {
        eprintln!("note: {n}");
    }
    Ok(setup)
}

/// Builds the analysis from a loaded configuration, the extra spec files, the hashing key and,
/// during a key rotation, the previous key, carrying on from `state` (empty for a fresh
/// start). Returns it with notes on what the state restored or had to leave out, to log.
///
/// Errors are the configuration's (specs, detector settings, network databases), and an
/// inventory snapshot the new configuration cannot hold (fewer `max_services` than it has):
/// then nothing is built, so a reload can keep running on the old analysis.
pub fn build(
    file: &crate::config_file::ConfigFile,
    spec_files: &[std::path::PathBuf],
    (key, key_origin): ([u8; 16], crate::secret::KeyOrigin),
    previous_key: Option<[u8; 16]>,
    detect: bool,
    state: AnalysisState,
) -> anyhow::Result<(AnalysisSetup, Vec<String>)> {
    let config_name = || if file.path.as_os_str().is_empty() { "configuration".into() } else { file.path.display().to_string() };
    let parts = crate::inventory::setup_parts(spec_files, file)?;
    let mut notes = Vec::new();
    let (inventory, specs_loaded, body_capture) = (parts.cfg, parts.specs_loaded, parts.body_capture);
    let inventory = match state.inventory {
        Some(snap) => {
            let (inv, report) = Inventory::restore(inventory, parts.specs, snap).map_err(|e| anyhow::anyhow!("{e}"))?;
            notes.push(format!("inventory restored: {report:?}"));
            inv
        }
        None => Inventory::new(inventory, parts.specs),
    };
    let mut identifier = Identifier::new(file.identity.clone(), key);
    if let Some(prev) = previous_key {
        // Consumers keep their baselines across a key rotation.
        identifier = identifier.with_previous_key(prev);
    }
    if let Some(geo) = load_geo(file)? {
        identifier = identifier.with_geo(geo);
    }
    if let Some(snap) = state.identity {
        match identifier.restore_links(snap) {
            Ok(n) => notes.push(format!("token links restored: {n}")),
            Err(e) => notes.push(format!("token links not restored ({e})")),
        }
    }
    let behaviour = if detect {
        let b = match state.behaviour {
            Some((global, profiles)) => {
                match Behaviour::restore(file.behaviour.clone(), key, specs_loaded, global, profiles) {
                    Ok((b, st)) => {
                        notes.push(format!("baselines restored: {st:?}"));
                        b
                    }
                    Err(e) => {
                        notes.push(format!("baselines not restored, starting fresh ({e})"));
                        Behaviour::new(file.behaviour.clone(), key, specs_loaded).map_err(|e| anyhow::anyhow!("{}: {e}", config_name()))?
                    }
                }
            }
            None => Behaviour::new(file.behaviour.clone(), key, specs_loaded).map_err(|e| anyhow::anyhow!("{}: {e}", config_name()))?,
        };
        let mut b = b;
        b.set_suppressions(crate::tuning::rules(file));
        b.set_overrides(file.overrides.clone());
        Some(b)
    } else {
        None
    };
    let mut analysis = Analysis::new(inventory, identifier, behaviour);
    if detect {
        let triage = crate::tuning::triage::load(file);
        match &triage.error {
            Some(e) => notes.push(format!("audit log not applied, findings are judged as if untuned: {e}")),
            None if triage.records > 0 => notes.push(format!("audit log: {} triage decisions applied", triage.records)),
            None => {}
        }
        analysis.set_triage(triage);
    }
    let setup = AnalysisSetup {
        analysis,
        body_capture,
        retain_headers: retained_headers(&file.identity),
        key,
        key_origin,
    };
    Ok((setup, notes))
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
