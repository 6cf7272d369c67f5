//! The one error type of the loader: which file, where, what is wrong and how to fix it.

use std::fmt;

/// Why a document was refused. Each variant names a class of problem a caller may want to
/// tell apart (for instance to skip Swagger 2.0 files in a directory of specifications while
/// still failing on broken ones); the human wording lives in [`SpecError`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum SpecErrorKind {
    /// The text is larger than [`MAX_SPEC_BYTES`](super::MAX_SPEC_BYTES).
    TooLarge,
    /// The text is not well-formed YAML or JSON.
    Syntax,
    /// The document is a Swagger / OpenAPI 2.0 document.
    Swagger2,
    /// The document has no `openapi: 3.x` field, or it is not a mapping at all.
    NotOpenApi3,
    /// The document has no `paths` mapping.
    MissingPaths,
    /// A local `$ref` points at nothing.
    DanglingRef {
        /// The reference as written.
        reference: String,
    },
    /// A `$ref` points into another file or URL, which the loader does not fetch.
    ExternalRef {
        /// The reference as written.
        reference: String,
    },
    /// More operations than [`MAX_OPERATIONS`](super::MAX_OPERATIONS).
    TooManyOperations,
    /// The resolved schemas would hold more than
    /// [`MAX_SCHEMA_NODES`](super::MAX_SCHEMA_NODES) nodes.
    TooManySchemaNodes,
    /// A part of the document has the wrong shape (for example a parameter without `name`).
    Invalid,
}

/// A document the loader refuses, located as precisely as it can be.
///
/// Syntax errors carry the exact line and column reported by the YAML or JSON parser.
/// Semantic errors (a dangling `$ref`, a missing field) carry the line where the offending
/// text first appears, found by searching the source text; it is the right line in the
/// usual one-definition-per-line layout but may point at an earlier occurrence of the same
/// text. `line` is 1-based and never 0.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpecError {
    /// The file name given to the loader.
    pub file: String,
    /// 1-based line of the problem (1 when the problem concerns the whole document).
    pub line: usize,
    /// 1-based column, when the parser reported one.
    pub column: Option<usize>,
    /// The class of problem.
    pub kind: SpecErrorKind,
    /// What is wrong, in one clause.
    pub what: String,
    /// How to fix it, in one clause.
    pub fix: &'static str,
}

impl SpecError {
    pub(crate) fn new(
        file: &str,
        line: usize,
        kind: SpecErrorKind,
        what: impl Into<String>,
        fix: &'static str,
    ) -> Self {
        SpecError {
            file: file.to_owned(),
            line: line.max(1),
            column: None,
            kind,
            what: what.into(),
            fix,
        }
    }

    pub(crate) fn with_column(mut self, column: Option<usize>) -> Self {
        self.column = column.filter(|c| *c > 0);
        self
    }
}

impl fmt::Display for SpecError {
    /// `{file}:{line}: {what}; {fix}`, or `{file}:{line}:{column}: ...` when the column is known.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.column {
            Some(column) => write!(f, "{}:{}:{}: ", self.file, self.line, column)?,
            None => write!(f, "{}:{}: ", self.file, self.line)?,
        }
        write!(f, "{}; {}", self.what, self.fix)
    }
}

impl std::error::Error for SpecError {}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]
    use super::*;

    #[test]
    fn display_names_file_line_what_and_fix() {
        let e = SpecError::new(
            "a.yaml",
            7,
            SpecErrorKind::MissingPaths,
            "no paths",
            "add paths",
        );
        assert_eq!(e.to_string(), "a.yaml:7: no paths; add paths");
        let e = e.with_column(Some(3));
        assert_eq!(e.to_string(), "a.yaml:7:3: no paths; add paths");
    }

    #[test]
    fn line_zero_becomes_one_and_column_zero_is_unknown() {
        let e = SpecError::new("a", 0, SpecErrorKind::Syntax, "w", "f").with_column(Some(0));
        assert_eq!((e.line, e.column), (1, None));
    }
}
