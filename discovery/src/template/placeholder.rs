//! The name a parameter position carries, and how names combine when one position sees
//! values of several kinds.
//!
//! A router has one parameter per position, so values of different kinds at one position
//! are one parameter, named by the least general kind covering them all. The names form a
//! tree under `param` (every value): `card` < `int` < `hex` < `token`, `uuid` < `token`,
//! `date` < `datetime`, and `email`, `iban`, `account`, `rest` directly under `param`.
//! Joining is the lowest common ancestor, so it is commutative, associative and idempotent:
//! the order the values arrive in never changes the final name.

use super::SegmentKind;

/// A parameter position's name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Placeholder {
    /// Values of one classified kind (or kinds joined into it).
    Kind(SegmentKind),
    /// Anything: unclassified values of a merged position, or kinds with no closer common
    /// name.
    Any,
    /// The remainder of an over-long path.
    Rest,
}

/// The name of [`Placeholder::Any`] in templates.
pub(crate) const ANY_NAME: &str = "param";
/// The name of [`Placeholder::Rest`] in templates.
pub(crate) const REST_NAME: &str = "rest";

/// The deepest chain in the name tree: card, int, hex, token, param.
const MAX_DEPTH: usize = 5;

impl Placeholder {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Placeholder::Kind(k) => k.name(),
            Placeholder::Any => ANY_NAME,
            Placeholder::Rest => REST_NAME,
        }
    }

    /// The placeholder a template names, if it is one of ours.
    pub(crate) fn from_name(name: &str) -> Option<Placeholder> {
        match name {
            ANY_NAME => Some(Placeholder::Any),
            REST_NAME => Some(Placeholder::Rest),
            other => SegmentKind::from_name(other).map(Placeholder::Kind),
        }
    }

    /// The next more general name; `None` for [`Placeholder::Any`].
    fn parent(self) -> Option<Placeholder> {
        use SegmentKind as K;
        match self {
            Placeholder::Kind(K::CardNumber) => Some(Placeholder::Kind(K::Integer)),
            Placeholder::Kind(K::Integer) => Some(Placeholder::Kind(K::Hex)),
            Placeholder::Kind(K::Hex | K::Uuid) => Some(Placeholder::Kind(K::Token)),
            Placeholder::Kind(K::Date) => Some(Placeholder::Kind(K::DateTime)),
            Placeholder::Kind(K::Token | K::DateTime | K::Email | K::Iban | K::AccountNumber)
            | Placeholder::Rest => Some(Placeholder::Any),
            Placeholder::Any => None,
        }
    }

    /// The least general name covering both.
    pub(crate) fn join(self, other: Placeholder) -> Placeholder {
        let mut ancestors = [Placeholder::Any; MAX_DEPTH];
        let mut n = 0usize;
        let mut cur = Some(self);
        while let Some(p) = cur {
            if let Some(slot) = ancestors.get_mut(n) {
                *slot = p;
                n += 1;
            }
            cur = p.parent();
        }
        let mine = ancestors.get(..n).unwrap_or(&[]);
        let mut cur = Some(other);
        while let Some(p) = cur {
            if mine.contains(&p) {
                return p;
            }
            cur = p.parent();
        }
        Placeholder::Any
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all() -> Vec<Placeholder> {
        let mut v: Vec<Placeholder> = SegmentKind::ALL
            .into_iter()
            .map(Placeholder::Kind)
            .collect();
        v.push(Placeholder::Any);
        v.push(Placeholder::Rest);
        v
    }

    #[test]
    fn join_is_a_semilattice() {
        for a in all() {
            assert_eq!(a.join(a), a);
            assert_eq!(a.join(Placeholder::Any), Placeholder::Any);
            for b in all() {
                assert_eq!(a.join(b), b.join(a), "{a:?} {b:?}");
                for c in all() {
                    assert_eq!(a.join(b).join(c), a.join(b.join(c)), "{a:?} {b:?} {c:?}");
                }
            }
        }
    }

    #[test]
    fn join_names_the_closest_common_kind() {
        let k = |k| Placeholder::Kind(k);
        assert_eq!(
            k(SegmentKind::Integer).join(k(SegmentKind::Hex)),
            k(SegmentKind::Hex)
        );
        assert_eq!(
            k(SegmentKind::CardNumber).join(k(SegmentKind::Integer)),
            k(SegmentKind::Integer)
        );
        assert_eq!(
            k(SegmentKind::Hex).join(k(SegmentKind::Uuid)),
            k(SegmentKind::Token)
        );
        assert_eq!(
            k(SegmentKind::Date).join(k(SegmentKind::DateTime)),
            k(SegmentKind::DateTime)
        );
        assert_eq!(
            k(SegmentKind::Integer).join(k(SegmentKind::Date)),
            Placeholder::Any
        );
        assert_eq!(
            k(SegmentKind::Email).join(k(SegmentKind::Iban)),
            Placeholder::Any
        );
        assert_eq!(
            Placeholder::Rest.join(k(SegmentKind::Token)),
            Placeholder::Any
        );
    }

    #[test]
    fn names_parse_back() {
        for p in all() {
            assert_eq!(Placeholder::from_name(p.name()), Some(p));
        }
        assert_eq!(Placeholder::from_name("AccountId"), None);
    }
}
