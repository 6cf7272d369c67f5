//! The small subset of regular expressions that API specifications use in practice, enough to
//! generate a string a pattern accepts and to check a string against it.
//!
//! Supported: literals and escaped punctuation, `.`, `\d \w \s \D \W \S` (ASCII meaning),
//! classes (`[A-Z0-9]`, negated `[^...]`, escapes inside), groups `( )` and `(?: )`,
//! look-aheads `(?= )` and `(?! )`, alternation `|`, anchors `^` `$`, quantifiers
//! `? * + {n} {n,} {n,m}` (a lazy `?` after them is accepted and ignored). Anything else
//! (look-behind, back-references, Unicode classes, word boundaries...) makes both functions
//! answer `None`: the caller falls back to a plain value.
//!
//! Generation ignores look-aheads; callers check the result with [`matches`] and retry.

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
    Class { items: Vec<Item>, negated: bool },
    Dot,
    Group(Vec<Vec<Piece>>),
    /// A look-ahead: the group must (or, when `negative`, must not) match here; zero-width.
    Look { group: Box<Node>, negative: bool },
    Start,
    End,
}

/// One member of a character class.
#[derive(Debug, Clone)]
enum Item {
    /// Characters inside these ranges (`a-z`, `\d`, `\w`, `\s`).
    In(Vec<(char, char)>),
    /// Every character outside these ranges (`\D`, `\W`, `\S`).
    Outside(Vec<(char, char)>),
}

impl Item {
    fn contains(&self, c: char) -> bool {
        match self {
            Item::In(ranges) => in_ranges(ranges, c),
            Item::Outside(ranges) => !in_ranges(ranges, c),
        }
    }
}

fn in_ranges(ranges: &[(char, char)], c: char) -> bool {
    ranges.iter().any(|(lo, hi)| (*lo..=*hi).contains(&c))
}

fn class_contains(items: &[Item], negated: bool, c: char) -> bool {
    items.iter().any(|i| i.contains(c)) != negated
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
                let mut look = None;
                if self.peek() == Some('?') {
                    self.pos += 1;
                    match self.bump()? {
                        ':' => {}
                        '=' => look = Some(false),
                        '!' => look = Some(true),
                        _ => return None, // look-behind or a named group
                    }
                }
                let alts = self.alternatives(depth + 1)?;
                if self.bump()? != ')' {
                    return None;
                }
                Some(match look {
                    None => Node::Group(alts),
                    Some(negative) => Node::Look { group: Box::new(Node::Group(alts)), negative },
                })
            }
            '[' => self.class(),
            '.' => Some(Node::Dot),
            '^' => Some(Node::Start),
            '$' => Some(Node::End),
            '\\' => match escape(self.bump()?)? {
                Escape::Char(c) => Some(Node::Lit(c)),
                Escape::Item(item) => Some(Node::Class { items: vec![item], negated: false }),
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
        let mut items = Vec::new();
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
                    Escape::Item(item) => {
                        items.push(item);
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
                        Escape::Item(_) => return None,
                    },
                    c => c,
                };
                if hi < lo {
                    return None;
                }
                items.push(Item::In(vec![(lo, hi)]));
            } else {
                items.push(Item::In(vec![(lo, lo)]));
            }
        }
        Some(Node::Class { items, negated })
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
    Item(Item),
}

const DIGIT: &[(char, char)] = &[('0', '9')];
const WORD: &[(char, char)] = &[('A', 'Z'), ('a', 'z'), ('0', '9'), ('_', '_')];
/// Space, tab, line feed, vertical tab, form feed, carriage return.
const SPACE: &[(char, char)] = &[(' ', ' '), ('\t', '\r')];

fn escape(c: char) -> Option<Escape> {
    let item = |ranges: &[(char, char)], inside: bool| Escape::Item(if inside { Item::In(ranges.to_vec()) } else { Item::Outside(ranges.to_vec()) });
    Some(match c {
        'd' | 'D' => item(DIGIT, c == 'd'),
        'w' | 'W' => item(WORD, c == 'w'),
        's' | 'S' => item(SPACE, c == 's'),
        'n' => Escape::Char('\n'),
        't' => Escape::Char('\t'),
        'r' => Escape::Char('\r'),
        c if c.is_ascii_alphanumeric() => return None, // \b, \p, \1, ...
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
        Node::Class { items, negated } => {
            // Letters and digits when the class has any (values stay readable), else any
            // printable ASCII character it holds.
            let member = |b: &u8| class_contains(items, *negated, char::from(*b));
            let mut allowed: Vec<u8> = ALNUM.iter().copied().filter(member).collect();
            if allowed.is_empty() {
                allowed = (b' '..=b'~').filter(member).collect();
            }
            out.push(char::from(*rng.pick(&allowed)?));
        }
        Node::Group(alts) => gen_alts(alts, rng, out)?,
        Node::Look { .. } | Node::Start | Node::End => {}
    }
    Some(())
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
            Node::Class { items, negated } => here.is_some_and(|c| class_contains(items, *negated, c)) && k(self, pos + 1),
            Node::Look { group, negative } => {
                let found = self.node(group, pos, &mut |_: &mut Self, _| true);
                found != *negative && k(self, pos)
            }
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
            // The OB-UK "no leading or trailing blank" idiom.
            (r"^(?!\s)(.*)(\S)$", "key-1", true),
            (r"^(?!\s)(.*)(\S)$", "k", true),
            (r"^(?!\s)(.*)(\S)$", " key", false),
            (r"^(?!\s)(.*)(\S)$", "key\t", false),
            (r"^(?!\s)(.*)(\S)$", "", false),
            (r"^(?=\d)\w+$", "1a", true),
            (r"^(?=\d)\w+$", "a1", false),
            // The Brazilian "anything at all" class.
            (r"[\w\W\s]*", "a b\n!", true),
            (r"^[\w\W\s]{2}$", "!\n", true),
            (r"^\D+$", "abc", true),
            (r"^\D+$", "ab1", false),
            (r"^[^\W_]+$", "ab1", true),
            (r"^[^\W_]+$", "a_b", false),
            // As in ECMAScript: a class escape before "-" makes the "-" literal.
            (r"^[\d-z]$", "-", true),
            (r"^[\d-z]$", "m", false),
        ];
        for (p, s, want) in cases {
            assert_eq!(matches(p, s), Some(*want), "{p} on {s:?}");
        }
    }

    #[test]
    fn unsupported_syntax_is_none() {
        for p in ["(?<=a)b", "\\bword", "a{3,1}", "[z-a]", "(ab", "a)", "\\p{L}", "*a", "(?P<n>a)"] {
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
            r"^(?:[01]\d|2[0123]):(?:[012345]\d)Z$",
            r"[\w\W\s]{1,9}",
            r"^\S+\s\S+$",
            r"^[^\W_]{3}$",
        ];
        let mut rng = Rng::new(77);
        for p in patterns {
            for _ in 0..300 {
                let s = generate(p, &mut rng).unwrap();
                assert_eq!(matches(p, &s), Some(true), "{p} generated {s:?}");
                assert!(s.bytes().all(|b| (b' '..=b'~').contains(&b)), "printable ASCII only: {s:?}");
            }
        }
    }

    #[test]
    fn look_aheads_are_matched_but_not_generated() {
        // Generation ignores the look-ahead, so a caller must check; here half the strings
        // start with a digit and fail it.
        let p = r"^(?!\d)\w{2}$";
        let mut rng = Rng::new(6);
        let verdicts: Vec<bool> = (0..200).map(|_| matches(p, &generate(p, &mut rng).unwrap()).unwrap()).collect();
        assert!(verdicts.contains(&true) && verdicts.contains(&false));
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
