//! Inferred path templates and the splitting of a request target into segments.

use std::borrow::Cow;
use std::fmt;

use serde::{Deserialize, Serialize};

/// One segment of an inferred template.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum TemplateSegment {
    /// A fixed path segment, percent-decoded, exactly as seen.
    Literal(String),
    /// A parameter, by placeholder name without braces: a [`super::SegmentKind::name`]
    /// (`int`, `uuid`, ...), `param` for a position that holds values of several kinds or
    /// values no classifier recognises, or `rest` for the remainder of a path longer than
    /// [`super::TemplateConfig::max_segments`].
    Param(String),
}

/// An inferred path template, e.g. `/customers/{param}/orders`.
///
/// Segments are what lies between the slashes after the leading one, so `/a/b/` has the
/// segments `a`, `b` and an empty last one (a trailing slash is kept, and `/a/b/` is a
/// different template from `/a/b`), while `/` has none. Display writes each segment after a
/// `/` and parameters in braces; a literal containing `/` (from `%2F`) or written like a
/// placeholder (`{x}`) displays ambiguously, so use the value, not its text, as a key.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Template {
    /// The segments in path order; empty for `/`.
    pub segments: Vec<TemplateSegment>,
}

impl Template {
    /// Reads a template written as [`Template`]'s `Display` writes it: a segment in braces is
    /// a parameter of that name, anything else a literal. A leading `/` is optional and `/`
    /// or the empty text is the template without segments. Never fails.
    pub fn parse(text: &str) -> Template {
        let body = text.strip_prefix('/').unwrap_or(text);
        if body.is_empty() {
            return Template::default();
        }
        let segments = body
            .split('/')
            .map(
                |s| match s.strip_prefix('{').and_then(|r| r.strip_suffix('}')) {
                    Some(name) if !name.is_empty() => TemplateSegment::Param(name.to_string()),
                    _ => TemplateSegment::Literal(s.to_string()),
                },
            )
            .collect();
        Template { segments }
    }

    /// How many segments are parameters.
    pub fn param_count(&self) -> usize {
        self.segments
            .iter()
            .filter(|s| matches!(s, TemplateSegment::Param(_)))
            .count()
    }
}

impl fmt::Display for TemplateSegment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TemplateSegment::Literal(s) => f.write_str(s),
            TemplateSegment::Param(name) => write!(f, "{{{name}}}"),
        }
    }
}

impl fmt::Display for Template {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.segments.is_empty() {
            return f.write_str("/");
        }
        for s in &self.segments {
            write!(f, "/{s}")?;
        }
        Ok(())
    }
}

/// The percent-decoded path segments of an HTTP request target, as [`super::PathTemplater`]
/// takes them: the query (`?...`) and fragment (`#...`) are dropped, an absolute-form target
/// (`http://host/path`) is reduced to its path, the leading `/` is removed and the rest is
/// split at every `/`; `/` and the empty target give no segments. `%XX` escapes are decoded
/// after splitting (so `%2F` stays inside its segment); invalid escapes are kept as written
/// and bytes that are not UTF-8 become U+FFFD. `+` is not a space in a path. The result has
/// one entry per `/` in the path, so its size is bounded by the target's length.
pub fn split_path(target: &str) -> Vec<Cow<'_, str>> {
    let end = target.find(['?', '#']).unwrap_or(target.len());
    let mut path = target.get(..end).unwrap_or(target);
    for scheme in ["http://", "https://"] {
        let is_absolute = path
            .get(..scheme.len())
            .is_some_and(|p| p.eq_ignore_ascii_case(scheme));
        if is_absolute {
            let after = path.get(scheme.len()..).unwrap_or("");
            path = after.find('/').and_then(|i| after.get(i..)).unwrap_or("/");
        }
    }
    let path = path.strip_prefix('/').unwrap_or(path);
    if path.is_empty() {
        return Vec::new();
    }
    path.split('/').map(percent_decode).collect()
}

/// Decodes `%XX` escapes; text without a `%` is borrowed.
fn percent_decode(s: &str) -> Cow<'_, str> {
    if !s.contains('%') {
        return Cow::Borrowed(s);
    }
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0usize;
    while let Some(&b) = bytes.get(i) {
        let hex = |j: usize| bytes.get(j).and_then(|c| char::from(*c).to_digit(16));
        match (b, hex(i + 1), hex(i + 2)) {
            (b'%', Some(hi), Some(lo)) => {
                // hi and lo are below 16, so the byte fits.
                out.push(u8::try_from(hi * 16 + lo).unwrap_or(b'?'));
                i += 3;
            }
            _ => {
                out.push(b);
                i += 1;
            }
        }
    }
    match String::from_utf8(out) {
        Ok(s) => Cow::Owned(s),
        Err(e) => Cow::Owned(String::from_utf8_lossy(e.as_bytes()).into_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_and_parse_round_trip() {
        for text in ["/", "/a", "/a/{int}/b", "/a/b/", "/{param}/{rest}"] {
            assert_eq!(Template::parse(text).to_string(), text);
        }
        assert_eq!(Template::parse("").segments, vec![]);
        assert_eq!(
            Template::parse("/a/{}").segments,
            vec![
                TemplateSegment::Literal("a".into()),
                TemplateSegment::Literal("{}".into())
            ]
        );
        assert_eq!(Template::parse("/x/{uuid}").param_count(), 1);
    }

    #[test]
    fn split_path_strips_query_scheme_and_decodes() {
        let v = |t: &str| {
            split_path(t)
                .into_iter()
                .map(Cow::into_owned)
                .collect::<Vec<String>>()
        };
        assert_eq!(v("/a/b?c=d/e#f"), ["a", "b"]);
        assert_eq!(v("/"), Vec::<String>::new());
        assert_eq!(v(""), Vec::<String>::new());
        assert_eq!(v("/a/b/"), ["a", "b", ""]);
        assert_eq!(v("HTTP://host:8080/x/y?z"), ["x", "y"]);
        assert_eq!(v("https://host"), Vec::<String>::new());
        assert_eq!(v("/a%2Fb/%41%zz%4"), ["a/b", "A%zz%4"]);
        assert_eq!(v("/caf%C3%A9/%FF"), ["café", "\u{FFFD}"]);
        assert_eq!(v("/a+b"), ["a+b"]);
    }
}
