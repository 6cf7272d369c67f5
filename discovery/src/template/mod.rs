//! Path templating for traffic no spec covers (typed segment classifiers and per-position
//! cardinality).
//!
//! A [`PathTemplater`] per service (Host) learns concrete paths, given as percent-decoded
//! segments ([`split_path`]), and returns templates such as `/customers/{param}/orders` or
//! `/payments/sepa-credit-transfers/{uuid}`. It is sans-IO: paths in, templates, counters and
//! events out; no clock (the rules count hits, not time) and no randomness.
//!
//! # The algorithm
//!
//! **Classified values.** [`classify()`] recognises a segment that is a parameter value by its
//! shape alone (integers, UUIDs, hex, dates and date-times, e-mails, IBANs, card numbers,
//! structured account numbers, opaque tokens; see [`SegmentKind`]). Such a segment becomes
//! its placeholder the first time it is seen, whatever its position's history.
//!
//! **The tree.** Every other segment is a literal. The tree has one node per position,
//! keyed by the template of the path before it, so `/customers/alice/orders` and
//! `/customers/bob/orders` share the nodes of `/customers` and, once `{param}` stands for
//! the customer, of `/customers/{param}`. A node keeps its literal values (with hit counts
//! and when each was first seen) and at most one parameter: a router has one parameter per
//! position, so values of several kinds at one position share it, named by the closest
//! common kind (`int` and `hex` make `hex`, `uuid` and `hex` make `token`, `int` and `date`
//! make `param`).
//!
//! **Merging.** A position turns from literals into a parameter (it *merges*) when its
//! values keep arriving new, which identifiers, user names and opaque slugs do and a fixed
//! vocabulary does not:
//! - *new values*: at least [`TemplateConfig::merge_min_new_values`] (32) distinct values were
//!   first seen during the later half of the position's literal hits, or at least
//!   [`TemplateConfig::merge_min_new_id_values`] (8) identifier-like ones (with a digit, not a
//!   version or numbered words). Counting in the later half rather than overall keeps a
//!   fixed set from merging while it is being discovered: a set of `K` values, whatever
//!   its distribution, is expected to show at most `K / 4` values first seen in the later
//!   half, so 30 to 60 currency codes or a handful of Berlin Group payment products hit
//!   thousands of times stay literals (sets of 100 or more may merge), while fresh slugs
//!   merge after about 64 hits and identifier-like ones after about 16;
//! - *position limit*: a new value beyond [`TemplateConfig::max_literals_per_position`] (128)
//!   merges the position at once, which also catches identifiers that repeat too much for
//!   the first rule (each id used 20 times).
//!
//! **Token shapes.** A `{token}` position remembers the shapes (length and character
//! classes) of its values. A random identifier that happens to read like words to the
//! token classifier (about 1 in 200) but has the length and classes of those values is a
//! value of that parameter, not a new literal; if it came first, it is moved into the
//! parameter when the shape is learnt (as long as it is rare: fewer than
//! [`TemplateConfig::survivor_min_hits`] hits).
//!
//! When a position merges, a literal *survives* (stays a literal) if it is not
//! identifier-like and has at least [`TemplateConfig::survivor_min_hits`] hits and
//! [`TemplateConfig::survivor_factor`] times the median hits of the position's values: `me`
//! with 1000 hits among 500 one-hit user names survives, `/users/me` stays next to
//! `/users/{param}`. The others are *absorbed*: their subtrees are merged into the
//! parameter's subtree (counts added, same literals combined, recursively), which can in turn
//! merge a deeper position, and their nodes are freed. A merged position sends every new
//! unclassified value to its parameter.
//!
//! **Changing templates.** A template returned earlier can become stale when a position
//! merges or a parameter name widens. Both move [`PathTemplater::generation`]; a caller
//! keying data by template then maps its keys through [`PathTemplater::refine`], which is
//! idempotent, and combines those that became equal.
//!
//! **Memory.** Bounded by [`TemplateConfig`]: at most `max_nodes` nodes per templater (a
//! path needing more is folded from that segment on into placeholders, counted and
//! reported, and not learned), `max_literals_per_position` literals per position,
//! `max_segments` segments per path (the remainder is one `{rest}`), `max_segment_len` bytes
//! per literal (a longer unclassified segment is a `{param}` value), `max_shapes_per_param`
//! token shapes per parameter and `max_pending_events` queued events. A scanner walking
//! random paths makes the root merge after a few dozen requests and each deeper position
//! soon after: 100 000 random paths up to six deep peak at about 200 nodes and leave a few
//! dozen. A vocabulary built so that no position ever merges (20 words at each of five
//! levels) is what `max_nodes` is for. Every limit hit bumps a [`TemplaterStats`] counter
//! and queues a [`TemplateEvent`].
//!
//! **Cost.** One [`PathTemplater::observe`] classifies each segment (linear in its length)
//! and looks it up in an ordered map (logarithmic in the position's literals, at most
//! `max_literals_per_position`); adding a new literal also counts the position's recent
//! values (linear in its literals). A merge walks the absorbed subtrees once.
//!
//! # Not handled
//!
//! - Parameters inside a segment (`report-2024.json`, `a-123`, `items;v=2` matrix
//!   parameters, `file.json` extensions): a segment is classified whole, so these are literals
//!   until their position merges, and then the whole segment is the parameter.
//! - Un-merging: a merge is final. A literal that becomes popular after its position merged
//!   is a parameter value; a rarely used fixed word next to an identifier position (a
//!   shadow endpoint hit five times among thousands of ids) is absorbed when the position
//!   merges.
//! - Small identifier sets: a position whose identifiers are unclassified (short, all lower
//!   case, words) and few (fewer than about 16 identifier-like or 64 word-like distinct
//!   values in its history, nor more than 128) stays literal: one template per value.
//! - Word-like values popular enough to survive a merge (`alice` with many times the median
//!   hits) stay literals.
//! - A camelCase word of exactly the length of its sibling tokens (`accountsExport` next to
//!   14-character ids) is taken for one of them unless it was already popular; a rare
//!   identifier of uncommon letters (`facilypay_10x`) is a `{token}`.
//! - Classified fixed segments: a route segment that happens to look like a value (`/api/2/`,
//!   a date-versioned `/2024-06-01/`) is a parameter at once.
//! - Time: the rules count hits, so a week-old value counts as much as a new one.
//! - Case: `/Users` and `/users` are different literals.
//!
//! # Persistence
//!
//! [`PathTemplater::snapshot`] writes the learnt tree, generation, counters and queued events
//! as plain data ([`TemplaterSnapshot`]); [`PathTemplater::restore`] checks it as hostile
//! input and carries on exactly where the snapshot left off: the same paths then give the
//! same templates as they would have without the restart. A snapshot restored under a
//! smaller `max_nodes` than it holds, or a deeper tree than `max_segments`, is refused rather
//! than cut (a cut tree would template differently).

mod banking;
mod classify;
mod config;
mod datetime;
mod path;
mod placeholder;
mod tree;

pub use classify::{classify, SegmentKind};
pub use config::{MergeReason, TemplateConfig, TemplateEvent, TemplaterStats};
pub use path::{split_path, Template, TemplateSegment};
pub use tree::{LiteralSnapshot, NodeSnapshot, ParamSnapshot, PathTemplater, TemplaterSnapshot, MAX_SEGMENTS_CEILING};
