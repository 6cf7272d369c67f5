//! The anomaly message: one JSON object per finding event, the same in `anomalies.jsonl` and
//! on Kafka. It is an OCSF Detection Finding (class 2004, category 2 Findings) at the top
//! level, so a SIEM maps it without custom parsing; apitap's own fields (kind, consumer,
//! endpoint, evidence, score) are under `unmapped`, OCSF's place for source-specific data.
//! Layout and mapping: `docs/anomalies.md`.

use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;

use crate::inventory::rfc3339;

/// Version of the anomaly message layout (`unmapped.schema_version`).
pub const ANOMALY_SCHEMA_VERSION: u32 = 1;
/// The OCSF schema version the messages follow.
pub const OCSF_VERSION: &str = "1.3.0";

/// What a detector found. Stable snake_case codes (`AnomalyKind::code`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AnomalyKind {
    /// Requests for object ids the consumer was never given, many refused.
    BolaEnumeration,
    /// Failed logins across many accounts and networks.
    CredentialStuffing,
    /// Account data pulled past the PSD2 limit or scraped in bulk.
    BulkExport,
    /// Far more requests than the consumer's seasonal baseline.
    RateSurge,
    /// Activity in the consumer's quiet hours, from a new network or far above its rate.
    OffHours,
    /// A network the consumer never used.
    NewOrigin,
    /// A client software (user agent, TLS fingerprint) the consumer never used.
    NewFingerprint,
    /// Server errors far above the baseline, per endpoint or per consumer.
    ErrorSpike,
    /// A response far larger than the endpoint ever returns (exfiltration).
    ResponseSize,
    /// Use of an endpoint no spec documents.
    ShadowEndpointUse,
    /// Use of a deprecated or superseded endpoint.
    ZombieEndpointUse,
    /// Customer data served to a request without any credential.
    UnauthenticatedSensitive,
    /// A request head that front end and back end may frame differently.
    HttpSmuggling,
}

impl AnomalyKind {
    /// Every kind, in the order of the documentation.
    pub const ALL: [AnomalyKind; 13] = [
        AnomalyKind::BolaEnumeration,
        AnomalyKind::CredentialStuffing,
        AnomalyKind::BulkExport,
        AnomalyKind::RateSurge,
        AnomalyKind::OffHours,
        AnomalyKind::NewOrigin,
        AnomalyKind::NewFingerprint,
        AnomalyKind::ErrorSpike,
        AnomalyKind::ResponseSize,
        AnomalyKind::ShadowEndpointUse,
        AnomalyKind::ZombieEndpointUse,
        AnomalyKind::UnauthenticatedSensitive,
        AnomalyKind::HttpSmuggling,
    ];

    /// The stable code.
    pub fn code(self) -> &'static str {
        match self {
            AnomalyKind::BolaEnumeration => "bola_enumeration",
            AnomalyKind::CredentialStuffing => "credential_stuffing",
            AnomalyKind::BulkExport => "bulk_export",
            AnomalyKind::RateSurge => "rate_surge",
            AnomalyKind::OffHours => "off_hours",
            AnomalyKind::NewOrigin => "new_origin",
            AnomalyKind::NewFingerprint => "new_fingerprint",
            AnomalyKind::ErrorSpike => "error_spike",
            AnomalyKind::ResponseSize => "response_size",
            AnomalyKind::ShadowEndpointUse => "shadow_endpoint_use",
            AnomalyKind::ZombieEndpointUse => "zombie_endpoint_use",
            AnomalyKind::UnauthenticatedSensitive => "unauthenticated_sensitive",
            AnomalyKind::HttpSmuggling => "http_smuggling",
        }
    }

    /// A human title for the finding.
    pub fn title(self) -> &'static str {
        match self {
            AnomalyKind::BolaEnumeration => "Object-id enumeration (broken object-level authorization probing)",
            AnomalyKind::CredentialStuffing => "Credential stuffing against login endpoints",
            AnomalyKind::BulkExport => "Bulk export of account data",
            AnomalyKind::RateSurge => "Request rate far above the consumer's baseline",
            AnomalyKind::OffHours => "Activity in the consumer's off hours",
            AnomalyKind::NewOrigin => "Consumer seen from a new network",
            AnomalyKind::NewFingerprint => "Consumer using new client software",
            AnomalyKind::ErrorSpike => "Server error spike",
            AnomalyKind::ResponseSize => "Response far larger than the endpoint's baseline",
            AnomalyKind::ShadowEndpointUse => "Undocumented (shadow) endpoint in use",
            AnomalyKind::ZombieEndpointUse => "Deprecated (zombie) endpoint in use",
            AnomalyKind::UnauthenticatedSensitive => "Sensitive data served without authentication",
            AnomalyKind::HttpSmuggling => "Ambiguous HTTP framing (request smuggling)",
        }
    }

    /// MITRE ATT&CK technique most related, for `finding_info.attacks` (`None` when none
    /// fits).
    pub fn attack(self) -> Option<(&'static str, &'static str, &'static str, &'static str)> {
        // (technique uid, technique name, tactic uid, tactic name)
        match self {
            AnomalyKind::CredentialStuffing => Some(("T1110.004", "Credential Stuffing", "TA0006", "Credential Access")),
            AnomalyKind::BolaEnumeration | AnomalyKind::BulkExport => {
                Some(("T1530", "Data from Cloud Storage", "TA0009", "Collection"))
            }
            AnomalyKind::ResponseSize => Some(("T1567", "Exfiltration Over Web Service", "TA0010", "Exfiltration")),
            AnomalyKind::OffHours | AnomalyKind::NewOrigin => Some(("T1078", "Valid Accounts", "TA0001", "Initial Access")),
            AnomalyKind::HttpSmuggling => Some(("T1190", "Exploit Public-Facing Application", "TA0001", "Initial Access")),
            _ => None,
        }
    }
}

/// Severity, as OCSF `severity_id` 1 to 5.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// 1.
    Informational,
    /// 2.
    Low,
    /// 3.
    Medium,
    /// 4.
    High,
    /// 5.
    Critical,
}

impl Severity {
    /// OCSF `severity_id`.
    pub fn id(self) -> u8 {
        self as u8 + 1
    }

    /// OCSF `severity` caption.
    pub fn caption(self) -> &'static str {
        match self {
            Severity::Informational => "Informational",
            Severity::Low => "Low",
            Severity::Medium => "Medium",
            Severity::High => "High",
            Severity::Critical => "Critical",
        }
    }
}

/// Where a finding is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Lifecycle {
    /// First detection: OCSF activity 1 Create, status New.
    New,
    /// The incident goes on (more requests, higher score or severity): activity 2 Update,
    /// status In Progress.
    Updated,
    /// Quiet for the kind's closing time: activity 3 Close, status Resolved.
    Closed,
}

impl Lifecycle {
    fn activity(self) -> (u8, &'static str) {
        match self {
            Lifecycle::New => (1, "Create"),
            Lifecycle::Updated => (2, "Update"),
            Lifecycle::Closed => (3, "Close"),
        }
    }

    fn status(self) -> (u8, &'static str) {
        match self {
            Lifecycle::New => (1, "New"),
            Lifecycle::Updated => (2, "In Progress"),
            Lifecycle::Closed => (4, "Resolved"),
        }
    }
}

/// The consumer a finding is about: never a credential, only its keyed hash and a label.
/// Deserialises only with a known identity source name.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ConsumerRef {
    /// Keyed hash (16 hex digits).
    pub id: String,
    /// Non-secret label: OAuth client id, certificate organisation, user, or network.
    pub label: String,
    /// Which identity source named it (`client_cert`, `jwt`, ...).
    pub source: &'static str,
    /// PSD2 organisation identifier of its certificate, when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub org_id: Option<String>,
}

/// The endpoint a finding is about. Deserialises only with a known classification name.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct EndpointRef {
    /// Service (host).
    pub service: String,
    /// Method.
    pub method: String,
    /// Path template.
    pub path_template: String,
    /// Inventory class when detected (`documented`, `shadow`, `zombie`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub classification: Option<&'static str>,
}

#[derive(Deserialize)]
struct ConsumerRefIn {
    id: String,
    label: String,
    source: String,
    #[serde(default)]
    org_id: Option<String>,
}

impl<'de> Deserialize<'de> for ConsumerRef {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let r = ConsumerRefIn::deserialize(d)?;
        let source: crate::identity::IdSource = r.source.parse().map_err(serde::de::Error::custom)?;
        Ok(ConsumerRef { id: r.id, label: r.label, source: source.name(), org_id: r.org_id })
    }
}

#[derive(Deserialize)]
struct EndpointRefIn {
    service: String,
    method: String,
    path_template: String,
    #[serde(default)]
    classification: Option<String>,
}

impl<'de> Deserialize<'de> for EndpointRef {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use crate::inventory::Classification;
        let r = EndpointRefIn::deserialize(d)?;
        let classification = match r.classification.as_deref() {
            None => None,
            Some(c) => Some(
                [Classification::Documented, Classification::Shadow, Classification::Zombie, Classification::Orphan]
                    .into_iter()
                    .map(Classification::name)
                    .find(|n| *n == c)
                    .ok_or_else(|| serde::de::Error::custom(format!("endpoint classification {c:?} is unknown")))?,
            ),
        };
        Ok(EndpointRef { service: r.service, method: r.method, path_template: r.path_template, classification })
    }
}

/// One finding event, as detected (the OCSF layout is made by [`Anomaly::to_json`]).
#[derive(Clone, Debug, PartialEq)]
pub struct Anomaly {
    /// Stable finding id (32 hex digits): the same incident keeps it through updates and the
    /// close, and a replay of the same capture with the same key gives the same id.
    pub finding_id: String,
    /// The event's number within its finding: 1 for `new`, one more for each update and the
    /// close. (finding id, version) names one event, so a consumer drops replayed copies.
    pub version: u32,
    /// New, updated or closed.
    pub lifecycle: Lifecycle,
    /// What was found.
    pub kind: AnomalyKind,
    /// How bad.
    pub severity: Severity,
    /// 0 to 100: how far past the threshold (100 = certain).
    pub score: u8,
    /// Packet time of this event (ns): the detection, the update or the close.
    pub time: u64,
    /// Packet time of the first request of the incident (ns).
    pub first_seen: u64,
    /// Packet time of the first detection (ns).
    pub detected: u64,
    /// Packet time of the latest request of the incident (ns).
    pub last_seen: u64,
    /// Requests counted in the incident so far.
    pub count: u64,
    /// Who.
    pub consumer: Option<ConsumerRef>,
    /// The customer behind the consumer (keyed hash), when one request named one.
    pub customer: Option<String>,
    /// The client network (prefix) of the detecting request.
    pub network: Option<String>,
    /// Client address of the detecting request.
    pub client_ip: Option<String>,
    /// Autonomous system and country of that address, from the configured databases.
    pub geo: crate::identity::Geo,
    /// Where.
    pub endpoint: Option<EndpointRef>,
    /// How the detecting request was read: in clear, or decrypted from TLS with a key log.
    /// (No detector works from TLS metadata alone, so never
    /// [`Visibility::Metadata`](crate::inventory::Visibility::Metadata) today.)
    pub visibility: crate::inventory::Visibility,
    /// Observed versus baseline values (detector-specific keys, documented per kind).
    pub evidence: serde_json::Map<String, Value>,
    /// One-line summary for the analyst.
    pub message: String,
    /// The suppression rule the finding opened under: kept and counted, not published as an
    /// alert.
    pub suppressed: Option<crate::tuning::SuppressionMark>,
    /// The analysts' decisions on the finding (from the audit log), set by the shell.
    pub triage: Option<crate::tuning::TriageMark>,
    /// What the finding is about within its consumer, as a stable key (an endpoint, a
    /// network, a user agent); 0 for the consumer as a whole.
    pub subject: u64,
}

/// Identity of the sensor and product in every message.
#[derive(Clone, Debug)]
pub struct Producer {
    /// The sensor id (configured; the host name by default).
    pub sensor_id: String,
    /// Product version.
    pub version: String,
}

fn ms(ns: u64) -> u64 {
    ns / 1_000_000
}

impl Anomaly {
    /// The message: an OCSF 1.3 Detection Finding with apitap's fields under `unmapped`.
    pub fn to_json(&self, producer: &Producer) -> Value {
        let (activity_id, activity_name) = self.lifecycle.activity();
        // OCSF's status 3 is "Suppressed": every event of a suppressed finding carries it.
        let (status_id, status) = if self.suppressed.is_some() { (3, "Suppressed") } else { self.lifecycle.status() };
        let mut finding_info = serde_json::json!({
            "uid": self.finding_id,
            "title": self.kind.title(),
            "desc": self.message,
            "types": [self.kind.code()],
            "first_seen_time": ms(self.first_seen),
            "last_seen_time": ms(self.last_seen),
            "created_time": ms(self.detected),
            "modified_time": ms(self.time),
            "analytic": {
                "name": self.kind.code(),
                "type": "Behavioral",
                "type_id": 2,
                "uid": self.kind.code(),
            },
        });
        if let Some(map) = finding_info.as_object_mut() {
            if let Some((tid, tname, tac, tacname)) = self.kind.attack() {
                map.insert(
                    "attacks".into(),
                    serde_json::json!([{ "technique": { "uid": tid, "name": tname }, "tactic": { "uid": tac, "name": tacname }, "version": "15.1" }]),
                );
            }
        }
        let mut msg = serde_json::json!({
            "class_uid": 2004,
            "class_name": "Detection Finding",
            "category_uid": 2,
            "category_name": "Findings",
            "activity_id": activity_id,
            "activity_name": activity_name,
            "type_uid": 200400 + u32::from(activity_id),
            "type_name": format!("Detection Finding: {activity_name}"),
            "severity_id": self.severity.id(),
            "severity": self.severity.caption(),
            "status_id": status_id,
            "status": status,
            "confidence_score": self.score,
            "time": ms(self.time),
            "message": self.message,
            "count": self.count,
            "start_time": ms(self.first_seen),
            "end_time": ms(self.last_seen),
            "finding_info": finding_info,
            "metadata": {
                "version": OCSF_VERSION,
                "product": { "name": "apitap", "vendor_name": "apitap", "version": producer.version },
                "uid": format!("{}-{}", self.finding_id, ms(self.time)),
                "logged_time": ms(self.time),
            },
        });
        let Some(top) = msg.as_object_mut() else { return msg };
        if let Some(ip) = &self.client_ip {
            let mut src = serde_json::json!({ "ip": ip });
            if let Some(s) = src.as_object_mut() {
                if let Some(asn) = self.geo.asn {
                    let mut a = serde_json::json!({ "number": asn });
                    if let (Some(o), Some(name)) = (a.as_object_mut(), self.geo.as_org.as_deref()) {
                        o.insert("name".into(), Value::String(name.to_string()));
                    }
                    s.insert("autonomous_system".into(), a);
                }
                if let Some(c) = self.geo.country {
                    s.insert("location".into(), serde_json::json!({ "country": c.as_str() }));
                }
            }
            top.insert("src_endpoint".into(), src);
        }
        if let Some(c) = &self.consumer {
            top.insert("actor".into(), serde_json::json!({ "user": { "uid": c.id, "name": c.label, "type": c.source } }));
        }
        if let Some(e) = &self.endpoint {
            top.insert(
                "resources".into(),
                serde_json::json!([{ "type": "API endpoint", "name": format!("{} {}{}", e.method, e.service, e.path_template), "uid": format!("{} {} {}", e.service, e.method, e.path_template) }]),
            );
        }
        let mut observables = Vec::new();
        if let Some(ip) = &self.client_ip {
            observables.push(serde_json::json!({ "name": "src_endpoint.ip", "type": "IP Address", "type_id": 2, "value": ip }));
        }
        if let Some(c) = &self.consumer {
            observables.push(serde_json::json!({ "name": "actor.user.uid", "type": "User", "type_id": 21, "value": c.id }));
        }
        if !observables.is_empty() {
            top.insert("observables".into(), Value::Array(observables));
        }
        let mut unmapped = serde_json::json!({
            "schema_version": ANOMALY_SCHEMA_VERSION,
            "sensor_id": producer.sensor_id,
            "finding_id": self.finding_id,
            "finding_version": self.version,
            "lifecycle": self.lifecycle,
            "kind": self.kind.code(),
            "score": self.score,
            "time": rfc3339(self.time),
            "first_seen": rfc3339(self.first_seen),
            "detected": rfc3339(self.detected),
            "last_seen": rfc3339(self.last_seen),
            "evidence": self.evidence,
            "visibility": self.visibility.name(),
        });
        if let Some(u) = unmapped.as_object_mut() {
            if let Some(c) = &self.consumer {
                u.insert("consumer".into(), serde_json::to_value(c).unwrap_or(Value::Null));
            }
            if let Some(c) = &self.customer {
                u.insert("customer".into(), Value::String(c.clone()));
            }
            if let Some(n) = &self.network {
                u.insert("network".into(), Value::String(n.clone()));
            }
            if let Some(e) = &self.endpoint {
                u.insert("endpoint".into(), serde_json::to_value(e).unwrap_or(Value::Null));
            }
            if let Some(s) = &self.suppressed {
                u.insert("suppressed".into(), serde_json::to_value(s).unwrap_or(Value::Null));
            }
            if self.subject != 0 {
                u.insert("subject".into(), Value::String(format!("{:016x}", self.subject)));
            }
            if let Some(t) = &self.triage {
                u.insert("triage".into(), serde_json::to_value(t).unwrap_or(Value::Null));
            }
        }
        top.insert("unmapped".into(), unmapped);
        msg
    }
}
