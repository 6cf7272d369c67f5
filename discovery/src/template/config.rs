//! The templater's limits and thresholds, its counters and its events.

use serde::{Deserialize, Serialize};

use super::Template;

/// Limits and merge thresholds of one [`super::PathTemplater`]. Every limit bounds memory the
/// network can grow; hitting one bumps a [`TemplaterStats`] counter and emits a
/// [`TemplateEvent`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TemplateConfig {
    /// The most tree nodes one templater holds (default 8192; at least 1, the root). A node
    /// is one distinct literal or parameter at one position; a node costs about 150 bytes plus
    /// its literal's text, so the default is about 1.2 MB plus at most
    /// `max_nodes * max_segment_len` bytes of text. When a path needs a node beyond the
    /// limit, that segment and the rest of the path are folded: each becomes its
    /// classified placeholder or `{param}`, nothing is learned from them, and
    /// [`TemplateEvent::NodeLimitReached`] is emitted. Merges free nodes, so folding stops
    /// once a merge makes room.
    pub max_nodes: usize,
    /// The most distinct literal values one position tracks before it is a parameter
    /// (default 128, above the roughly 60 currency codes or enumeration values a position
    /// plausibly has, below the 180 ISO currencies). A new value beyond it merges the
    /// position at once ([`MergeReason::PositionLimit`]); values that stand out survive as
    /// usual.
    pub max_literals_per_position: usize,
    /// The most segments of one path that are templated (default 32, at most
    /// [`super::MAX_SEGMENTS_CEILING`]). The remainder of a longer path becomes one `{rest}`
    /// parameter and [`TemplateEvent::PathTruncated`] is emitted.
    pub max_segments: usize,
    /// The longest unclassified segment, in bytes, kept as a literal (default 256). A longer
    /// one that no classifier recognises is a `{param}` value at once and
    /// [`TemplateEvent::SegmentTooLong`] is emitted.
    pub max_segment_len: usize,
    /// A position merges when this many distinct values were first seen in the later half of
    /// its hits (default 32; 0 disables the rule). A fixed set of `K` values, however they
    /// are distributed, is expected to produce at most `K / 4` such values (a value of
    /// probability `p` is first seen in the later half of `n` hits with probability
    /// `x - x^2`, `x = (1 - p)^(n/2)`, at most a quarter), so sets of up to about 60 values
    /// stay literal however long they are watched (tested for 30 and 60, uniform and
    /// skewed), sets of 100 or more may merge, and identifiers that keep arriving merge
    /// after about twice this many hits.
    pub merge_min_new_values: u32,
    /// The same rule counted only over identifier-like values (a digit, and neither a
    /// version like `v4.0` nor words with short numbers like `target-2-payments`): a position
    /// merges when this many of them were first seen in the later half of its hits (default
    /// 8; 0 disables the rule). Identifier-like values rarely form an enumeration, so less
    /// evidence is needed.
    pub merge_min_new_id_values: u32,
    /// When a position merges, a literal stays a literal only if it is not identifier-like
    /// and has at least this many hits (default 4)...
    pub survivor_min_hits: u64,
    /// ...and at least this many times the median hits of the position's literals
    /// (default 4): `me` among one-hit usernames survives, one of many similar usernames
    /// does not.
    pub survivor_factor: u64,
    /// The most value shapes (length and character classes) a `{token}` position records
    /// (default 16). An unclassified segment of the length of a recorded shape, using only
    /// its character classes (digits, lower-case and upper-case letters, separators), at
    /// least 12 long and mixing at least two of digits, lower-case and upper-case letters,
    /// is a value of that parameter rather than a new literal: it catches the random
    /// identifiers that happen to read like words to the token classifier (about 0.5 % of
    /// them), at the cost of also taking a camelCase word of exactly the identifiers' length
    /// (`accountsExport` next to 14-character ids) for one. When the shapes are
    /// full, new ones are not recorded; the first time, [`TemplateEvent::ParamShapesFull`] is
    /// emitted, and each shape not recorded is counted.
    pub max_shapes_per_param: usize,
    /// The most events queued for [`super::PathTemplater::poll_event`] (default 256). When
    /// the queue is full a new event is dropped and counted in
    /// [`TemplaterStats::events_dropped`].
    pub max_pending_events: usize,
}

impl Default for TemplateConfig {
    fn default() -> Self {
        TemplateConfig {
            max_nodes: 8192,
            max_literals_per_position: 128,
            max_segments: 32,
            max_segment_len: 256,
            merge_min_new_values: 32,
            merge_min_new_id_values: 8,
            survivor_min_hits: 4,
            survivor_factor: 4,
            max_shapes_per_param: 16,
            max_pending_events: 256,
        }
    }
}

/// Counters of one templater since it was created.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TemplaterStats {
    /// Tree nodes held now (including the root), at most [`TemplateConfig::max_nodes`].
    pub nodes: usize,
    /// Paths passed to [`super::PathTemplater::observe`].
    pub paths_observed: u64,
    /// Positions that turned from literals into a parameter.
    pub positions_merged: u64,
    /// Of those, merges forced by [`TemplateConfig::max_literals_per_position`].
    pub merges_at_position_limit: u64,
    /// Literal values folded into a parameter by merges (their subtrees were merged too).
    pub literals_absorbed: u64,
    /// Parameter positions whose name became more general (e.g. `int` to `hex`).
    pub params_widened: u64,
    /// Observed paths partly folded because [`TemplateConfig::max_nodes`] was reached.
    pub paths_folded_at_node_limit: u64,
    /// Observed paths longer than [`TemplateConfig::max_segments`].
    pub paths_truncated: u64,
    /// Observed unclassified segments longer than [`TemplateConfig::max_segment_len`].
    pub segments_too_long: u64,
    /// Value shapes of `{token}` positions not recorded because
    /// [`TemplateConfig::max_shapes_per_param`] were.
    pub param_shapes_dropped: u64,
    /// Events dropped because [`TemplateConfig::max_pending_events`] were queued.
    pub events_dropped: u64,
}

/// Why a position became a parameter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MergeReason {
    /// New values kept arriving ([`TemplateConfig::merge_min_new_values`] or
    /// [`TemplateConfig::merge_min_new_id_values`]).
    NewValues,
    /// A new value beyond [`TemplateConfig::max_literals_per_position`].
    PositionLimit,
    /// The position received the subtree of a position that had merged (its parent merged
    /// and combined its children).
    Combined,
}

/// Something that happened inside a templater, for telemetry. Events are queued (bounded
/// by [`TemplateConfig::max_pending_events`]) and taken with
/// [`super::PathTemplater::poll_event`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum TemplateEvent {
    /// A position became a parameter: templates through it change, the generation moved.
    PositionMerged {
        /// The template of the path up to the position (the position itself excluded).
        prefix: Template,
        /// Why it merged.
        reason: MergeReason,
        /// Literal values folded into the parameter.
        absorbed: usize,
        /// Literal values kept because they stand out.
        kept: usize,
    },
    /// A parameter position's name became more general; the generation moved.
    ParamWidened {
        /// The template of the path up to the position.
        prefix: Template,
        /// The name before.
        from: String,
        /// The name now.
        to: String,
    },
    /// A path needed a node beyond [`TemplateConfig::max_nodes`]; its remainder was folded.
    NodeLimitReached {
        /// The template of the path up to the first folded segment.
        prefix: Template,
        /// The limit.
        max_nodes: usize,
    },
    /// A `{token}` position recorded [`TemplateConfig::max_shapes_per_param`] value shapes;
    /// further shapes are counted, not recorded.
    ParamShapesFull {
        /// The template of the path up to the position.
        prefix: Template,
        /// The limit.
        max_shapes: usize,
    },
    /// A path had more than [`TemplateConfig::max_segments`] segments.
    PathTruncated {
        /// Its segment count.
        segments: usize,
        /// The limit.
        max_segments: usize,
    },
    /// An unclassified segment longer than [`TemplateConfig::max_segment_len`] was made a
    /// parameter.
    SegmentTooLong {
        /// The template of the path up to the segment.
        prefix: Template,
        /// Its length in bytes.
        len: usize,
        /// The limit.
        max_segment_len: usize,
    },
}
