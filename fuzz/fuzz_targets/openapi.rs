//! The OpenAPI loader (discovery's `load_spec`) on YAML and JSON text: the loader picks JSON
//! when the first non-blank character is `{`, so one target covers both parsers and the
//! model built from either. Invalid UTF-8 is replaced (the binary refuses such a file before
//! the loader sees it), so the mutations still reach the parsers. Seeds: the shared real
//! specifications and the repository's fixtures (`fuzz/seed.py`).
//!
//! Checked besides "no panic" (the loader promises never to panic): a refusal names the
//! source it was given, since every error must name the file.
#![no_main]

use apitap_discovery::openapi::load_spec;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    if let Err(e) = load_spec("fuzz-spec.yaml", &text) {
        assert!(e.to_string().contains("fuzz-spec.yaml"), "error does not name the file: {e}");
    }
});
