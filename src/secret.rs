//! The deployment's hashing key: consumer ids, customer ids, credential digests and finding
//! ids are keyed hashes under it, so they are stable across runs and sensors of one
//! deployment and mean nothing elsewhere.
//!
//! Read from `--hash-key-file FILE` or the `APITAP_HASH_KEY` environment variable (any text,
//! at least 16 bytes; surrounding blanks are ignored). Without either, a random key is made for
//! the run and the ids change with every run (the summary says so).

use std::hash::Hasher;
use std::path::Path;

use anyhow::{anyhow, bail, Result};
use siphasher::sip128::{Hasher128, SipHasher13};

/// Environment variable holding the key.
pub const KEY_ENV: &str = "APITAP_HASH_KEY";
/// Shortest secret accepted.
pub const MIN_SECRET_BYTES: usize = 16;

/// Where the key came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyOrigin {
    /// `--hash-key-file`.
    File,
    /// `APITAP_HASH_KEY`.
    Environment,
    /// Made for this run.
    Random,
}

/// Derives the 16-byte key from the secret text.
fn derive(secret: &[u8]) -> [u8; 16] {
    let mut h = SipHasher13::new_with_keys(0x6170_6974_6170_2d6b, 0x6579_2d76_3100_0000);
    h.write(secret);
    h.finish128().as_u128().to_le_bytes()
}

fn check(secret: &[u8], what: &str) -> Result<()> {
    if secret.len() < MIN_SECRET_BYTES {
        bail!("{what}: the hashing secret has {} bytes; use at least {MIN_SECRET_BYTES} random bytes (e.g. `openssl rand -hex 32`)", secret.len());
    }
    Ok(())
}

fn random() -> [u8; 16] {
    use std::hash::BuildHasher;
    let state = std::collections::hash_map::RandomState::new();
    let a = state.hash_one(0x006b_6579_u64).to_le_bytes();
    let b = state.hash_one(0x6b65_7a75u64).to_le_bytes();
    let mut key = [0u8; 16];
    for (k, v) in key.iter_mut().zip(a.iter().chain(b.iter())) {
        *k = *v;
    }
    key
}

/// The key: from the file if given, else the environment, else random.
pub fn hash_key(file: Option<&Path>) -> Result<([u8; 16], KeyOrigin)> {
    if let Some(path) = file {
        let text = std::fs::read(path).map_err(|e| anyhow!("{}: cannot read the hashing key: {e}", path.display()))?;
        let secret = text.trim_ascii();
        check(secret, &path.display().to_string())?;
        return Ok((derive(secret), KeyOrigin::File));
    }
    if let Some(v) = std::env::var_os(KEY_ENV) {
        let v = v.into_encoded_bytes();
        let secret = v.trim_ascii();
        check(secret, KEY_ENV)?;
        return Ok((derive(secret), KeyOrigin::Environment));
    }
    Ok((random(), KeyOrigin::Random))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn the_same_secret_gives_the_same_key_and_blanks_do_not_matter() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("k");
        std::fs::write(&f, "  0123456789abcdef0123\n").unwrap();
        let (k1, o) = hash_key(Some(&f)).unwrap();
        assert_eq!(o, KeyOrigin::File);
        std::fs::write(&f, "0123456789abcdef0123").unwrap();
        assert_eq!(hash_key(Some(&f)).unwrap().0, k1);
        std::fs::write(&f, "0123456789abcdef0124").unwrap();
        assert_ne!(hash_key(Some(&f)).unwrap().0, k1);
        std::fs::write(&f, "short").unwrap();
        let err = hash_key(Some(&f)).unwrap_err().to_string();
        assert!(err.contains("at least 16"), "{err}");
        assert_ne!(random(), random());
    }
}
