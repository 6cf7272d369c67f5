//! Path templates compiled into segment patterns, and how one request segment is tested
//! against a pattern.

use crate::openapi::Schema;

/// What a parameter accepts, from its schema.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Constraint {
    /// Any non-empty text.
    Any,
    /// Exactly one of these strings (case-sensitive).
    Enum(Vec<String>),
    /// A decimal integer equal to one of these.
    IntEnum(Vec<i64>),
    /// An optional sign and one or more ASCII digits, of any length.
    Integer,
    /// A decimal number: optional sign, digits with an optional fraction, optional exponent.
    Number,
    /// `true` or `false`, ASCII case-insensitive.
    Boolean,
    /// A UUID in its canonical 8-4-4-4-12 hexadecimal form, either case.
    Uuid,
    /// Any of these alternatives (`oneOf` / `anyOf`); never holds [`Constraint::Any`].
    OneOf(Vec<Constraint>),
}

/// How specific a constraint is; higher is more specific. Parameters rank below literals and
/// below segments with embedded literals except for enumerations, which are finite sets of
/// literals and so rank just under a literal.
const CLASS_LITERAL: u32 = 5 << 16;
const CLASS_ENUM: u32 = 4 << 16;
const CLASS_EMBEDDED: u32 = 3 << 16;
const CLASS_TYPED: u32 = 2 << 16;
const CLASS_ANY: u32 = 1 << 16;

impl Constraint {
    /// The constraint a path parameter's schema imposes. Schemas that do not restrict a path
    /// segment in a way matching can use (strings with a `pattern` or length limits, objects,
    /// arrays, anything unknown) accept any segment.
    pub(crate) fn from_schema(schema: &Schema) -> Constraint {
        match schema {
            Schema::String { enumeration, .. } if !enumeration.is_empty() => {
                Constraint::Enum(enumeration.clone())
            }
            Schema::String {
                format: Some(f), ..
            } if f.eq_ignore_ascii_case("uuid") => Constraint::Uuid,
            Schema::Integer { enumeration, .. } if !enumeration.is_empty() => {
                Constraint::IntEnum(enumeration.clone())
            }
            Schema::Integer { .. } => Constraint::Integer,
            Schema::Number { .. } => Constraint::Number,
            Schema::Boolean => Constraint::Boolean,
            Schema::OneOf(alternatives) => {
                let mut out = Vec::with_capacity(alternatives.len());
                for alternative in alternatives {
                    match Constraint::from_schema(alternative) {
                        // One open alternative opens the whole parameter.
                        Constraint::Any => return Constraint::Any,
                        c => out.push(c),
                    }
                }
                if out.is_empty() {
                    Constraint::Any
                } else {
                    Constraint::OneOf(out)
                }
            }
            Schema::String { .. } | Schema::Object { .. } | Schema::Array { .. } | Schema::Any => {
                Constraint::Any
            }
        }
    }

    /// Whether `value` (non-empty, checked by the caller) satisfies the constraint.
    pub(crate) fn accepts(&self, value: &str) -> bool {
        match self {
            Constraint::Any => true,
            Constraint::Enum(values) => values.iter().any(|v| v == value),
            Constraint::IntEnum(values) => {
                is_integer(value) && value.parse::<i64>().is_ok_and(|n| values.contains(&n))
            }
            Constraint::Integer => is_integer(value),
            Constraint::Number => is_number(value),
            Constraint::Boolean => {
                value.eq_ignore_ascii_case("true") || value.eq_ignore_ascii_case("false")
            }
            Constraint::Uuid => is_uuid(value),
            Constraint::OneOf(alternatives) => alternatives.iter().any(|c| c.accepts(value)),
        }
    }

    fn class(&self) -> u32 {
        match self {
            Constraint::Any => CLASS_ANY,
            Constraint::Enum(_) | Constraint::IntEnum(_) => CLASS_ENUM,
            Constraint::Integer | Constraint::Number | Constraint::Boolean | Constraint::Uuid => {
                CLASS_TYPED
            }
            Constraint::OneOf(alternatives) => alternatives
                .iter()
                .map(Constraint::class)
                .min()
                .unwrap_or(CLASS_ANY),
        }
    }
}

fn is_integer(value: &str) -> bool {
    let digits = value.strip_prefix(['+', '-']).unwrap_or(value);
    !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit())
}

fn is_number(value: &str) -> bool {
    let unsigned = value.strip_prefix(['+', '-']).unwrap_or(value);
    let (mantissa, exponent) = match unsigned.find(['e', 'E']) {
        Some(at) => (unsigned.get(..at).unwrap_or(""), unsigned.get(at + 1..)),
        None => (unsigned, None),
    };
    let (whole, fraction) = match mantissa.split_once('.') {
        Some((w, f)) => (w, Some(f)),
        None => (mantissa, None),
    };
    let all_digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    let mantissa_ok = all_digits(whole)
        && fraction.is_none_or(all_digits)
        && (!whole.is_empty() || fraction.is_some_and(|f| !f.is_empty()));
    mantissa_ok && exponent.is_none_or(is_integer)
}

fn is_uuid(value: &str) -> bool {
    value.len() == 36
        && value.bytes().enumerate().all(|(i, b)| match i {
            8 | 13 | 18 | 23 => b == b'-',
            _ => b.is_ascii_hexdigit(),
        })
}

/// One part of a segment that holds parameters.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Piece {
    /// Text that must appear as written.
    Lit(String),
    /// A parameter: one or more characters satisfying the constraint.
    Param(Constraint),
}

/// A segment holding at least one parameter, e.g. `{id}`, `{name}.json`, `{a}-{b}`. Two
/// parameters are never adjacent (the parser refuses that), so literals separate them.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct SegmentPattern {
    pieces: Vec<Piece>,
}

impl SegmentPattern {
    /// Whether `segment` matches. Each parameter takes at least one character. Where a
    /// literal between two parameters occurs several times, only its leftmost occurrence is
    /// tried (so `{a}-{b}` on `x-y-z` gives `a = x`), which keeps matching linear in the
    /// segment length whatever the input.
    pub(crate) fn matches(&self, segment: &str) -> bool {
        let mut rest = segment;
        let mut pieces = self.pieces.iter().peekable();
        while let Some(piece) = pieces.next() {
            match piece {
                Piece::Lit(lit) => match rest.strip_prefix(lit.as_str()) {
                    Some(after) => rest = after,
                    None => return false,
                },
                Piece::Param(constraint) => {
                    let Some(first) = rest.chars().next() else {
                        return false;
                    };
                    let value = match pieces.next() {
                        None => std::mem::take(&mut rest),
                        Some(Piece::Lit(lit)) if pieces.peek().is_none() => {
                            // The last literal is a suffix: anchor it at the end.
                            let Some(value) = rest.strip_suffix(lit.as_str()) else {
                                return false;
                            };
                            rest = "";
                            value
                        }
                        Some(Piece::Lit(lit)) => {
                            let skip = first.len_utf8();
                            let Some(at) = rest.get(skip..).and_then(|r| r.find(lit.as_str()))
                            else {
                                return false;
                            };
                            let end = skip.saturating_add(at);
                            let (Some(value), Some(after)) =
                                (rest.get(..end), rest.get(end.saturating_add(lit.len())..))
                            else {
                                return false;
                            };
                            rest = after;
                            value
                        }
                        // Adjacent parameters are refused when parsing.
                        Some(Piece::Param(_)) => return false,
                    };
                    if value.is_empty() || !constraint.accepts(value) {
                        return false;
                    }
                }
            }
        }
        rest.is_empty()
    }

    /// The specificity of this segment (higher wins).
    fn rank(&self) -> u32 {
        match self.pieces.as_slice() {
            [Piece::Param(c)] => c.class(),
            pieces => {
                let literal_len: usize = pieces
                    .iter()
                    .map(|p| match p {
                        Piece::Lit(l) => l.len(),
                        Piece::Param(_) => 0,
                    })
                    .sum();
                CLASS_EMBEDDED + u32::try_from(literal_len.min(0xFFFF)).unwrap_or(0xFFFF)
            }
        }
    }
}

/// One segment of a compiled template.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Segment {
    /// Matches exactly this text (case-sensitive).
    Literal(String),
    /// Holds parameters.
    Pattern(SegmentPattern),
}

impl Segment {
    /// The specificity of this segment (higher wins).
    pub(crate) fn rank(&self) -> u32 {
        match self {
            Segment::Literal(_) => CLASS_LITERAL,
            Segment::Pattern(p) => p.rank(),
        }
    }
}

/// Why a template does not parse.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TemplateError {
    /// 1-based segment number.
    pub(crate) segment: usize,
    /// What is wrong.
    pub(crate) reason: &'static str,
}

/// The segments of a request path or template: the leading `/` removed and one trailing `/`
/// ignored, so `/` has none and `/a//b` has an empty middle segment. `None` when the text
/// does not start with `/`.
pub(crate) fn split_path(path: &str) -> Option<std::str::Split<'_, char>> {
    let body = path.strip_prefix('/')?;
    let body = body.strip_suffix('/').unwrap_or(body);
    let mut split = body.split('/');
    if body.is_empty() {
        // `"".split` yields one empty item; the root has no segments.
        let _ = split.next();
    }
    Some(split)
}

/// Parses a template such as `/accounts/{AccountId}/files/{name}.json`. `constraint` gives
/// the constraint of a parameter by name. Segments are split as in [`split_path`]; a
/// template not starting with `/` is refused.
pub(crate) fn parse_template(
    template: &str,
    constraint: &dyn Fn(&str) -> Constraint,
) -> Result<Vec<Segment>, TemplateError> {
    let Some(segments) = split_path(template) else {
        return Err(TemplateError {
            segment: 0,
            reason: "it does not start with `/`",
        });
    };
    segments
        .enumerate()
        .map(|(i, s)| {
            parse_segment(s, constraint).map_err(|reason| TemplateError {
                segment: i + 1,
                reason,
            })
        })
        .collect()
}

/// Parses one segment; literal text in a segment that has no `{` or `}`.
pub(crate) fn parse_segment(
    segment: &str,
    constraint: &dyn Fn(&str) -> Constraint,
) -> Result<Segment, &'static str> {
    if !segment.contains(['{', '}']) {
        return Ok(Segment::Literal(segment.to_string()));
    }
    let mut pieces = Vec::new();
    let mut rest = segment;
    while !rest.is_empty() {
        match rest.find(['{', '}']) {
            None => {
                pieces.push(Piece::Lit(rest.to_string()));
                rest = "";
            }
            Some(at) => {
                let (lit, tail) = rest
                    .split_at_checked(at)
                    .ok_or("not at a character boundary")?;
                if !lit.is_empty() {
                    pieces.push(Piece::Lit(lit.to_string()));
                }
                let inner = tail.strip_prefix('{').ok_or("a `}` closes no `{`")?;
                let (name, after) = inner.split_once('}').ok_or("a `{` is never closed")?;
                if name.is_empty() {
                    return Err("a parameter has no name (`{}`)");
                }
                if name.contains('{') {
                    return Err("parameters cannot nest (`{` inside `{...}`)");
                }
                if matches!(pieces.last(), Some(Piece::Param(_))) {
                    return Err("two parameters with nothing between them cannot be told apart");
                }
                pieces.push(Piece::Param(constraint(name)));
                rest = after;
            }
        }
    }
    Ok(Segment::Pattern(SegmentPattern { pieces }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn any(_: &str) -> Constraint {
        Constraint::Any
    }

    fn pattern(segment: &str) -> SegmentPattern {
        match parse_segment(segment, &any).unwrap() {
            Segment::Pattern(p) => p,
            Segment::Literal(l) => panic!("{l} parsed as a literal"),
        }
    }

    #[test]
    fn split_drops_the_leading_and_one_trailing_slash() {
        fn segs(p: &str) -> Option<Vec<&str>> {
            split_path(p).map(|s| s.collect())
        }
        assert_eq!(segs("/"), Some(vec![]));
        assert_eq!(segs("/a/b"), Some(vec!["a", "b"]));
        assert_eq!(segs("/a/b/"), Some(vec!["a", "b"]));
        assert_eq!(segs("/a//b"), Some(vec!["a", "", "b"]));
        assert_eq!(segs("/a/b//"), Some(vec!["a", "b", ""]));
        assert_eq!(segs("a/b"), None);
        assert_eq!(segs(""), None);
        assert_eq!(segs("*"), None);
    }

    #[test]
    fn embedded_parameters_match_by_prefix_and_suffix() {
        let p = pattern("{name}.json");
        assert!(p.matches("report.json"));
        assert!(p.matches("a.b.json"));
        assert!(
            !p.matches(".json"),
            "a parameter takes at least one character"
        );
        assert!(!p.matches("report.xml"));
        let p = pattern("v{major}");
        assert!(p.matches("v2"));
        assert!(!p.matches("v"));
        assert!(!p.matches("x2"));
        let p = pattern("{a}-{b}");
        assert!(p.matches("x-y"));
        assert!(p.matches("x-y-z"));
        assert!(!p.matches("x-"));
        assert!(!p.matches("-y"));
        assert!(!p.matches("xy"));
        let p = pattern("pre{a}mid{b}post");
        assert!(p.matches("preXmidYpost"));
        assert!(!p.matches("premidYpost"));
        assert!(!p.matches("preXmidpost"));
        // Multi-byte characters never split a slice off a character boundary.
        assert!(pattern("{a}é{b}").matches("ééé"));
        assert!(!pattern("{a}é").matches("é"));
    }

    #[test]
    fn embedded_constraints_apply_to_the_leftmost_split() {
        let int = |_: &str| Constraint::Integer;
        let Segment::Pattern(p) = parse_segment("{id}.json", &int).unwrap() else {
            panic!()
        };
        assert!(p.matches("12.json"));
        assert!(!p.matches("ab.json"));
    }

    #[test]
    fn malformed_segments_are_refused_with_a_reason() {
        assert!(parse_segment("{a", &any)
            .unwrap_err()
            .contains("never closed"));
        assert!(parse_segment("a}", &any).unwrap_err().contains("closes no"));
        assert!(parse_segment("{}", &any).unwrap_err().contains("no name"));
        assert!(parse_segment("{a{b}}", &any).unwrap_err().contains("nest"));
        assert!(parse_segment("{a}{b}", &any)
            .unwrap_err()
            .contains("told apart"));
        let err = parse_template("/ok/{bad", &any).unwrap_err();
        assert_eq!(err.segment, 2);
        assert_eq!(parse_template("no-slash", &any).unwrap_err().segment, 0);
    }

    #[test]
    fn typed_constraints() {
        assert!(Constraint::Integer.accepts("42"));
        assert!(Constraint::Integer.accepts("-42"));
        assert!(Constraint::Integer.accepts("+0"));
        assert!(Constraint::Integer.accepts("123456789012345678901234567890"));
        assert!(!Constraint::Integer.accepts("4x"));
        assert!(!Constraint::Integer.accepts("-"));
        assert!(!Constraint::Integer.accepts("1.5"));
        for ok in ["1", "1.5", "-0.5", ".5", "5.", "1e9", "2.5E-3"] {
            assert!(Constraint::Number.accepts(ok), "{ok}");
        }
        for bad in [".", "e5", "1e", "1.2.3", "abc", "+"] {
            assert!(!Constraint::Number.accepts(bad), "{bad}");
        }
        assert!(Constraint::Uuid.accepts("123e4567-e89b-12d3-a456-426614174000"));
        assert!(Constraint::Uuid.accepts("123E4567-E89B-12D3-A456-426614174000"));
        assert!(!Constraint::Uuid.accepts("123e4567e89b12d3a456426614174000"));
        assert!(!Constraint::Uuid.accepts("123e4567-e89b-12d3-a456-42661417400g"));
        assert!(Constraint::Boolean.accepts("TRUE"));
        assert!(!Constraint::Boolean.accepts("yes"));
        let e = Constraint::Enum(vec!["savings".into(), "current".into()]);
        assert!(e.accepts("savings"));
        assert!(
            !e.accepts("Savings"),
            "enumerations compare case-sensitively"
        );
        let ie = Constraint::IntEnum(vec![1, 20]);
        assert!(ie.accepts("20"));
        assert!(ie.accepts("020"));
        assert!(!ie.accepts("2"));
        assert!(!ie.accepts("99999999999999999999"));
    }

    #[test]
    fn ranks_order_literal_enum_embedded_typed_any() {
        let rank = |s: &str, c: Constraint| {
            let c = &c;
            parse_segment(s, &|_| c.clone()).unwrap().rank()
        };
        let literal = rank("x", Constraint::Any);
        let enumerated = rank("{a}", Constraint::Enum(vec!["x".into()]));
        let embedded = rank("{a}.json", Constraint::Any);
        let longer_embedded = rank("{a}.tar.json", Constraint::Any);
        let typed = rank("{a}", Constraint::Uuid);
        let open = rank("{a}", Constraint::Any);
        assert!(literal > enumerated);
        assert!(enumerated > longer_embedded);
        assert!(longer_embedded > embedded);
        assert!(embedded > typed);
        assert!(typed > open);
        let mixed = Constraint::OneOf(vec![Constraint::Enum(vec!["x".into()]), Constraint::Uuid]);
        assert_eq!(
            rank("{a}", mixed),
            typed,
            "a union ranks as its weakest alternative"
        );
    }
}
