//! The small subset of regular expressions that API specifications use in practice, enough to
//! generate a string a pattern accepts and to check a string against it.
//!
//! Supported: literals and escaped punctuation, `.`, `\d`, `\w`, `\s`, classes (`[A-Z0-9]`,
//! negated `[^...]`, escapes inside), groups `( )` and `(?: )`, alternation `|`, anchors `^`
//! `$`, quantifiers `? * + {n} {n,} {n,m}` (a lazy `?` after them is accepted and ignored).
//! Anything else (look-around, back-references, Unicode classes, `\D`...) makes both
//! functions answer `None`: the caller falls back to a plain value.

use crate::simulate::rng::{Rng, ALNUM};

/// Repetitions beyond the minimum that generation adds at most for `*`, `+` and `{n,}`.
const OPEN_EXTRA: u32 = 3;
/// Longest pattern text parsed (longer ones are treated as unsupported).
const MAX_PATTERN: usize = 512;
/// Backtracking steps a match may take before it gives up with `None`.
const MAX_STEPS: u32 = 200_000;
/// A quantifier's upper bound when it has none.
const UNBOUNDED: u32 = u32::MAX;

#[derive(Debug, Clone)]
enum Node {
    Lit(char),
    Class { ranges: Vec<(char, char)>, negated: bool },
    Dot,
    Group(Vec<Vec<Piece>>),
    Start,
    End,
}

#[derive(Debug, Clone)]
struct Piece {
    node: Node,
    min: u32,
    max: u32,
}

struct Parser {
    chars: Vec<char>,
    pos: usize,
}

impl Parser {
    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }

    fn bump(&mut self) -> Option<char> {
        let c = self.peek();
        self.pos += 1;
        c
    }

    fn alternatives(&mut self, depth: usize) -> Option<Vec<Vec<Piece>>> {
        if depth > 16 {
            return None;
        }
        let mut alts = vec![self.sequence(depth)?];
        while self.peek() == Some('|') {
            self.pos += 1;
            alts.push(self.sequence(depth)?);
        }
        Some(alts)
    }

    fn sequence(&mut self, depth: usize) -> Option<Vec<Piece>> {
        let mut seq = Vec::new();
        while let Some(c) = self.peek() {
            if c == '|' || c == ')' {
                break;
            }
            let node = self.atom(depth)?;
            let (min, max) = self.quantifier()?;
            seq.push(Piece { node, min, max });
        }
        Some(seq)
    }

    fn atom(&mut self, depth: usize) -> Option<Node> {
        match self.bump()? {
            '(' => {
                if self.peek() == Some('?') {
                    self.pos += 1;
                    if self.bump()? != ':' {
                        return None; // look-around or a named group
                    }
                }
                let alts = self.alternatives(depth + 1)?;
                (self.bump()? == ')').then_some(Node::Group(alts))
            }
            '[' => self.class(),
            '.' => Some(Node::Dot),
            '^' => Some(Node::Start),
            '$' => Some(Node::End),
            '\\' => match escape(self.bump()?)? {
                Escape::Char(c) => Some(Node::Lit(c)),
                Escape::Ranges(ranges) => Some(Node::Class { ranges, negated: false }),
            },
            '*' | '+' | '?' | '{' | ')' | ']' => None,
            c => Some(Node::Lit(c)),
        }
    }

    fn class(&mut self) -> Option<Node> {
        let negated = self.peek() == Some('^');
        if negated {
            self.pos += 1;
        }
        let mut ranges = Vec::new();
        let mut first = true;
        loop {
            let c = self.bump()?;
            if c == ']' && !first {
                break;
            }
            first = false;
            let lo = if c == '\\' {
                match escape(self.bump()?)? {
                    Escape::Char(c) => c,
                    Escape::Ranges(r) => {
                        ranges.extend(r);
                        continue;
                    }
                }
            } else {
                c
            };
            let is_range = self.peek() == Some('-') && self.chars.get(self.pos + 1).is_some_and(|n| *n != ']');
            if is_range {
                self.pos += 1;
                let hi = match self.bump()? {
                    '\\' => match escape(self.bump()?)? {
                        Escape::Char(c) => c,
                        Escape::Ranges(_) => return None,
                    },
                    c => c,
                };
                if hi < lo {
                    return None;
                }
                ranges.push((lo, hi));
            } else {
                ranges.push((lo, lo));
            }
        }
        Some(Node::Class { ranges, negated })
    }

    fn quantifier(&mut self) -> Option<(u32, u32)> {
        let q = match self.peek() {
            Some('?') => (0, 1),
            Some('*') => (0, UNBOUNDED),
            Some('+') => (1, UNBOUNDED),
            Some('{') => {
                let close = self.chars.iter().skip(self.pos).position(|c| *c == '}')? + self.pos;
                let body: String = self.chars.get(self.pos + 1..close)?.iter().collect();
                let (min, max) = match body.split_once(',') {
                    None => {
                        let n = body.trim().parse().ok()?;
                        (n, n)
                    }
                    Some((a, b)) if b.trim().is_empty() => (a.trim().parse().ok()?, UNBOUNDED),
                    Some((a, b)) => (a.trim().parse().ok()?, b.trim().parse().ok()?),
                };
                if max < min {
                    return None;
                }
                self.pos = close; // the shared step below passes the '}'
                (min, max)
            }
            _ => return Some((1, 1)),
        };
        self.pos += 1;
        if self.peek() == Some('?') {
            self.pos += 1; // lazy: the same language
        }
        Some(q)
    }
}

enum Escape {
    Char(char),
    Ranges(Vec<(char, char)>),
}

fn escape(c: char) -> Option<Escape> {
    Some(match c {
        'd' => Escape::Ranges(vec![('0', '9')]),
        'w' => Escape::Ranges(vec![('A', 'Z'), ('a', 'z'), ('0', '9'), ('_', '_')]),
        's' => Escape::Ranges(vec![(' ', ' ')]),
        'n' => Escape::Char('\n'),
        't' => Escape::Char('\t'),
        c if c.is_ascii_alphanumeric() => return None, // \D, \b, \p, \1, ...
        c => Escape::Char(c),
    })
}

fn parse(pattern: &str) -> Option<Vec<Vec<Piece>>> {
    if pattern.len() > MAX_PATTERN {
        return None;
    }
    let mut p = Parser { chars: pattern.chars().collect(), pos: 0 };
    let alts = p.alternatives(0)?;
    (p.pos == p.chars.len()).then_some(alts)
}

/// A string the whole of which matches `pattern` (so an unanchored search matches too), or
/// `None` when the pattern uses syntax outside the supported subset. Open repetitions add at
/// most three items beyond their minimum.
pub fn generate(pattern: &str, rng: &mut Rng) -> Option<String> {
    let alts = parse(pattern)?;
    let mut out = String::new();
    gen_alts(&alts, rng, &mut out)?;
    Some(out)
}

fn gen_alts(alts: &[Vec<Piece>], rng: &mut Rng, out: &mut String) -> Option<()> {
    // An alternative that is only an anchor pair (`^$`) would make an empty string; prefer
    // the others, as a value generator should.
    let non_empty: Vec<&Vec<Piece>> = alts.iter().filter(|s| s.iter().any(|p| !matches!(p.node, Node::Start | Node::End))).collect();
    let seq = match rng.pick(&non_empty) {
        Some(s) => *s,
        None => alts.first()?,
    };
    for piece in seq {
        let hi = if piece.max == UNBOUNDED { piece.min.saturating_add(OPEN_EXTRA) } else { piece.max };
        let n = rng.range(i64::from(piece.min), i64::from(hi));
        for _ in 0..n {
            gen_node(&piece.node, rng, out)?;
        }
    }
    Some(())
}

fn gen_node(node: &Node, rng: &mut Rng, out: &mut String) -> Option<()> {
    match node {
        Node::Lit(c) => out.push(*c),
        Node::Dot => out.push(char::from(*rng.pick(ALNUM)?)),
        Node::Class { ranges, negated: false } => {
            let sizes: Vec<f64> = ranges.iter().map(|(lo, hi)| f64::from(u32::from(*hi) - u32::from(*lo) + 1)).collect();
            let (lo, hi) = ranges.get(rng.weighted(&sizes)?)?;
            let c = rng.range(i64::from(u32::from(*lo)), i64::from(u32::from(*hi)));
            out.push(char::from_u32(u32::try_from(c).ok()?)?);
        }
        Node::Class { ranges, negated: true } => {
            let allowed: Vec<u8> = ALNUM.iter().copied().filter(|b| !in_ranges(ranges, char::from(*b))).collect();
            out.push(char::from(*rng.pick(&allowed)?));
        }
        Node::Group(alts) => gen_alts(alts, rng, out)?,
        Node::Start | Node::End => {}
    }
    Some(())
}

fn in_ranges(ranges: &[(char, char)], c: char) -> bool {
    ranges.iter().any(|(lo, hi)| (*lo..=*hi).contains(&c))
}

/// Whether `pattern` finds a match in `text` (unanchored search, as JSON Schema means it);
/// `None` for unsupported syntax or a match that would take too many steps.
pub fn matches(pattern: &str, text: &str) -> Option<bool> {
    let alts = parse(pattern)?;
    let chars: Vec<char> = text.chars().collect();
    let mut m = Matcher { s: &chars, steps: 0 };
    let group = Node::Group(alts);
    for start in 0..=chars.len() {
        if m.node(&group, start, &mut |_: &mut Matcher<'_>, _| true) {
            return Some(true);
        }
        if m.steps > MAX_STEPS {
            return None;
        }
    }
    Some(false)
}

struct Matcher<'a> {
    s: &'a [char],
    steps: u32,
}

impl Matcher<'_> {
    fn seq(&mut self, seq: &[Piece], pos: usize, k: &mut dyn FnMut(&mut Self, usize) -> bool) -> bool {
        match seq.split_first() {
            None => k(self, pos),
            Some((p, rest)) => self.rep(p, 0, pos, &mut |m: &mut Self, q| m.seq(rest, q, k)),
        }
    }

    fn rep(&mut self, p: &Piece, count: u32, pos: usize, k: &mut dyn FnMut(&mut Self, usize) -> bool) -> bool {
        self.steps += 1;
        if self.steps > MAX_STEPS {
            return false;
        }
        // Greedy: one more repetition first; an extra repetition must consume something, or an
        // empty group under `*` would loop forever.
        if count < p.max && self.node(&p.node, pos, &mut |m: &mut Self, q| (count < p.min || q != pos) && m.rep(p, count + 1, q, k)) {
            return true;
        }
        count >= p.min && k(self, pos)
    }

    fn node(&mut self, node: &Node, pos: usize, k: &mut dyn FnMut(&mut Self, usize) -> bool) -> bool {
        let here = self.s.get(pos).copied();
        match node {
            Node::Lit(c) => here == Some(*c) && k(self, pos + 1),
            Node::Dot => here.is_some_and(|c| c != '\n') && k(self, pos + 1),
            Node::Class { ranges, negated } => here.is_some_and(|c| in_ranges(ranges, c) != *negated) && k(self, pos + 1),
            Node::Start => pos == 0 && k(self, pos),
            Node::End => pos == self.s.len() && k(self, pos),
            Node::Group(alts) => alts.iter().any(|seq| self.seq(seq, pos, k)),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
    use super::*;

    const AMOUNT: &str = r"^\d{1,13}$|^\d{1,13}\.\d{1,5}$";

    #[test]
    fn matcher_agrees_with_hand_written_cases() {
        let cases: &[(&str, &str, bool)] = &[
            (AMOUNT, "123.45", true),
            (AMOUNT, "7", true),
            (AMOUNT, "1.", false),
            (AMOUNT, "12345678901234", false),
            (AMOUNT, "-1.00", false),
            (AMOUNT, "1.123456", false),
            ("^[A-Z]{3,3}$", "GBP", true),
            ("^[A-Z]{3,3}$", "GBPX", false),
            ("^[A-Z]{3,3}$", "gbp", false),
            ("[A-Z]{2}", "xxGBxx", true), // unanchored search
            ("^(\\+|-)?\\d+(\\.\\d{1,2})?$", "-12.5", true),
            ("^(\\+|-)?\\d+(\\.\\d{1,2})?$", "+12.", false),
            ("^[^0-9]+$", "abc", true),
            ("^[^0-9]+$", "ab1", false),
            ("^a*$", "", true),
            ("^(a|)*$", "aaa", true),
            ("^.{1,5}$", "abcdef", false),
        ];
        for (p, s, want) in cases {
            assert_eq!(matches(p, s), Some(*want), "{p} on {s:?}");
        }
    }

    #[test]
    fn unsupported_syntax_is_none() {
        for p in ["(?=a)b", "\\D+", "a{3,1}", "[z-a]", "(ab", "a)", "\\p{L}", "*a"] {
            assert_eq!(matches(p, "a"), None, "{p}");
            assert_eq!(generate(p, &mut Rng::new(1)), None, "{p}");
        }
    }

    #[test]
    fn generated_strings_match_their_pattern() {
        let patterns = [
            AMOUNT,
            "^[A-Z]{3,3}$",
            "^[A-Z]{2,2}$",
            "^-?\\d{1,3}\\.\\d{1,8}$",
            "^[A-Z0-9]{8}([A-Z0-9]{3})?$",
            "^\\+[0-9]{1,3}-[0-9()+\\-]{1,30}$",
            "[a-z]+@[a-z]+\\.com",
            "^(?:UK|IE)\\.[A-Za-z_]+$",
            "^[^\\s]{4}$",
        ];
        let mut rng = Rng::new(77);
        for p in patterns {
            for _ in 0..300 {
                let s = generate(p, &mut rng).unwrap();
                assert_eq!(matches(p, &s), Some(true), "{p} generated {s:?}");
            }
        }
    }

    #[test]
    fn amount_alternatives_both_appear() {
        let mut rng = Rng::new(5);
        let all: Vec<String> = (0..100).map(|_| generate(AMOUNT, &mut rng).unwrap()).collect();
        assert!(all.iter().any(|s| s.contains('.')) && all.iter().any(|s| !s.contains('.')));
    }

    #[test]
    fn hostile_patterns_are_bounded() {
        let evil = "^(a+)+$";
        let text = format!("{}b", "a".repeat(40));
        assert_ne!(matches(evil, &text), Some(true));
        assert_eq!(matches(&"a".repeat(MAX_PATTERN + 1), "a"), None);
    }
}
