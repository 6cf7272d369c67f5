//! Which bodies get the full analysis. Analysing a body (JSON shape, sensitive-data detectors)
//! is the costliest part of observing a transaction, and once an endpoint's bodies are known
//! most of them repeat what is known. So each endpoint and direction keeps a [`BodySampler`]:
//! every body is analysed in full until the endpoint's bodies have shown nothing new for
//! [`SamplingConfig::stable_bodies`] bodies in a row; after that one transaction in
//! [`SamplingConfig::one_in`] is analysed in full, and the others get a cheap skim
//! ([`crate::content::skim_body`]: the same JSON scanner without the detectors) that still
//! takes the object ids from every response and checks whether the body could show
//! something new. A body that could is analysed in full, whatever the sample says.
//!
//! # What is new (the skim's check)
//! - a `(path, type)` pair of the JSON shape that the endpoint's shape does not hold (a new
//!   field anywhere in the document, or a known field with a new type: `null` turning into a
//!   string), unless the endpoint's shape is full (`max_shape_fields`);
//! - a size class not seen in an analysed body (lengths by powers of two: a body twice as
//!   large as any seen before holds more than the known fields' usual values);
//! - a media type not seen in an analysed body (at most [`MAX_SAMPLED_MEDIA`] remembered;
//!   past that every body of a new type is analysed).
//!
//! A full analysis that adds a shape pair or a kind of sensitive value not seen before on the
//! endpoint starts the count of stable bodies again, so the bodies after a finding are
//! analysed in full for a while.
//!
//! # Always analysed in full
//! Every body when sampling is off ([`SamplingConfig::enabled`], for audits); a response to a
//! request without any credential that succeeded (the unauthenticated-sensitive-data finding
//! and detector need its count); form bodies (cheap, and they carry credentials and payment
//! fields); HTML and binary bodies (their analysis costs nothing).
//!
//! # The guarantee, and what it is not
//! A sensitive value in a field the endpoint has never shown (or never shown with that type)
//! is found in the first body that carries it. A sensitive value that appears only sometimes
//! in a field whose path and type are always the same (a free-text note that now and then
//! holds a card number) is found when a body carrying it is sampled: with one body in `K`
//! analysed, a value present in one body in `M` is expected after about `K × M` bodies, and
//! never missed for good while it keeps appearing. The same holds for text bodies (no shape:
//! only size class and media type are checked).
//!
//! What changes when sampling is on: the per-endpoint counts of sensitive values count
//! those in analysed bodies only (the kinds found are what matters), `Shape::dropped` counts
//! fields dropped from analysed bodies, and `Observed::response_sensitive` is 0 for a body
//! that was not analysed. Unchanged: the shape (up to a 64-bit hash collision between a new
//! pair and a known one, which delays the new pair until a sampled body shows it), the JSON
//! and truncated body counts, and the object ids of every response.
//!
//! Determinism: the sample is a pure function of the transaction's packet time ([`picked`]),
//! and the rest of the decision depends on the endpoint's state, which lives with the
//! inventory; so the results are the same whichever thread analysed which body, and
//! whatever the number of workers.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::observe::{AuthKind, Observation};
use super::stats::Shape;
use super::{InventoryConfig, InventoryStats};
use crate::content::{analyze_body, body_kind, shape_key, skim_body, BodyFacts, BodyKind, BodySkim, ContentLimits, SensitiveKind};

/// How bodies are sampled (`[inventory]` keys `sample_bodies`, `sample_after_stable_bodies`,
/// `sample_one_in`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SamplingConfig {
    /// Sampling on; off analyses every body in full (an audit, at several times the CPU).
    /// Default on.
    pub enabled: bool,
    /// Bodies of an endpoint and direction that must show nothing new in a row before
    /// sampling starts (and again after anything new). Default 32.
    pub stable_bodies: u32,
    /// Once stable, one transaction in this many has its bodies analysed in full; 1 analyses
    /// every body. Default 16.
    pub one_in: u32,
}

impl Default for SamplingConfig {
    fn default() -> Self {
        SamplingConfig { enabled: true, stable_bodies: 32, one_in: 16 }
    }
}

/// Media types remembered per endpoint and direction as seen in analysed bodies.
pub const MAX_SAMPLED_MEDIA: usize = 8;

/// The sampling state of one endpoint and direction, as persisted in the inventory snapshot.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct BodySampler {
    /// Bodies in a row that showed nothing new.
    pub stable: u32,
    /// Size classes of analysed bodies: bit `n` set when a body of `2^(n-1)` to `2^n - 1`
    /// bytes was analysed (bit 0: never, bodies are not empty; bit 31: 1 GiB and more).
    pub size_classes: u32,
    /// Media types of analysed bodies, lower case without parameters (`""` for none), at
    /// most [`MAX_SAMPLED_MEDIA`].
    pub media: Vec<String>,
}

/// A [`BodySampler`] with the index of the endpoint's shape the skim is checked against.
#[derive(Clone, Debug, Default)]
pub struct Sampling {
    /// The persisted state.
    pub state: BodySampler,
    /// The low 32 bits of [`shape_key`] of every `(path, type)` pair of the endpoint's shape,
    /// ascending: 4 bytes per pair (at most `max_shape_fields` paths times 7 types: 7 KiB per
    /// endpoint and direction at the defaults, a few hundred bytes in practice). A new pair
    /// that shares its 32 bits with a known one waits for a sampled body. `None` when it must
    /// be rebuilt (the shape gained pairs, merged or was restored).
    known: Option<Vec<u32>>,
}

impl Sampling {
    /// From persisted state (the index is rebuilt when first needed).
    pub fn restore(mut state: BodySampler) -> Self {
        state.media.truncate(MAX_SAMPLED_MEDIA);
        Sampling { state, known: None }
    }

    /// Folds another endpoint's state in (templating merged the two): what either analysed
    /// is known, and the merged endpoint counts as stable only as far as both were.
    pub(super) fn merge(&mut self, other: &Sampling) {
        self.state.stable = self.state.stable.min(other.state.stable);
        self.state.size_classes |= other.state.size_classes;
        for m in &other.state.media {
            if self.state.media.len() < MAX_SAMPLED_MEDIA && !self.state.media.contains(m) {
                self.state.media.push(m.clone());
            }
        }
        self.known = None;
    }

    /// Whether a body could show something the endpoint's analysed bodies have not.
    fn is_new(&mut self, skim: &BodySkim, content_type: Option<&str>, len: usize, shape: &Shape, max_fields: usize) -> bool {
        if self.state.size_classes & size_class(len) == 0 {
            return true;
        }
        let media = essence(content_type);
        if !self.state.media.iter().any(|m| m.eq_ignore_ascii_case(media)) {
            return true;
        }
        if skim.keys.is_empty() || shape.fields.len() >= max_fields {
            return false;
        }
        let known = self.known.get_or_insert_with(|| {
            let mut k: Vec<u32> = shape.fields.iter().flat_map(|(p, types)| types.iter().map(move |t| shape_key(p, *t) as u32)).collect();
            k.sort_unstable();
            k
        });
        skim.keys.iter().any(|k| known.binary_search(&(*k as u32)).is_err())
    }

    /// Notes an analysed body; `news` says it showed something new.
    fn learn(&mut self, content_type: Option<&str>, len: usize, news: bool, shape_grew: bool) {
        self.state.size_classes |= size_class(len);
        let media = essence(content_type);
        if self.state.media.len() < MAX_SAMPLED_MEDIA && !self.state.media.iter().any(|m| m.eq_ignore_ascii_case(media)) {
            self.state.media.push(media.to_ascii_lowercase());
        }
        self.state.stable = if news { 0 } else { self.state.stable.saturating_add(1) };
        if shape_grew {
            self.known = None;
        }
    }
}

/// The size class bit of a body length (see [`BodySampler::size_classes`]).
fn size_class(len: usize) -> u32 {
    let bits = usize::BITS - len.leading_zeros();
    1u32 << bits.min(31)
}

/// A content type's media type without parameters or blanks (case kept).
fn essence(content_type: Option<&str>) -> &str {
    content_type.and_then(|ct| ct.split(';').next()).map_or("", str::trim)
}

/// Whether the transaction at packet time `ts` is in the one-in-`one_in` sample (always when
/// sampling is off). A pure function of the transaction, so that a worker thread computing
/// bodies ahead and the inventory agree on it. SplitMix64's finaliser spreads packet times
/// that share their low bits (microsecond clocks) evenly.
pub fn picked(cfg: &SamplingConfig, ts: u64) -> bool {
    if !cfg.enabled || cfg.one_in <= 1 {
        return true;
    }
    let mut z = ts.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^= z >> 31;
    z % u64::from(cfg.one_in) == 0
}

/// Whether a response is analysed in full whatever its endpoint's state: a successful answer
/// to a request that carried no credential (its sensitive values are a finding of their own).
pub(super) fn forced_response(auth: AuthKind, status: Option<u16>) -> bool {
    auth == AuthKind::None && status.is_some_and(|s| (200..300).contains(&s))
}

/// What the sampling decision and body analysis need of a transaction, all from the
/// transaction alone (a worker thread has no inventory).
#[derive(Clone, Copy, Debug)]
pub struct BodyInput<'a> {
    /// Packet time of the request, as [`Observation::ts`].
    pub ts: u64,
    /// How the request authenticated.
    pub auth: AuthKind,
    /// Final status code.
    pub status: Option<u16>,
    /// Request `Content-Type`.
    pub request_content_type: Option<&'a str>,
    /// The first bytes of the decoded request body.
    pub request_body: &'a [u8],
    /// Response `Content-Type`.
    pub response_content_type: Option<&'a str>,
    /// The first bytes of the decoded response body.
    pub response_body: &'a [u8],
}

impl<'a> BodyInput<'a> {
    /// The body facts of an observation.
    pub fn of(obs: &Observation<'a>) -> Self {
        BodyInput {
            ts: obs.ts,
            auth: obs.auth,
            status: obs.status,
            request_content_type: obs.request_content_type,
            request_body: obs.request_body,
            response_content_type: obs.response_content_type,
            response_body: obs.response_body,
        }
    }
}

/// One body worked on ahead: its full facts when the transaction is sampled (or the body
/// must be analysed anyway), else its skim.
#[derive(Clone, Debug)]
pub(super) enum PreparedBody {
    Facts(BodyFacts),
    Skim(BodySkim),
}

/// The work on a transaction's bodies that does not need the inventory, done away from it:
/// body analysis is a pure function of the bytes and the configuration, and the costliest
/// part of observing a transaction, so a worker thread can do it while the inventory's owner
/// merges. It holds the full analysis of the bodies of a sampled transaction (and of those
/// always analysed), the skim of the others; the inventory completes what its endpoint's
/// state asks for, so the result is the same as computing everything there.
#[derive(Clone, Debug, Default)]
pub struct PreparedBodies {
    request: Option<PreparedBody>,
    response: Option<PreparedBody>,
}

impl PreparedBodies {
    /// The work [`super::Inventory::observe_prepared`] would do on these bodies under `cfg`
    /// before consulting the endpoint.
    pub fn compute(cfg: &InventoryConfig, input: &BodyInput<'_>) -> Self {
        let pick = picked(&cfg.sampling, input.ts);
        let forced = pick || forced_response(input.auth, input.status);
        PreparedBodies {
            request: prepare(pick, input.request_content_type, input.request_body, &request_limits(cfg)),
            response: prepare(forced, input.response_content_type, input.response_body, &response_limits(cfg)),
        }
    }
}

fn prepare(full: bool, content_type: Option<&str>, body: &[u8], limits: &ContentLimits) -> Option<PreparedBody> {
    if body.is_empty() {
        return None;
    }
    Some(if full || always_full(kind_of(content_type, body, limits)) {
        PreparedBody::Facts(analyze_body(content_type, body, limits))
    } else {
        PreparedBody::Skim(skim_body(content_type, body, limits))
    })
}

/// Bodies whose full analysis is never skipped: forms are short and carry credentials and
/// payment fields; HTML and binary bodies are not scanned at all.
fn always_full(kind: BodyKind) -> bool {
    matches!(kind, BodyKind::Form | BodyKind::Skip)
}

/// The kind of the part of a body the analysis reads.
fn kind_of(content_type: Option<&str>, body: &[u8], limits: &ContentLimits) -> BodyKind {
    body_kind(content_type, body.get(..limits.max_bytes).unwrap_or(body))
}

/// The limits request bodies are analysed under.
pub(super) fn request_limits(cfg: &InventoryConfig) -> ContentLimits {
    cfg.content
}

/// The limits response bodies are analysed under: object ids up to `max_object_ids`.
pub(super) fn response_limits(cfg: &InventoryConfig) -> ContentLimits {
    ContentLimits { max_ids: cfg.max_object_ids, ..cfg.content }
}

/// The prepared work of one transaction, split by direction.
pub(super) fn split(prepared: Option<PreparedBodies>) -> (Option<Option<PreparedBody>>, Option<Option<PreparedBody>>) {
    match prepared {
        Some(p) => (Some(p.request), Some(p.response)),
        None => (None, None),
    }
}

/// Where one direction's body facts are kept on an endpoint.
pub(super) struct Side<'a> {
    pub shape: &'a mut Shape,
    pub sensitive: &'a mut BTreeMap<SensitiveKind, u64>,
    pub sampling: &'a mut Sampling,
}

/// One body to account for.
pub(super) struct Body<'a> {
    pub content_type: Option<&'a str>,
    pub bytes: &'a [u8],
    pub limits: ContentLimits,
    /// The transaction is in the sample.
    pub picked: bool,
    /// Analysed in full whatever the endpoint's state.
    pub forced: bool,
    /// The work done ahead on a worker thread: `None` when none was (the outer `Option`) or
    /// the body was empty there (the inner one, which cannot happen for a non-empty body).
    pub prepared: Option<Option<PreparedBody>>,
}

/// What became of a body.
pub(super) struct Taken {
    /// Sensitive values found (0 when not analysed).
    pub sensitive: u32,
    /// Its object ids, analysed or not.
    pub object_ids: Vec<String>,
}

/// Decides whether a non-empty body is analysed in full, analyses it or skims it (unless a
/// worker did), and adds what it showed to the endpoint's side and the counters.
pub(super) fn take(cfg: &InventoryConfig, side: Side<'_>, mut body: Body<'_>, counters: &mut InventoryStats) -> Taken {
    let sc = &cfg.sampling;
    let max_fields = cfg.max_shape_fields;
    let kind = kind_of(body.content_type, body.bytes, &body.limits);
    let settled = !always_full(kind) && sc.enabled && !body.forced && !body.picked && side.sampling.state.stable >= sc.stable_bodies;
    let analyse = |b: &Body<'_>| analyze_body(b.content_type, b.bytes, &b.limits);
    let (facts, skim) = match body.prepared.take().flatten() {
        Some(PreparedBody::Facts(f)) => {
            let skim = BodySkim::of_facts(kind, &f);
            (Some(f), skim)
        }
        Some(PreparedBody::Skim(s)) => (None, s),
        None if !settled => {
            let f = analyse(&body);
            let skim = BodySkim::of_facts(kind, &f);
            (Some(f), skim)
        }
        None => (None, skim_body(body.content_type, body.bytes, &body.limits)),
    };
    let news = side.sampling.is_new(&skim, body.content_type, body.bytes.len(), side.shape, max_fields);
    side.shape.json_bodies += u64::from(skim.json);
    side.shape.truncated_bodies += u64::from(skim.truncated);
    if settled && !news {
        counters.bodies_sampled_out += 1;
        side.sampling.state.stable = side.sampling.state.stable.saturating_add(1);
        return Taken { sensitive: 0, object_ids: skim.object_ids };
    }
    let facts = facts.unwrap_or_else(|| analyse(&body));
    counters.bodies_analysed += 1;
    let mut shape_grew = false;
    for (path, ty) in &facts.shape {
        shape_grew |= side.shape.add(path, *ty, max_fields);
    }
    let mut new_kind = false;
    for (kind, n) in &facts.sensitive {
        let count = side.sensitive.entry(*kind).or_insert_with(|| {
            new_kind = true;
            0
        });
        *count += u64::from(*n);
    }
    side.sampling.learn(body.content_type, body.bytes.len(), news || shape_grew || new_kind, shape_grew);
    let sensitive = facts.sensitive.iter().fold(0u32, |a, (_, n)| a.saturating_add(*n));
    Taken { sensitive, object_ids: facts.object_ids }
}
