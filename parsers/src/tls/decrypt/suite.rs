//! The cipher suites the decryptor knows, and the key schedules that turn key-log secrets into
//! record keys: the TLS 1.2 PRF (RFC 5246 section 5) over HMAC, and TLS 1.3's
//! HKDF-Expand-Label (RFC 8446 section 7.1). Every primitive is ring's (the rustls project's
//! provider): HMAC, HKDF and the AEADs; nothing here is a cipher of our own.

use ring::{aead, hkdf, hmac};
use zeroize::Zeroizing;

/// The record protection of a suite.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(crate) enum Cipher {
    Aes128Gcm,
    Aes256Gcm,
    Chacha20Poly1305,
}

/// The hash of a suite's PRF (TLS 1.2) or HKDF (TLS 1.3).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(crate) enum Hash {
    Sha256,
    Sha384,
}

impl Hash {
    pub(crate) fn len(self) -> usize {
        match self {
            Hash::Sha256 => 32,
            Hash::Sha384 => 48,
        }
    }

    fn hmac(self) -> hmac::Algorithm {
        match self {
            Hash::Sha256 => hmac::HMAC_SHA256,
            Hash::Sha384 => hmac::HMAC_SHA384,
        }
    }

    fn hkdf(self) -> hkdf::Algorithm {
        match self {
            Hash::Sha256 => hkdf::HKDF_SHA256,
            Hash::Sha384 => hkdf::HKDF_SHA384,
        }
    }
}

impl Cipher {
    pub(crate) fn key_len(self) -> usize {
        match self {
            Cipher::Aes128Gcm => 16,
            Cipher::Aes256Gcm | Cipher::Chacha20Poly1305 => 32,
        }
    }

    fn algorithm(self) -> &'static aead::Algorithm {
        match self {
            Cipher::Aes128Gcm => &aead::AES_128_GCM,
            Cipher::Aes256Gcm => &aead::AES_256_GCM,
            Cipher::Chacha20Poly1305 => &aead::CHACHA20_POLY1305,
        }
    }

    /// Length of the write IV in a TLS 1.2 key block: the 4-byte implicit salt of GCM
    /// (RFC 5288), the whole 12-byte nonce mask of ChaCha20-Poly1305 (RFC 7905).
    fn tls12_iv_len(self) -> usize {
        match self {
            Cipher::Aes128Gcm | Cipher::Aes256Gcm => 4,
            Cipher::Chacha20Poly1305 => 12,
        }
    }
}

/// A cipher suite the decryptor can open.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(crate) struct Suite {
    pub(crate) id: u16,
    pub(crate) cipher: Cipher,
    pub(crate) hash: Hash,
    /// A TLS 1.3 suite (keys from traffic secrets); else a TLS 1.2 AEAD suite (keys from the
    /// master secret).
    pub(crate) tls13: bool,
}

/// The suites that can be decrypted: every AEAD suite of TLS 1.3, and the AES-GCM and
/// ChaCha20-Poly1305 suites of TLS 1.2 (RSA, DHE and ECDHE key exchange alike: the key log
/// gives the master secret, so the exchange does not matter). CBC and other suites are not.
pub(crate) fn suite(id: u16) -> Option<Suite> {
    use Cipher::*;
    use Hash::*;
    let (cipher, hash, tls13) = match id {
        0x1301 => (Aes128Gcm, Sha256, true),
        0x1302 => (Aes256Gcm, Sha384, true),
        0x1303 => (Chacha20Poly1305, Sha256, true),
        0x009c | 0x009e | 0xc02b | 0xc02f | 0x00a4 | 0x00a2 | 0x00aa => (Aes128Gcm, Sha256, false),
        0x009d | 0x009f | 0xc02c | 0xc030 | 0x00a5 | 0x00a3 | 0x00ab => (Aes256Gcm, Sha384, false),
        0xcca8..=0xccae => (Chacha20Poly1305, Sha256, false),
        _ => return None,
    };
    Some(Suite { id, cipher, hash, tls13 })
}

/// One direction's record key: the AEAD key and the IV the per-record nonce is made from.
pub(crate) struct RecordKey {
    key: aead::LessSafeKey,
    iv: Zeroizing<[u8; 12]>,
    /// Bytes of `iv` that hold the key block's IV (4 for TLS 1.2 GCM, else 12).
    iv_len: usize,
}

impl RecordKey {
    fn new(cipher: Cipher, key: &[u8], iv: &[u8]) -> Option<RecordKey> {
        let unbound = aead::UnboundKey::new(cipher.algorithm(), key).ok()?;
        let mut full = Zeroizing::new([0u8; 12]);
        full.get_mut(..iv.len())?.copy_from_slice(iv);
        Some(RecordKey { key: aead::LessSafeKey::new(unbound), iv: full, iv_len: iv.len() })
    }

    /// The nonce of record `seq`: the IV with the sequence number XORed into its last eight
    /// bytes (TLS 1.3, TLS 1.2 ChaCha20-Poly1305), or the 4-byte salt followed by the record's
    /// explicit nonce (TLS 1.2 GCM).
    fn nonce(&self, seq: u64, explicit: Option<&[u8]>) -> Option<aead::Nonce> {
        let mut n = [0u8; 12];
        match explicit {
            Some(e) => {
                n.get_mut(..4)?.copy_from_slice(self.iv.get(..4)?);
                n.get_mut(4..)?.copy_from_slice(e);
            }
            None => {
                n = *self.iv;
                for (b, s) in n.iter_mut().skip(4).zip(seq.to_be_bytes()) {
                    *b ^= s;
                }
            }
        }
        Some(aead::Nonce::assume_unique_for_key(n))
    }

    /// Opens a TLS 1.3 record (`header` is its 5 bytes, the additional data) in place; the
    /// result is the inner plaintext, content type and padding included.
    pub(crate) fn open13<'a>(&self, seq: u64, header: &[u8], payload: &'a mut [u8]) -> Option<&'a mut [u8]> {
        let nonce = self.nonce(seq, None)?;
        self.key.open_in_place(nonce, aead::Aad::from(header), payload).ok()
    }

    /// Opens a TLS 1.2 AEAD record of content type `typ` and record version `version` in
    /// place; the result is the plaintext fragment.
    pub(crate) fn open12<'a>(&self, seq: u64, typ: u8, version: u16, payload: &'a mut [u8]) -> Option<&'a mut [u8]> {
        let tag = aead::MAX_TAG_LEN;
        let (explicit, body) = if self.iv_len == 4 {
            let (e, rest) = payload.split_at_mut_checked(8)?;
            (Some(&*e), rest)
        } else {
            (None, payload)
        };
        let plain_len = u16::try_from(body.len().checked_sub(tag)?).ok()?;
        let mut aad = [0u8; 13];
        aad.get_mut(..8)?.copy_from_slice(&seq.to_be_bytes());
        *aad.get_mut(8)? = typ;
        aad.get_mut(9..11)?.copy_from_slice(&version.to_be_bytes());
        aad.get_mut(11..)?.copy_from_slice(&plain_len.to_be_bytes());
        let nonce = self.nonce(seq, explicit)?;
        self.key.open_in_place(nonce, aead::Aad::from(aad), body).ok()
    }
}

/// TLS 1.2's PRF: `P_hash(secret, label + seed)` filled to `out.len()` bytes.
fn prf12(hash: Hash, secret: &[u8], label: &[u8], seed: &[u8], out: &mut [u8]) {
    let key = hmac::Key::new(hash.hmac(), secret);
    let sign = |parts: &[&[u8]]| {
        let mut ctx = hmac::Context::with_key(&key);
        for p in parts {
            ctx.update(p);
        }
        ctx.sign()
    };
    let mut a = sign(&[label, seed]);
    for chunk in out.chunks_mut(hash.len()) {
        let block = sign(&[a.as_ref(), label, seed]);
        for (o, b) in chunk.iter_mut().zip(block.as_ref()) {
            *o = *b;
        }
        a = sign(&[a.as_ref()]);
    }
}

/// The two directions' keys of a TLS 1.2 session: `(client_write, server_write)` from the key
/// block `PRF(master_secret, "key expansion", server_random + client_random)` (RFC 5246
/// section 6.3; AEAD suites have no MAC keys).
pub(crate) fn tls12_keys(
    suite: &Suite,
    master: &[u8],
    client_random: &[u8; 32],
    server_random: &[u8; 32],
) -> Option<(RecordKey, RecordKey)> {
    let (klen, ivlen) = (suite.cipher.key_len(), suite.cipher.tls12_iv_len());
    let mut block = Zeroizing::new(vec![0u8; 2 * (klen + ivlen)]);
    let mut seed = [0u8; 64];
    seed.get_mut(..32)?.copy_from_slice(server_random);
    seed.get_mut(32..)?.copy_from_slice(client_random);
    prf12(suite.hash, master, b"key expansion", &seed, &mut block);
    let ck = block.get(..klen)?;
    let sk = block.get(klen..2 * klen)?;
    let civ = block.get(2 * klen..2 * klen + ivlen)?;
    let siv = block.get(2 * klen + ivlen..)?;
    Some((RecordKey::new(suite.cipher, ck, civ)?, RecordKey::new(suite.cipher, sk, siv)?))
}

/// An output length for ring's HKDF.
struct Len(usize);

impl hkdf::KeyType for Len {
    fn len(&self) -> usize {
        self.0
    }
}

/// HKDF-Expand-Label(secret, label, "", len) of RFC 8446 section 7.1.
fn expand_label(hash: Hash, secret: &[u8], label: &[u8], out: &mut [u8]) -> Option<()> {
    let prk = hkdf::Prk::new_less_safe(hash.hkdf(), secret);
    let len = u16::try_from(out.len()).ok()?.to_be_bytes();
    let label_len = [u8::try_from(6 + label.len()).ok()?];
    let info: [&[u8]; 5] = [&len, &label_len, b"tls13 ", label, &[0]];
    prk.expand(&info, Len(out.len())).ok()?.fill(out).ok()
}

/// The record key of a TLS 1.3 traffic secret.
pub(crate) fn tls13_key(suite: &Suite, secret: &[u8]) -> Option<RecordKey> {
    let mut key = Zeroizing::new(vec![0u8; suite.cipher.key_len()]);
    let mut iv = Zeroizing::new([0u8; 12]);
    expand_label(suite.hash, secret, b"key", &mut key)?;
    expand_label(suite.hash, secret, b"iv", iv.as_mut_slice())?;
    RecordKey::new(suite.cipher, &key, iv.as_slice())
}

/// The traffic secret after a KeyUpdate (RFC 8446 section 7.2).
pub(crate) fn tls13_next_secret(suite: &Suite, secret: &[u8]) -> Option<Zeroizing<Vec<u8>>> {
    let mut next = Zeroizing::new(vec![0u8; suite.hash.len()]);
    expand_label(suite.hash, secret, b"traffic upd", &mut next)?;
    Some(next)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    pub(crate) fn hex(s: &str) -> Vec<u8> {
        let s: String = s.split_whitespace().collect();
        (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect()
    }

    // RFC 8448 section 3 (simple 1-RTT handshake), TLS_AES_128_GCM_SHA256: the server's
    // handshake traffic secret gives the key and IV the RFC lists.
    #[test]
    fn hkdf_expand_label_matches_rfc_8448() {
        let secret = hex("b6 7b 7d 69 0c c1 6c 4e 75 e5 42 13 cb 2d 37 b4 e9 c9 12 bc de d9 10 5d 42 be fd 59 d3 91 ad 38");
        let s = suite(0x1301).unwrap();
        let mut key = [0u8; 16];
        let mut iv = [0u8; 12];
        expand_label(s.hash, &secret, b"key", &mut key).unwrap();
        expand_label(s.hash, &secret, b"iv", &mut iv).unwrap();
        assert_eq!(key.to_vec(), hex("3f ce 51 60 09 c2 17 27 d0 f2 e4 e8 6e e4 03 bc"));
        assert_eq!(iv.to_vec(), hex("5d 31 3e b2 67 12 76 ee 13 00 0b 30"));
    }

    // The TLS 1.2 PRF test vector for SHA-256 published on the IETF TLS list
    // (secret, label "test label", 100 bytes of output).
    #[test]
    fn prf12_sha256_matches_the_published_vector() {
        let secret = hex("9b be 43 6b a9 40 f0 17 b1 76 52 84 9a 71 db 35");
        let seed = hex("a0 ba 9f 93 6c da 31 18 27 a6 f7 96 ff d5 19 8c");
        let mut out = [0u8; 100];
        prf12(Hash::Sha256, &secret, b"test label", &seed, &mut out);
        let expected = hex(
            "e3 f2 29 ba 72 7b e1 7b 8d 12 26 20 55 7c d4 53 c2 aa b2 1d 07 c3 d4 95 32 9b 52 d4 e6 1e db 5a
             6b 30 17 91 e9 0d 35 c9 c9 a4 6b 4e 14 ba f9 af 0f a0 22 f7 07 7d ef 17 ab fd 37 97 c0 56 4b ab
             4f bc 91 66 6e 9d ef 9b 97 fc e3 4f 79 67 89 ba a4 80 82 d1 22 ee 42 c5 a7 2e 5a 51 10 ff f7 01
             87 34 7b 66",
        );
        assert_eq!(out.to_vec(), expected);
    }

    #[test]
    fn suites_known_and_unknown() {
        assert_eq!(suite(0xc030).map(|s| (s.cipher, s.hash, s.tls13)), Some((Cipher::Aes256Gcm, Hash::Sha384, false)));
        assert_eq!(suite(0x1303).map(|s| (s.cipher, s.tls13)), Some((Cipher::Chacha20Poly1305, true)));
        assert!(suite(0xc013).is_none(), "CBC suites are not decrypted");
        assert!(suite(0x0000).is_none());
    }
}
