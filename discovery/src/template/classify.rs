//! Typed classifiers for one percent-decoded path segment.
//!
//! A classified segment is a parameter value by its shape alone, so the templater turns it
//! into a placeholder the first time it is seen. The classifiers are therefore tuned against
//! false positives: a word, a version or an enumeration value taken for a parameter would
//! merge endpoints that differ, while an identifier they miss is still caught later by the
//! per-position cardinality rules in the tree.

use serde::{Deserialize, Serialize};

use super::banking;
use super::datetime;

/// A path segment the HTTP parser masked (`apitap_parsers::http` writes card numbers in
/// request targets this way).
const MASKED_SEGMENT: &str = "REDACTED";

/// What a path segment is, judged from its text alone.
///
/// The checks run in the order of the variants below and the first that fits wins, so a
/// 16-digit number passing Luhn with a card prefix is a [`SegmentKind::CardNumber`], not an
/// [`SegmentKind::Integer`], and `20240131` (all digits) is an integer, not a date.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SegmentKind {
    /// A UUID of any version (or the nil UUID) in the 8-4-4-4-12 hexadecimal form, either
    /// case, optionally in braces (`{...}`, the Microsoft GUID spelling). The 32-digit form
    /// without hyphens is [`SegmentKind::Hex`].
    Uuid,
    /// A calendar date in ISO 8601 extended form, `YYYY-MM-DD`, with a real day of that month
    /// (leap years included). The basic form `YYYYMMDD` is an [`SegmentKind::Integer`].
    Date,
    /// An ISO 8601 / RFC 3339 date-time: a date, `T` (or `t` or a space), `hh:mm`, optional
    /// `:ss` and fraction, optional `Z` or `±hh:mm` / `±hhmm` / `±hh` offset; or the basic
    /// form `YYYYMMDDThhmm[ss][Z]`.
    DateTime,
    /// An e-mail address: a dot-atom local part of at most 64 characters, `@`, and a domain
    /// of at least two labels whose last one is alphabetic. Quoted local parts and address
    /// literals are not recognised.
    Email,
    /// An IBAN (ISO 13616): a country of the IBAN registry with exactly that country's
    /// length, two check digits and a mod-97 remainder of 1. Either case; spaces between
    /// groups are ignored.
    Iban,
    /// A payment card number: 13 to 19 digits (optionally grouped by single spaces or
    /// hyphens) passing the Luhn check, with an issuer prefix and a length that go together
    /// (Visa `4` with 13, 16 or 19 digits; Mastercard `51`-`55` and `2221`-`2720` with 16;
    /// American Express `34`/`37` with 15; Diners, JCB, Discover, UnionPay, Maestro and Elo
    /// ranges with their lengths). Also the segment `REDACTED`, which is how the HTTP parser
    /// writes a card number in a request target.
    CardNumber,
    /// A bank account number written in a structured form with hyphens: UK sort code and
    /// account (`12-34-56-12345678`, `123456-12345678`), a Brazilian agency, account and
    /// check digit (`0001-1234567-8`, `1234-5-123456-7`, check digits may be `X`) or an
    /// account and check digit (`1234567-8`, at least five account digits). A bare run of
    /// digits, such as a UK 8-digit account number alone, is an [`SegmentKind::Integer`]:
    /// nothing tells it from a numeric id, and one position of numeric ids must not split
    /// into two placeholders by the digit count.
    AccountNumber,
    /// A run of ASCII digits of any length (leading zeros allowed, no sign).
    Integer,
    /// Hexadecimal of one letter case: an even length of at least 8 with at least one digit
    /// and one letter `a`-`f` (object ids, short hashes), or exactly 32, 40 or 64 characters
    /// (MD5, SHA-1, SHA-256) whatever they contain.
    Hex,
    /// An opaque token: a JWT/JWE (`eyJ...` with two or four dots), or at least 12 letters and
    /// digits from the base64/base64url alphabet (`-_.~+=` allowed as separators) with a
    /// digit or both letter cases, at least 8 distinct characters (or half of them, if
    /// fewer: no repeated pattern), that read as random rather than words: either at least
    /// four runs when split at letter/digit and lower/upper-case changes, averaging at most
    /// three characters each, or (with at least 8 letters) letters whose English frequency
    /// is far below that of words (a unigram likelihood test). `pain.001-sepa-credit-transfers`,
    /// `getAccountsV2` and `XMLHttpRequest` are not tokens; random identifiers shorter than
    /// 12 characters, or all in lower case without digits, are not recognised either; about
    /// 0.5 % of random 12-character base-62 strings and 4 to 7 % of base-36 ones are missed,
    /// and a rare identifier made of uncommon letters (`facilypay_10x`, `cnpjCpfNumber`) is
    /// taken for a token.
    Token,
}

impl SegmentKind {
    /// Every kind, in the order [`classify`] tries them.
    pub const ALL: [SegmentKind; 10] = [
        SegmentKind::Uuid,
        SegmentKind::Date,
        SegmentKind::DateTime,
        SegmentKind::Email,
        SegmentKind::Iban,
        SegmentKind::CardNumber,
        SegmentKind::AccountNumber,
        SegmentKind::Integer,
        SegmentKind::Hex,
        SegmentKind::Token,
    ];

    /// The placeholder as spelled in an inferred template: `{int}`, `{uuid}`, `{hex}`,
    /// `{date}`, `{datetime}`, `{email}`, `{iban}`, `{card}`, `{account}` or `{token}`.
    /// The name inside the braces is [`SegmentKind::name`].
    pub fn placeholder(self) -> &'static str {
        match self {
            SegmentKind::Integer => "{int}",
            SegmentKind::Uuid => "{uuid}",
            SegmentKind::Hex => "{hex}",
            SegmentKind::Date => "{date}",
            SegmentKind::DateTime => "{datetime}",
            SegmentKind::Email => "{email}",
            SegmentKind::Iban => "{iban}",
            SegmentKind::CardNumber => "{card}",
            SegmentKind::AccountNumber => "{account}",
            SegmentKind::Token => "{token}",
        }
    }

    /// The placeholder name without braces (`int`, `uuid`, ...), as held by
    /// [`super::TemplateSegment::Param`].
    pub fn name(self) -> &'static str {
        let p = self.placeholder();
        p.strip_prefix('{')
            .and_then(|s| s.strip_suffix('}'))
            .unwrap_or(p)
    }

    /// The kind whose [`SegmentKind::name`] is `name`, if any.
    pub fn from_name(name: &str) -> Option<SegmentKind> {
        SegmentKind::ALL.into_iter().find(|k| k.name() == name)
    }
}

/// The kind of one percent-decoded path segment, or `None` when its text alone does not make
/// it a parameter value (words, versions, enumeration values, short or lower-case-only
/// identifiers). Never panics; linear in the segment length.
pub fn classify(segment: &str) -> Option<SegmentKind> {
    if segment.is_empty() {
        return None;
    }
    if is_uuid(segment) {
        return Some(SegmentKind::Uuid);
    }
    if let Some(kind) = datetime::date_kind(segment) {
        return Some(kind);
    }
    if is_email(segment) {
        return Some(SegmentKind::Email);
    }
    if banking::is_iban(segment) {
        return Some(SegmentKind::Iban);
    }
    // The HTTP parser masks card numbers in targets as `REDACTED` before the inventory sees
    // them: a segment that is exactly that stood for one.
    if segment == MASKED_SEGMENT || banking::is_card_number(segment) {
        return Some(SegmentKind::CardNumber);
    }
    if banking::is_account_number(segment) {
        return Some(SegmentKind::AccountNumber);
    }
    if segment.bytes().all(|b| b.is_ascii_digit()) {
        return Some(SegmentKind::Integer);
    }
    if is_hex(segment) {
        return Some(SegmentKind::Hex);
    }
    if is_token(segment) {
        return Some(SegmentKind::Token);
    }
    None
}

fn is_uuid(s: &str) -> bool {
    let inner = match s.strip_prefix('{') {
        Some(rest) => match rest.strip_suffix('}') {
            Some(inner) => inner,
            None => return false,
        },
        None => s,
    };
    inner.len() == 36
        && inner.bytes().enumerate().all(|(i, b)| match i {
            8 | 13 | 18 | 23 => b == b'-',
            _ => b.is_ascii_hexdigit(),
        })
}

fn is_hex(s: &str) -> bool {
    if !s.bytes().all(|b| b.is_ascii_hexdigit()) {
        return false;
    }
    let lower = s.bytes().any(|b| b.is_ascii_lowercase());
    let upper = s.bytes().any(|b| b.is_ascii_uppercase());
    if lower && upper {
        return false;
    }
    if matches!(s.len(), 32 | 40 | 64) {
        return true;
    }
    let digit = s.bytes().any(|b| b.is_ascii_digit());
    s.len() >= 8 && s.len() % 2 == 0 && digit && (lower || upper)
}

/// Characters of RFC 5322's dot-atom other than letters, digits and the dot.
const EMAIL_LOCAL_SPECIALS: &[u8] = b"!#$%&'*+/=?^_`{|}~-";

fn is_email(s: &str) -> bool {
    let mut parts = s.split('@');
    let (Some(local), Some(domain), None) = (parts.next(), parts.next(), parts.next()) else {
        return false;
    };
    if local.is_empty() || local.len() > 64 || domain.len() > 253 {
        return false;
    }
    let local_ok = local
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'.' || EMAIL_LOCAL_SPECIALS.contains(&b))
        && !local.starts_with('.')
        && !local.ends_with('.')
        && !local.contains("..");
    if !local_ok {
        return false;
    }
    let labels: Vec<&str> = domain.split('.').collect();
    let labels_ok = labels.len() >= 2
        && labels.iter().all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        });
    let tld_ok = labels
        .last()
        .is_some_and(|t| t.len() >= 2 && t.bytes().all(|b| b.is_ascii_alphabetic()));
    labels_ok && tld_ok
}

/// Separators a token may contain (base64url, base64 padding and `+`, JWT dots, `~`).
const TOKEN_SEPARATORS: &[u8] = b"-_.~+=";

/// The fewest letters and digits a token has.
const MIN_TOKEN_ALNUM: usize = 12;

/// Distinct letters and digits a token has: this many, or half its letters and digits if
/// fewer. Random strings of 12 have about 11; `ab1ab1ab1ab1` has 3.
const MIN_TOKEN_DISTINCT: usize = 8;

fn is_token(s: &str) -> bool {
    if is_jwt(s) {
        return true;
    }
    if !s
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || TOKEN_SEPARATORS.contains(&b))
    {
        return false;
    }
    let shape = Shape::of(s);
    let mixed = shape.digit || (shape.upper && shape.lower);
    let varied = shape.distinct >= (shape.alnum / 2).min(MIN_TOKEN_DISTINCT);
    if shape.alnum < MIN_TOKEN_ALNUM || !mixed || !varied || !(shape.upper || shape.lower) {
        return false;
    }
    let short_runs = shape.runs >= 4 && shape.alnum <= 3 * shape.runs;
    let unlike_english = shape.letters >= MIN_SCORED_LETTERS
        && shape.letter_score
            < MAX_TOKEN_LETTER_SCORE
                .saturating_mul(i64::try_from(shape.letters).unwrap_or(i64::MAX));
    short_runs || unlike_english
}

/// `1000 * ln(26 * p)` for each letter `a`..`z`, with `p` its frequency in English text: the
/// log-likelihood ratio, in thousandths of a nat, of English against uniformly random
/// letters. Random letters average -623 per letter, English text +360.
const LETTER_SCORE: [i64; 26] = [
    755, -1091, -323, 102, 1196, -543, -642, 461, 596, -3242, -1607, 49, -466, 564, 671, -688,
    -3699, 445, 500, 859, -330, -1365, -487, -3242, -667, -3949,
];

/// The fewest letters the letter-frequency test is applied to.
const MIN_SCORED_LETTERS: usize = 8;

/// A string whose letters score below this per letter (thousandths of a nat) reads as random
/// letters rather than words. Chosen on the identifiers of the shipped specifications
/// (about 4 500 property names, operation ids and enumeration values, of which 7 fall below,
/// such as `cnpjCpfNumber` and `facilypay_10x`) against random strings (about 70 % below).
const MAX_TOKEN_LETTER_SCORE: i64 = -350;

/// `eyJ` (base64url of `{"`) then base64url parts: header, payload and signature of a JWS
/// (the signature may be empty for `alg: none`), or the five parts of a JWE.
fn is_jwt(s: &str) -> bool {
    if !s.starts_with("eyJ") || s.len() < 16 {
        return false;
    }
    let parts: Vec<&str> = s.split('.').collect();
    let b64url = |p: &&str| {
        p.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    };
    match parts.as_slice() {
        [h, p, sig] => !h.is_empty() && !p.is_empty() && [h, p, sig].iter().all(|x| b64url(x)),
        [_, _, _, _, _] => parts.iter().all(b64url) && parts.first().is_some_and(|h| !h.is_empty()),
        _ => false,
    }
}

/// How a string breaks into runs of one character class: digits, lower-case letters, an
/// upper-case letter followed by lower-case ones (`Accounts`), or upper-case letters (`XML`
/// in `XMLHttp`, where the `H` starts the next run). Separators end runs.
struct Shape {
    alnum: usize,
    letters: usize,
    /// The sum of [`LETTER_SCORE`] over the letters.
    letter_score: i64,
    /// Distinct letters and digits.
    distinct: usize,
    runs: usize,
    digit: bool,
    upper: bool,
    lower: bool,
}

impl Shape {
    fn of(s: &str) -> Shape {
        #[derive(PartialEq, Clone, Copy)]
        enum Class {
            Digit,
            Lower,
            Upper,
            Other,
        }
        let class = |b: u8| {
            if b.is_ascii_digit() {
                Class::Digit
            } else if b.is_ascii_lowercase() {
                Class::Lower
            } else if b.is_ascii_uppercase() {
                Class::Upper
            } else {
                Class::Other
            }
        };
        let bytes = s.as_bytes();
        let mut shape = Shape {
            alnum: 0,
            letters: 0,
            letter_score: 0,
            distinct: 0,
            runs: 0,
            digit: false,
            upper: false,
            lower: false,
        };
        let mut seen = [false; 128];
        let mut prev = Class::Other;
        for (i, &b) in bytes.iter().enumerate() {
            let c = class(b);
            let next = bytes.get(i + 1).map_or(Class::Other, |&n| class(n));
            let starts_run = match (prev, c) {
                (_, Class::Other) => false,
                (Class::Upper, Class::Lower) => false,
                // `XMLHttp`: the last capital before lower case starts the next word.
                (Class::Upper, Class::Upper) => next == Class::Lower,
                (p, c) => p != c,
            };
            if b.is_ascii_alphabetic() {
                shape.letters += 1;
                let score = LETTER_SCORE
                    .get(usize::from(b.to_ascii_lowercase().wrapping_sub(b'a')))
                    .copied()
                    .unwrap_or(0);
                shape.letter_score += score;
            }
            if c != Class::Other {
                shape.alnum += 1;
                if let Some(slot) = seen.get_mut(usize::from(b)) {
                    if !*slot {
                        *slot = true;
                        shape.distinct += 1;
                    }
                }
            }
            if starts_run {
                shape.runs += 1;
            }
            match c {
                Class::Digit => shape.digit = true,
                Class::Lower => shape.lower = true,
                Class::Upper => shape.upper = true,
                Class::Other => {}
            }
            prev = c;
        }
        shape
    }
}

/// The length and character classes of a segment in the token alphabet: what two random
/// identifiers from one generator have in common. See [`super::TemplateConfig::max_shapes_per_param`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Signature {
    len: usize,
    /// Bits: digit, lower-case letter, upper-case letter, separator.
    mask: u8,
}

impl Signature {
    /// A signature from its parts, as a snapshot stores them; `None` for a mask with bits
    /// beyond the four classes.
    pub(crate) fn from_parts(len: usize, mask: u8) -> Option<Signature> {
        (mask & !0b1111 == 0).then_some(Signature { len, mask })
    }

    /// Length and class mask, for a snapshot.
    pub(crate) fn parts(self) -> (usize, u8) {
        (self.len, self.mask)
    }

    /// The signature of `s`, if it is made of token characters only.
    pub(crate) fn of(s: &str) -> Option<Signature> {
        let mut mask = 0u8;
        for b in s.bytes() {
            mask |= match b {
                b'0'..=b'9' => 1,
                b'a'..=b'z' => 2,
                b'A'..=b'Z' => 4,
                _ if TOKEN_SEPARATORS.contains(&b) => 8,
                _ => return None,
            };
        }
        Some(Signature { len: s.len(), mask })
    }

    /// Whether a value of this signature could come from the generator of `recorded`: the
    /// same length, using only character classes `recorded` uses (a random string may lack
    /// digits or one letter range by chance).
    pub(crate) fn fits(self, recorded: Signature) -> bool {
        self.len == recorded.len && self.mask & !recorded.mask == 0
    }

    /// At least [`MIN_TOKEN_ALNUM`] long with at least two of digits, lower-case and
    /// upper-case letters: a shape words rarely have.
    pub(crate) fn is_mixed(self) -> bool {
        let classes = [self.mask & 1 != 0, self.mask & 2 != 0, self.mask & 4 != 0];
        self.len >= MIN_TOKEN_ALNUM && classes.iter().filter(|c| **c).count() >= 2
    }
}

/// Whether an unclassified literal looks like an identifier rather than a word: it contains
/// a digit and is not a version (`v2`, `v4.0`, `2.1`) or words with short numbers
/// (`target-2-payments`, `pain.001-sepa-credit-transfers`). The tree merges positions of such
/// values on less evidence, and never keeps one as a literal when its siblings merge.
pub(crate) fn is_id_like(s: &str) -> bool {
    if !s.bytes().any(|b| b.is_ascii_digit()) {
        return false;
    }
    !(is_version(s) || is_words_with_numbers(s))
}

/// `v1`, `V2`, `v4.0`, `v3.1.11`, `1.0`: an optional `v` and dot-separated numbers of at
/// most three digits.
fn is_version(s: &str) -> bool {
    let rest = s.strip_prefix(['v', 'V']).unwrap_or(s);
    !rest.is_empty()
        && rest
            .split('.')
            .all(|p| !p.is_empty() && p.len() <= 3 && p.bytes().all(|b| b.is_ascii_digit()))
}

/// Pieces split at `-`, `_`, `.` and `~`, each all letters or at most three digits, with at
/// least one of letters.
fn is_words_with_numbers(s: &str) -> bool {
    let mut has_word = false;
    for piece in s.split(['-', '_', '.', '~']) {
        if !piece.is_empty() && piece.chars().all(char::is_alphabetic) {
            has_word = true;
        } else if piece.is_empty() || piece.len() > 3 || !piece.bytes().all(|b| b.is_ascii_digit())
        {
            return false;
        }
    }
    has_word
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_have_their_documented_spelling() {
        let spelled: Vec<&str> = SegmentKind::ALL.iter().map(|k| k.placeholder()).collect();
        assert_eq!(
            spelled,
            [
                "{uuid}",
                "{date}",
                "{datetime}",
                "{email}",
                "{iban}",
                "{card}",
                "{account}",
                "{int}",
                "{hex}",
                "{token}"
            ]
        );
        assert_eq!(SegmentKind::CardNumber.name(), "card");
        for k in SegmentKind::ALL {
            assert_eq!(SegmentKind::from_name(k.name()), Some(k));
        }
        assert_eq!(SegmentKind::from_name("param"), None);
    }

    #[test]
    fn shape_splits_camel_case_and_acronyms() {
        let s = Shape::of("XMLHttpRequest");
        assert_eq!((s.alnum, s.runs), (14, 3));
        let s = Shape::of("getAccountsV2");
        assert_eq!((s.alnum, s.runs), (13, 4));
        let s = Shape::of("aB3dE5fG7hJ9");
        assert_eq!((s.alnum, s.runs), (12, 12));
        let s = Shape::of("pain.001-sepa");
        assert_eq!((s.alnum, s.runs), (11, 3));
    }

    #[test]
    fn id_likeness_spares_versions_and_numbered_words() {
        for id in [
            "user42",
            "a1b2c3",
            "ORD-2024-000123",
            "0001-1234567-8x",
            "oauth2callback",
        ] {
            assert!(is_id_like(id), "{id} is id-like");
        }
        for word in [
            "me",
            "v1",
            "v4.0",
            "v3.1.11",
            "2.1",
            "target-2-payments",
            "pain.001-sepa-credit-transfers",
            "USD",
            "accounts",
        ] {
            assert!(!is_id_like(word), "{word} is not id-like");
        }
    }

    #[test]
    fn uuid_with_and_without_braces() {
        assert!(is_uuid("{123e4567-e89b-12d3-a456-426614174000}"));
        assert!(!is_uuid("{123e4567-e89b-12d3-a456-426614174000"));
        assert!(!is_uuid("123e4567-e89b-12d3-a456-42661417400g"));
    }
}
