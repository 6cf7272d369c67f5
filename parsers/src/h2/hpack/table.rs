//! The HPACK dynamic table of one direction, as far as it is known.
//!
//! A sensor that joins a connection late has not seen the entries inserted before it came.
//! It still knows the entries inserted after the join: they are the newest, so HPACK index
//! `62 + i` for `i` below their count always means one of them. Older entries are an *unknown
//! tail*: a reference past the known entries yields an unknown field, not an error. The tail
//! is gone for certain once an entry inserted after the join has been evicted (eviction is
//! first in, first out), once the known entries fill the table so that no older entry (32
//! bytes at least) can still fit, or after a size update to 0: from then on the table is in
//! sync, as soon as no known entry has a part taken from an unknown one.
//!
//! Sizes are lower bounds: an entry inserted with a name we could not resolve is counted as
//! if its name were empty. Evicting by lower bounds keeps at least every entry the peer still
//! has (never fewer), so the newest-first indices stay right; entries the peer has already
//! evicted are kept a little longer and simply never referenced.

use std::collections::VecDeque;

/// What RFC 7541 section 4.1 adds to each entry's name and value lengths.
pub(crate) const ENTRY_OVERHEAD: usize = 32;

/// Table size every HTTP/2 endpoint starts with (SETTINGS_HEADER_TABLE_SIZE's initial value).
pub(crate) const DEFAULT_TABLE_SIZE: usize = 4096;

/// One entry; a part is `None` when it could not be known (mid-connection join).
///
/// Values are raw header values (bearer tokens, cookies, keys among them), held only to
/// decode later blocks: `Debug` shows the name and the value's length.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct Entry {
    pub name: Option<Box<[u8]>>,
    pub value: Option<Box<[u8]>>,
    /// RFC size, or a lower bound of it when a part is unknown.
    pub size: usize,
}

impl std::fmt::Debug for Entry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let name = self.name.as_deref().map(String::from_utf8_lossy);
        f.debug_struct("Entry")
            .field("name", &name)
            .field("value_len", &self.value.as_ref().map(|v| v.len()))
            .field("size", &self.size)
            .finish()
    }
}

/// The result of a dynamic-table lookup.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Lookup<'a> {
    Found(&'a Entry),
    /// An entry from before what we know (or evicted by our own cap).
    Unknown,
    /// Past the table with nothing unknown behind it: the stream is corrupt.
    Invalid,
}

/// The dynamic table (newest entry first).
#[derive(Debug)]
pub(crate) struct DynTable {
    entries: VecDeque<Entry>,
    /// Sum of the entries' sizes (lower bound).
    size: usize,
    /// The table size in force, from the last size update; `None` when no update was seen
    /// since a join (then the peer's size is unknown).
    max_size: Option<usize>,
    /// The decoding side's SETTINGS_HEADER_TABLE_SIZE, the bound of any size update.
    setting: usize,
    /// Whether `setting` was seen (or is the initial value of a connection seen from its
    /// start); after a join it is a guess.
    setting_known: bool,
    /// Our own limit (`H2Config::max_table_bytes`).
    cap: usize,
    /// Older entries we do not know may still be in the peer's table.
    unknown_tail: bool,
    /// Entries the peer may still have were dropped by `cap`.
    capped: bool,
    /// Known entries with an unknown part (inserted with the name of an unknown entry).
    partial_entries: usize,
}

impl DynTable {
    /// A table at the start of a connection: empty, 4,096 bytes, in sync.
    pub fn new(cap: usize) -> Self {
        DynTable {
            entries: VecDeque::new(),
            size: 0,
            max_size: Some(DEFAULT_TABLE_SIZE),
            setting: DEFAULT_TABLE_SIZE,
            setting_known: true,
            cap,
            unknown_tail: false,
            capped: false,
            partial_entries: 0,
        }
    }

    /// A table for a connection joined mid-way: nothing known.
    pub fn joined(cap: usize) -> Self {
        let mut t = DynTable::new(cap);
        t.lose();
        t.setting_known = false;
        t
    }

    /// Forgets every entry: bytes of the header stream were lost (gap, a block over a limit,
    /// a decoding error), so the table is no longer known.
    pub fn lose(&mut self) {
        self.entries.clear();
        self.entries.shrink_to_fit();
        self.size = 0;
        self.partial_entries = 0;
        self.max_size = None;
        self.unknown_tail = true;
    }

    /// Older entries than the known ones may exist: the connection turned out to have been
    /// joined after this table started (the known entries stay: they are the newest).
    pub fn assume_joined(&mut self) {
        self.unknown_tail = true;
        self.setting_known = false;
        self.max_size = None;
    }

    /// The connection turned out to have been seen from its start after all: nothing older
    /// than the known entries exists (undoes [`assume_joined`](Self::assume_joined) when no
    /// table change was lost in between).
    pub fn confirm_start(&mut self) {
        self.unknown_tail = false;
        self.setting_known = true;
        if self.max_size.is_none() {
            self.max_size = Some(self.setting.min(DEFAULT_TABLE_SIZE));
            self.evict();
        }
    }

    /// Whether every entry the peer may reference is known, name and value. An entry whose
    /// name was taken from an unknown entry stays unknown until it is evicted, so an encoder
    /// that keeps naming a header by its previous entry keeps that name unknown.
    pub fn in_sync(&self) -> bool {
        !self.unknown_tail && !self.capped && self.partial_entries == 0
    }

    /// The size entries are evicted at: the size in force, or when it is unknown, the largest
    /// it can be (so that no entry the peer still has is evicted), never more than `cap`.
    fn evict_at(&self) -> usize {
        self.max_size.unwrap_or(self.setting.max(DEFAULT_TABLE_SIZE)).min(self.cap)
    }

    /// The size at which older unknown entries are surely gone: the size in force, or the
    /// common default when it is unknown (a presumption, corrected by [`Lookup::Unknown`]
    /// handling when a reference proves it wrong).
    fn sync_at(&self) -> usize {
        self.max_size.unwrap_or(DEFAULT_TABLE_SIZE)
    }

    /// The decoding side announced SETTINGS_HEADER_TABLE_SIZE `value`.
    pub fn set_setting(&mut self, value: usize) {
        self.setting = value;
        self.setting_known = true;
    }

    /// The announced bound, when it is known (for checking size updates).
    pub fn setting(&self) -> Option<usize> {
        self.setting_known.then_some(self.setting)
    }

    /// A dynamic table size update; returns whether it brought the table back in sync.
    pub fn size_update(&mut self, new_max: usize) -> bool {
        self.max_size = Some(new_max);
        self.capped = new_max > self.cap;
        self.evict();
        self.check_sync()
    }

    fn evict(&mut self) {
        let limit = self.evict_at();
        // Eviction is first in, first out: once the peer has evicted an entry inserted after
        // the join, every older one is gone too. Our sizes are lower bounds, so when we evict
        // at the peer's size (not at our smaller cap) the peer has evicted it as well.
        let at_peer_size = self.max_size.unwrap_or(self.setting.max(DEFAULT_TABLE_SIZE)) <= self.cap;
        while self.size > limit {
            match self.entries.pop_back() {
                Some(e) => {
                    self.size = self.size.saturating_sub(e.size);
                    self.partial_entries =
                        self.partial_entries.saturating_sub(usize::from(e.name.is_none() || e.value.is_none()));
                    if at_peer_size {
                        self.unknown_tail = false;
                    }
                }
                None => {
                    self.size = 0;
                    break;
                }
            }
        }
    }

    /// Clears `unknown_tail` when no older entry can be left; returns whether it did.
    fn check_sync(&mut self) -> bool {
        if self.unknown_tail && self.size.saturating_add(ENTRY_OVERHEAD) > self.sync_at() {
            self.unknown_tail = false;
            return true;
        }
        false
    }

    /// Inserts an entry; returns whether the table came back in sync.
    pub fn insert(&mut self, name: Option<Box<[u8]>>, value: Option<Box<[u8]>>, size: usize) -> bool {
        let limit = self.evict_at();
        if size > limit {
            // Larger than the table: it empties the table and is not added (RFC 7541 4.4).
            // When only our cap made it too large, the peer keeps it and we lose track.
            let was_unknown = self.unknown_tail;
            self.entries.clear();
            self.size = 0;
            self.partial_entries = 0;
            let peer_upper = self.max_size.unwrap_or(self.setting.max(DEFAULT_TABLE_SIZE));
            self.unknown_tail = size <= peer_upper;
            return was_unknown && !self.unknown_tail;
        }
        self.partial_entries += usize::from(name.is_none() || value.is_none());
        self.entries.push_front(Entry { name, value, size });
        self.size = self.size.saturating_add(size);
        self.evict();
        self.check_sync()
    }

    /// The entry at dynamic index `i` (0 for HPACK index 62).
    pub fn get(&self, i: usize) -> Lookup<'_> {
        match self.entries.get(i) {
            Some(e) => Lookup::Found(e),
            None if self.unknown_tail || self.capped || self.max_size.is_none() => Lookup::Unknown,
            None => Lookup::Invalid,
        }
    }

    /// A reference past the known entries proved the table out of sync.
    pub fn mark_unknown_tail(&mut self) {
        self.unknown_tail = true;
    }

    /// Heap bytes held (entry payloads and the deque's slots).
    pub fn heap_bytes(&self) -> usize {
        let slots = self.entries.capacity() * std::mem::size_of::<Entry>();
        slots
            + self
                .entries
                .iter()
                .map(|e| e.name.as_ref().map_or(0, |n| n.len()) + e.value.as_ref().map_or(0, |v| v.len()))
                .sum::<usize>()
    }

    /// Number of known entries.
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Sum of entry sizes.
    #[cfg(test)]
    pub fn size(&self) -> usize {
        self.size
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b(s: &str) -> Option<Box<[u8]>> {
        Some(s.as_bytes().into())
    }

    #[test]
    fn eviction_follows_the_size_in_force() {
        let mut t = DynTable::new(1 << 16);
        t.size_update(100);
        // 32 + 10 + 10 = 52 each: the second insert evicts the first.
        t.insert(b("aaaaaaaaaa"), b("bbbbbbbbbb"), 52);
        t.insert(b("cccccccccc"), b("dddddddddd"), 52);
        assert_eq!(t.len(), 1);
        assert_eq!(t.size(), 52);
        assert!(matches!(t.get(0), Lookup::Found(e) if e.name == b("cccccccccc")));
        assert_eq!(t.get(1), Lookup::Invalid);
    }

    #[test]
    fn a_joined_table_syncs_when_full_of_known_entries() {
        let mut t = DynTable::joined(1 << 16);
        assert!(!t.in_sync());
        assert_eq!(t.get(0), Lookup::Unknown);
        let mut synced_at = None;
        for i in 0..100 {
            if t.insert(b("x-k"), b(&"v".repeat(97)), 132) {
                synced_at = Some(i);
                break;
            }
        }
        // 4096 / 132 = 31.03: the 31st entry (4092 bytes) leaves no room for a 32-byte one.
        assert_eq!(synced_at, Some(30));
        assert!(t.in_sync());
    }

    #[test]
    fn a_size_update_to_zero_syncs() {
        let mut t = DynTable::joined(1 << 16);
        assert!(t.size_update(0));
        assert!(t.in_sync());
        assert_eq!(t.get(0), Lookup::Invalid);
    }
}
