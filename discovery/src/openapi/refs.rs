//! Local `$ref` resolution: JSON pointers into the same document.

use serde_norway::Value;

use super::access::{as_map, as_seq, get, get_str};
use super::error::{SpecError, SpecErrorKind};
use super::text::text_line;

/// How many `$ref` hops a non-schema object (parameter, response, request body, path item)
/// may take before it is treated as a cycle; real documents use one.
const MAX_REF_HOPS: usize = 16;

/// What the loader is working on: the tree, plus the text and name for error messages.
pub(crate) struct Ctx<'a> {
    pub(crate) source: &'a str,
    pub(crate) text: &'a str,
    pub(crate) root: &'a Value,
    /// Schema nodes built so far, against [`super::MAX_SCHEMA_NODES`].
    pub(crate) schema_nodes: usize,
}

impl<'a> Ctx<'a> {
    /// Follows `$ref`s from `v` until an object that is not a reference.
    pub(crate) fn deref(&self, mut v: &'a Value) -> Result<&'a Value, SpecError> {
        for _ in 0..MAX_REF_HOPS {
            match get_str(v, "$ref") {
                Some(reference) => v = self.resolve(reference)?,
                None => return Ok(v),
            }
        }
        let reference = get_str(v, "$ref").unwrap_or_default();
        Err(self.error_at(
            reference,
            SpecErrorKind::Invalid,
            format!("`$ref: {reference}` is part of a chain of more than {MAX_REF_HOPS} references (a cycle?)"),
            "make the reference point at the object itself",
        ))
    }

    /// The object `reference` points at, or an error naming it.
    pub(crate) fn resolve(&self, reference: &str) -> Result<&'a Value, SpecError> {
        match pointer(self.root, reference) {
            Ok(v) => Ok(v),
            Err(Unresolved::External) => Err(self.error_at(
                reference,
                SpecErrorKind::ExternalRef {
                    reference: reference.to_owned(),
                },
                format!("`$ref: {reference}` points into another document, which is not supported"),
                "bundle the specification into one self-contained file (for example with \
                 `redocly bundle`) so every reference starts with '#/'",
            )),
            Err(Unresolved::Missing { found }) => Err(self.error_at(
                reference,
                SpecErrorKind::DanglingRef {
                    reference: reference.to_owned(),
                },
                format!(
                    "`$ref: {reference}` does not resolve: '{found}' exists but holds nothing \
                     at the rest of the path"
                ),
                "define the missing component or correct the reference's name",
            )),
        }
    }

    /// An error located at the first line where `needle` appears (line 1 if nowhere).
    pub(crate) fn error_at(
        &self,
        needle: &str,
        kind: SpecErrorKind,
        what: String,
        fix: &'static str,
    ) -> SpecError {
        let line = text_line(self.text, needle).unwrap_or(1);
        SpecError::new(self.source, line, kind, what, fix)
    }
}

#[derive(Debug, PartialEq)]
pub(crate) enum Unresolved {
    /// Not a `#...` fragment: another file or a URL.
    External,
    /// A local pointer whose longest resolvable prefix is `found`.
    Missing { found: String },
}

/// Resolves a `#/a/b~1c` reference (URI fragment, percent-decoded, then RFC 6901 pointer).
pub(crate) fn pointer<'a>(root: &'a Value, reference: &str) -> Result<&'a Value, Unresolved> {
    let fragment = reference.strip_prefix('#').ok_or(Unresolved::External)?;
    let fragment = percent_decode(fragment);
    if fragment.is_empty() {
        return Ok(root);
    }
    // "#name" is a 3.1 `$anchor` reference, which this loader does not index.
    let Some(path) = fragment.strip_prefix('/') else {
        return Err(Unresolved::Missing {
            found: "#".to_owned(),
        });
    };
    let mut at = root;
    let mut found = String::from("#");
    for raw in path.split('/') {
        let token = raw.replace("~1", "/").replace("~0", "~");
        let next = if as_map(at).is_some() {
            get(at, &token)
        } else {
            as_seq(at).and_then(|items| token.parse::<usize>().ok().and_then(|i| items.get(i)))
        };
        match next {
            Some(v) => {
                at = v;
                found.push('/');
                found.push_str(raw);
            }
            None => return Err(Unresolved::Missing { found }),
        }
    }
    Ok(at)
}

/// Decodes `%XX` escapes; malformed escapes and non-UTF-8 results are kept as written.
fn percent_decode(s: &str) -> String {
    if !s.contains('%') {
        return s.to_owned();
    }
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (b, hex) {
            (b'%', Some(decoded)) => {
                out.push(decoded);
                i += 3;
            }
            _ => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out).unwrap_or_else(|_| s.to_owned())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]
    use super::*;

    fn doc() -> Value {
        serde_norway::from_str(
            "components:\n  schemas:\n    'a/b': {type: string}\n    'c~d': {type: integer}\n    \
             'e f': {type: boolean}\n    list: [{type: number}]\nresponses:\n  200: {description: ok}\n",
        )
        .unwrap()
    }

    #[test]
    fn pointer_unescapes_tilde_sequences_and_percent_escapes() {
        let d = doc();
        let ty = |r: &str| {
            pointer(&d, r)
                .ok()
                .and_then(|v| get_str(v, "type"))
                .map(str::to_owned)
        };
        assert_eq!(ty("#/components/schemas/a~1b").as_deref(), Some("string"));
        assert_eq!(ty("#/components/schemas/c~0d").as_deref(), Some("integer"));
        assert_eq!(ty("#/components/schemas/e%20f").as_deref(), Some("boolean"));
        assert_eq!(ty("#/components/schemas/list/0").as_deref(), Some("number"));
        assert!(pointer(&d, "#/responses/200").is_ok());
    }

    #[test]
    fn pointer_reports_external_and_the_longest_found_prefix() {
        let d = doc();
        assert_eq!(
            pointer(&d, "other.yaml#/x").err(),
            Some(Unresolved::External)
        );
        assert_eq!(
            pointer(&d, "#/components/schemas/Nope").err(),
            Some(Unresolved::Missing {
                found: "#/components/schemas".to_owned()
            })
        );
        assert_eq!(
            pointer(&d, "#/components/schemas/list/9").err(),
            Some(Unresolved::Missing {
                found: "#/components/schemas/list".to_owned()
            })
        );
        assert_eq!(
            pointer(&d, "#anchor").err(),
            Some(Unresolved::Missing {
                found: "#".to_owned()
            })
        );
    }

    #[test]
    fn percent_decode_keeps_malformed_escapes() {
        assert_eq!(percent_decode("a%2Fb%zz%"), "a/b%zz%");
    }
}
