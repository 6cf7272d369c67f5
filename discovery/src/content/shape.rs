//! The set of `(path, type)` pairs of one body, bounded, in order of first appearance.

use std::collections::HashMap;

use super::JsonType;

/// Distinct pairs in first-seen order. The map answers "seen before?" without allocating;
/// only a new pair allocates (its path, twice).
#[derive(Default)]
pub(crate) struct Shape {
    entries: Vec<(String, JsonType)>,
    /// Path to the bit set of the types seen at it.
    seen: HashMap<String, u8>,
    dropped: u32,
    too_long: u32,
}

/// Values not recorded, by reason.
pub(crate) struct Counts {
    pub dropped: u32,
    pub too_long: u32,
}

fn bit(ty: JsonType) -> u8 {
    match ty {
        JsonType::Null => 1,
        JsonType::Bool => 2,
        JsonType::Integer => 4,
        JsonType::Number => 8,
        JsonType::String => 16,
        JsonType::Object => 32,
        JsonType::Array => 64,
    }
}

impl Shape {
    /// Records `ty` at `path` unless the pair is known; a new pair past `max` is counted as
    /// dropped instead.
    pub fn insert(&mut self, path: &str, ty: JsonType, max: usize) {
        let full = self.entries.len() >= max;
        match self.seen.get_mut(path) {
            Some(mask) if *mask & bit(ty) != 0 => {}
            Some(_) | None if full => self.dropped = self.dropped.saturating_add(1),
            Some(mask) => {
                *mask |= bit(ty);
                self.entries.push((path.to_owned(), ty));
            }
            None => {
                self.seen.insert(path.to_owned(), bit(ty));
                self.entries.push((path.to_owned(), ty));
            }
        }
    }

    /// Counts a value whose path was too long to record.
    pub fn path_too_long(&mut self) {
        self.too_long = self.too_long.saturating_add(1);
    }

    pub fn counts(&self) -> Counts {
        Counts { dropped: self.dropped, too_long: self.too_long }
    }

    pub fn into_entries(self) -> Vec<(String, JsonType)> {
        self.entries
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pairs_are_kept_once_in_first_seen_order_up_to_the_limit() {
        let mut s = Shape::default();
        s.insert("a", JsonType::String, 3);
        s.insert("a", JsonType::String, 3);
        s.insert("b", JsonType::Integer, 3);
        s.insert("a", JsonType::Null, 3);
        s.insert("c", JsonType::Bool, 3);
        s.insert("a", JsonType::Null, 3);
        s.insert("a", JsonType::Bool, 3);
        assert_eq!(s.counts().dropped, 2);
        assert_eq!(
            s.into_entries(),
            vec![("a".to_string(), JsonType::String), ("b".to_string(), JsonType::Integer), ("a".to_string(), JsonType::Null)]
        );
    }
}
