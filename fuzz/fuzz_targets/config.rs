//! The configuration loader: `apitap check-config`'s checks that read no other file
//! (`apitap::check_config_text`) on arbitrary text: the TOML parser, every section's
//! deserialisation and range checks, the detector and metrics settings, the operator
//! templates, and the conversions into the pipeline's limits that `apitap run` makes. Invalid
//! UTF-8 is replaced (the binary refuses such a file before the parser sees it), so the
//! mutations still reach the parser. Seeds: `deploy/apitap.example.toml` and the
//! configurations written in the tests (`fuzz/seed.py`).
//!
//! Checked besides "no panic": a refusal names the file it was given and a line (every
//! configuration error must say where the mistake is).
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;

const NAME: &str = "fuzz-config.toml";

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    if let Err(e) = apitap::check_config_text(Path::new(NAME), &text) {
        let msg = e.to_string();
        let line = msg.strip_prefix(NAME).and_then(|m| m.strip_prefix(':')).map(|m| m.split(':').next().unwrap_or(""));
        assert!(
            line.is_some_and(|l| !l.is_empty() && l.bytes().all(|b| b.is_ascii_digit())),
            "the error does not start with the file's name and a line: {msg}"
        );
    }
});
