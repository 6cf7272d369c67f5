//! From text to a document tree, and from a piece of the document back to a line of text.
//!
//! Both YAML and JSON land in [`serde_norway::Value`]: its mappings keep document order,
//! which the model promises for paths, operations and properties.

use serde_norway::Value;

use super::error::{SpecError, SpecErrorKind};
use super::{MAX_SPEC_BYTES, MAX_YAML_NESTING};

/// Parses `text` as JSON when its first non-blank character is `{` (so JSON mistakes are
/// reported in JSON terms), else as YAML, after checking its size.
pub(crate) fn parse(source: &str, text: &str) -> Result<Value, SpecError> {
    if text.len() > MAX_SPEC_BYTES {
        return Err(SpecError::new(
            source,
            1,
            SpecErrorKind::TooLarge,
            format!(
                "the document is {} bytes, over the {} byte limit (MAX_SPEC_BYTES)",
                text.len(),
                MAX_SPEC_BYTES
            ),
            "split the specification into smaller documents",
        ));
    }
    // A byte-order mark is common in files saved by Windows editors; libyaml would read it
    // as content before the document.
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    if text.trim_start().starts_with('{') {
        parse_json(source, text)
    } else {
        parse_yaml(source, text)
    }
}

fn parse_json(source: &str, text: &str) -> Result<Value, SpecError> {
    serde_json::from_str::<Value>(text).map_err(|e| {
        SpecError::new(
            source,
            e.line(),
            SpecErrorKind::Syntax,
            format!("not valid JSON: {}", strip_json_location(&e.to_string())),
            "fix the JSON syntax at this position (the text starts with '{' so it is read as JSON)",
        )
        .with_column(Some(e.column()))
    })
}

fn parse_yaml(source: &str, text: &str) -> Result<Value, SpecError> {
    if let Some(at) = too_deep(text) {
        let line = text
            .get(..at)
            .map_or(1, |before| before.matches('\n').count() + 1);
        return Err(SpecError::new(
            source,
            line,
            SpecErrorKind::Syntax,
            format!(
                "brackets are nested more than {MAX_YAML_NESTING} deep here (MAX_YAML_NESTING)"
            ),
            "nest less deeply, or close the brackets opened before this line",
        ));
    }
    let syntax = |e: serde_norway::Error| yaml_error(source, text, &e);
    let mut value: Value = serde_norway::from_str(text).map_err(syntax)?;
    // `<<` merge keys are part of YAML 1.1 as specifications use it; without this step a
    // merged mapping would look like a mapping with a property named "<<".
    value.apply_merge().map_err(syntax)?;
    Ok(value)
}

fn yaml_error(source: &str, text: &str, e: &serde_norway::Error) -> SpecError {
    let (mut line, mut column) = e
        .location()
        .map_or((1, None), |l| (l.line(), Some(l.column())));
    let message = e.to_string();
    let mut fix = "fix the YAML syntax here (indentation, an unclosed quote or bracket)";
    if let Some(key) = duplicate_key(&message) {
        // The parser points at the start of the mapping; the second definition is the one
        // to look at.
        if let Some(at) = column.and_then(|c| second_definition(text, line, c, key)) {
            (line, column) = (at, None);
        }
        fix = "remove or rename one of the two definitions of this key";
    } else if message.contains("recursion limit") {
        fix = "nest less deeply: the parser follows at most 128 levels";
    } else if message.contains("repetition limit") {
        fix = "use fewer anchors and aliases: they expand to too many nodes";
    } else if message.contains("tab character") {
        fix = "indent with spaces: YAML does not allow tabs for indentation";
    }
    SpecError::new(
        source,
        line,
        SpecErrorKind::Syntax,
        format!("not valid YAML: {message}"),
        fix,
    )
    .with_column(column)
}

/// The byte offset where the `[`/`{` nesting of `text` first exceeds [`MAX_YAML_NESTING`].
/// Closing brackets never take the count below zero, so stray ones in strings do not
/// hide a deep nest that follows.
fn too_deep(text: &str) -> Option<usize> {
    let mut depth = 0usize;
    for (at, byte) in text.bytes().enumerate() {
        match byte {
            b'[' | b'{' => {
                depth += 1;
                if depth > MAX_YAML_NESTING {
                    return Some(at);
                }
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    None
}

/// The key of serde_norway's `duplicate entry with key "K"` message.
fn duplicate_key(message: &str) -> Option<&str> {
    let (_, rest) = message.split_once("duplicate entry with key \"")?;
    rest.split_once('"').map(|(key, _)| key)
}

/// The line of the second block-mapping entry `key:` indented at `column` (1-based), in the
/// mapping that starts at `line`.
fn second_definition(text: &str, line: usize, column: usize, key: &str) -> Option<usize> {
    let indent = column.checked_sub(1)?;
    let mut seen = 0;
    for (i, l) in text.lines().enumerate().skip(line.checked_sub(1)?) {
        let content = l.trim_start_matches(' ');
        if content.is_empty() || content.starts_with('#') {
            continue;
        }
        let this_indent = l.len() - content.len();
        if this_indent < indent {
            return None;
        }
        if this_indent == indent && defines_key(l, key) {
            seen += 1;
            if seen == 2 {
                return Some(i + 1);
            }
        }
    }
    None
}

/// serde_json appends " at line L column C", which the error already carries.
fn strip_json_location(message: &str) -> &str {
    match message.rfind(" at line ") {
        Some(at) => message.get(..at).unwrap_or(message),
        None => message,
    }
}

/// The 1-based line of the first line that defines `key` as a mapping key, in YAML
/// (`key:`, `'key':`, `"key":`, possibly after `- `) or JSON (`"key" :`) layout.
pub(crate) fn key_line(text: &str, key: &str) -> Option<usize> {
    text.lines()
        .position(|line| defines_key(line, key))
        .map(|i| i + 1)
}

fn defines_key(line: &str, key: &str) -> bool {
    let mut rest = line.trim_start();
    if let Some(item) = rest.strip_prefix("- ") {
        rest = item.trim_start();
    }
    rest = rest.trim_start_matches(['{', ',', ' ']);
    for quote in ["", "'", "\""] {
        let unquoted = rest
            .strip_prefix(quote)
            .and_then(|r| r.strip_prefix(key))
            .and_then(|r| r.strip_prefix(quote));
        if let Some(after) = unquoted {
            if after.trim_start().starts_with(':') {
                return true;
            }
        }
    }
    false
}

/// The 1-based line of the first occurrence of `needle` anywhere in `text`.
pub(crate) fn text_line(text: &str, needle: &str) -> Option<usize> {
    if needle.is_empty() {
        return None;
    }
    let at = text.find(needle)?;
    let before = text.get(..at)?;
    Some(before.bytes().filter(|b| *b == b'\n').count() + 1)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]
    use super::*;

    #[test]
    fn key_line_finds_yaml_and_json_keys_but_not_prefixes() {
        let yaml = "openapi: 3.0.0\ninfo:\n  title: x\npathsX: 1\n'paths':\n  /a: {}\n";
        assert_eq!(key_line(yaml, "paths"), Some(5));
        assert_eq!(key_line(yaml, "title"), Some(3));
        let json = "{\n  \"openapi\" : \"3.1.0\",\n  \"paths\" : {}\n}";
        assert_eq!(key_line(json, "paths"), Some(3));
        assert_eq!(key_line(json, "nothing"), None);
    }

    #[test]
    fn text_line_counts_newlines_before_the_match() {
        assert_eq!(text_line("a\nb\nc#/x\n", "#/x"), Some(3));
        assert_eq!(text_line("abc", "zz"), None);
        assert_eq!(text_line("abc", ""), None);
    }

    #[test]
    fn a_duplicated_key_is_reported_at_its_second_definition() {
        let text = "openapi: 3.0.0\ninfo:\n  title: t\n  x:\n    title: nested\n\n  title: again\npaths: {}\n";
        let e = parse("d.yaml", text).err();
        let e = e
            .as_ref()
            .map(|e| (e.line, e.kind.clone(), e.what.contains("\"title\"")));
        assert_eq!(e, Some((7, SpecErrorKind::Syntax, true)));
    }

    #[test]
    fn nesting_past_the_limit_is_refused_at_its_line_before_parsing() {
        // Unbalanced brackets inside strings count, up to the limit.
        let ok = "- '['\n".repeat(MAX_YAML_NESTING);
        assert!(parse("ok.yaml", &ok).is_ok());
        let deep = format!("a: 1\nb: ]]]{}\n", "[".repeat(MAX_YAML_NESTING + 1));
        let e = parse("deep.yaml", &deep).err();
        let e = e
            .as_ref()
            .map(|e| (e.line, e.what.contains("MAX_YAML_NESTING")));
        assert_eq!(e, Some((2, true)));
    }

    #[test]
    fn tabs_get_their_own_fix() {
        let e = parse("t.yaml", "openapi: 3.0.0\n\tinfo: x\n").err();
        assert_eq!(e.map(|e| (e.line, e.fix.contains("tabs"))), Some((2, true)));
    }

    #[test]
    fn json_errors_are_reported_in_json_terms_with_line_and_column() {
        let e = parse("s.json", "{\n  \"a\": 1,\n  \"b\" 2\n}").err();
        let e = e
            .as_ref()
            .map(|e| (e.line, e.column, e.kind.clone(), e.what.contains("JSON")));
        assert_eq!(e, Some((3, Some(7), SpecErrorKind::Syntax, true)));
    }
}
