//! Headless chromium for the tests that render pages (Debian's chromium, installed by
//! scripts/install-deps.sh): the flags that keep it off the network and quiet, console
//! messages, and the text of a rendered page.

use std::path::Path;
use std::process::Command;

/// Where Debian installs chromium.
pub const CHROMIUM: &str = "/usr/bin/chromium";

/// Runs headless chromium on `page` with `extra` flags; returns (stdout, stderr).
pub fn chromium(page: &Path, extra: &[String]) -> (String, String) {
    assert!(
        Path::new(CHROMIUM).exists(),
        "{CHROMIUM} is missing: run scripts/install-deps.sh (it installs Debian's chromium) before these tests"
    );
    let profile = tempfile::tempdir().unwrap();
    let o = Command::new(CHROMIUM)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--hide-scrollbars",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .args(extra)
        .arg(format!("file://{}", page.display()))
        .output()
        .unwrap();
    assert!(o.status.success(), "chromium failed: {}", String::from_utf8_lossy(&o.stderr));
    (String::from_utf8_lossy(&o.stdout).into_owned(), String::from_utf8_lossy(&o.stderr).into_owned())
}

/// Console messages of the page: chromium logs each one (any level, uncaught errors too) to
/// stderr as `...:INFO:CONSOLE...] "text", source: URL (line)` with --enable-logging=stderr.
pub fn console_messages(page: &Path) -> Vec<String> {
    let (_, err) = chromium(page, &["--enable-logging=stderr".into(), "--v=0".into(), "--dump-dom".into()]);
    err.lines().filter(|l| l.contains(":CONSOLE")).map(str::to_string).collect()
}

/// HTML entities of a text back to characters.
pub fn unescape(s: &str) -> String {
    s.replace("&lt;", "<").replace("&gt;", ">").replace("&quot;", "\"").replace("&#39;", "'").replace("&nbsp;", "\u{a0}").replace("&amp;", "&")
}

/// Text of an HTML fragment: tags removed, entities decoded.
pub fn text_of(fragment: &str) -> String {
    let mut out = String::new();
    let mut in_tag = false;
    for c in fragment.chars() {
        match c {
            '<' => in_tag = true,
            '>' if in_tag => in_tag = false,
            c if !in_tag => out.push(c),
            _ => {}
        }
    }
    unescape(&out)
}

