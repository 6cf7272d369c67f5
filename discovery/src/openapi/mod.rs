//! OpenAPI 3.0 and 3.1 documents (YAML or JSON) loaded into a resolved [`Spec`].
//!
//! [`load_spec`] takes the text and a name for messages; the caller reads the file. It
//! resolves every local `$ref` (`#/components/...`, any JSON pointer into the same
//! document), merges path-level parameters into operations, applies document-level
//! security, and reduces schemas to [`Schema`].
//!
//! Not supported: Swagger / OpenAPI 2.0 (refused with a hint to convert), `$ref`s into other
//! files or URLs (refused: bundle first), 3.1 `$anchor`/`$id` references, `webhooks`,
//! `callbacks` and `links` (ignored), `additionalProperties`, `not`, and `discriminator`
//! (ignored: alternatives stay a [`Schema::OneOf`]). References are checked where the model
//! uses them: a dangling `$ref` inside an example or an unused component goes unnoticed.
//!
//! Cost: the 29 real specifications in the shared specs directory (6 MB of YAML and JSON,
//! 388 operations) load in about 0.15 s together in a release build, about half of it
//! parsing the text.

mod access;
mod document;
mod error;
mod model;
mod refs;
mod schema;
mod text;

pub use error::{SpecError, SpecErrorKind};
pub use model::*;

/// The largest document accepted, in bytes (64 MiB). Real specifications are a few MiB; the
/// limit keeps a wrong file (a capture, a dump) from being parsed into memory.
pub const MAX_SPEC_BYTES: usize = 64 * 1024 * 1024;

/// The deepest `[`/`{` bracket nesting accepted in a YAML document (1024), counted over the
/// raw text before parsing (brackets inside quoted strings count too, which is why the limit
/// is far above the parser's own 128-level recursion limit). The YAML scanner's cost grows
/// with the square of this nesting, so a text of nothing but brackets could otherwise take
/// minutes to refuse. JSON is parsed by a scanner without that cost and is not checked.
pub const MAX_YAML_NESTING: usize = 1024;

/// The most operations one document may declare (100 000).
pub const MAX_OPERATIONS: usize = 100_000;

/// The most schema nodes one document may expand to, summed over every parameter and body
/// (1 000 000; the largest shared real specification needs about 10 500). Schemas are
/// expanded in place for each use, so a document whose schemas reuse each other many times
/// over grows multiplicatively; this bounds the memory and time that can cost.
pub const MAX_SCHEMA_NODES: usize = 1_000_000;

/// Loads one OpenAPI 3.0/3.1 document.
///
/// `source` names the text in error messages (normally the file name); `text` is YAML, or
/// JSON when its first non-blank character is `{`. Never panics on any input; every refusal
/// is a [`SpecError`] naming the file, line, problem and fix.
pub fn load_spec(source: &str, text: &str) -> Result<Spec, SpecError> {
    let root = text::parse(source, text)?;
    let mut ctx = refs::Ctx {
        source,
        text,
        root: &root,
        schema_nodes: 0,
    };
    ctx.check_version()?;
    ctx.spec()
}
