//! Compact serde encodings for the vectors of the sketches: fixed-width little-endian bytes,
//! written as base64 text in human-readable formats (JSON) and as a byte string in binary ones
//! (CBOR).
//!
//! Why: the daemon writes a profile whenever it changed, and a Bloom filter's 64-bit words or a
//! table of 64-bit key hashes written as JSON numbers take about twenty characters each; packed
//! they take 10.7 (base64 of 8 bytes). Only vectors of large or random values are packed; small
//! counters stay JSON numbers, which are shorter.
//!
//! Reading accepts the packed form and, for hand-written or older values, a plain sequence of
//! numbers. A byte length that is not a whole number of elements is an error. Nothing here
//! bounds the length: the caller bounds the encoded input (see
//! [`crate::behaviour::persist::MAX_PROFILE_ENCODED_BYTES`]) and each sketch's `validate` checks
//! its limits after reading.

use std::fmt;
use std::marker::PhantomData;

use serde::de::{self, Deserialize, Deserializer, SeqAccess, Visitor};
use serde::Serializer;

/// A value written as a fixed number of little-endian bytes.
pub trait Packable: Copy {
    /// Bytes per value.
    const SIZE: usize;
    /// Appends the value's bytes.
    fn put(self, out: &mut Vec<u8>);
    /// The value of exactly `SIZE` bytes (the caller passes `SIZE` bytes).
    fn get(bytes: &[u8]) -> Self;
}

fn array<const N: usize>(bytes: &[u8]) -> [u8; N] {
    let mut a = [0u8; N];
    for (d, s) in a.iter_mut().zip(bytes) {
        *d = *s;
    }
    a
}

macro_rules! packable_int {
    ($($t:ty),*) => {$(
        impl Packable for $t {
            const SIZE: usize = std::mem::size_of::<$t>();
            fn put(self, out: &mut Vec<u8>) {
                out.extend_from_slice(&self.to_le_bytes());
            }
            fn get(bytes: &[u8]) -> Self {
                <$t>::from_le_bytes(array(bytes))
            }
        }
    )*};
}

packable_int!(u8, u16, u32, u64);

impl Packable for f32 {
    const SIZE: usize = 4;
    fn put(self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.to_bits().to_le_bytes());
    }
    fn get(bytes: &[u8]) -> Self {
        f32::from_bits(u32::from_le_bytes(array(bytes)))
    }
}

const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// Standard base64 (RFC 4648 section 4) with padding.
pub fn encode_base64(data: &[u8]) -> String {
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
    let sym = |i: u32| char::from(ALPHABET.get((i & 63) as usize).copied().unwrap_or(b'A'));
    for chunk in data.chunks(3) {
        let b = |i: usize| u32::from(chunk.get(i).copied().unwrap_or(0));
        let n = (b(0) << 16) | (b(1) << 8) | b(2);
        out.push(sym(n >> 18));
        out.push(sym(n >> 12));
        out.push(if chunk.len() > 1 { sym(n >> 6) } else { '=' });
        out.push(if chunk.len() > 2 { sym(n) } else { '=' });
    }
    out
}

fn value_of(c: u8) -> Option<u32> {
    match c {
        b'A'..=b'Z' => Some(u32::from(c - b'A')),
        b'a'..=b'z' => Some(u32::from(c - b'a') + 26),
        b'0'..=b'9' => Some(u32::from(c - b'0') + 52),
        b'+' => Some(62),
        b'/' => Some(63),
        _ => None,
    }
}

/// Decodes standard base64 with or without padding; `None` on any other character or a
/// truncated group.
pub fn decode_base64(text: &str) -> Option<Vec<u8>> {
    let body = text.trim_end_matches('=');
    if text.len() - body.len() > 2 {
        return None;
    }
    let bytes = body.as_bytes();
    let mut out = Vec::with_capacity(bytes.len() / 4 * 3 + 3);
    for chunk in bytes.chunks(4) {
        let mut n = 0u32;
        for (i, c) in chunk.iter().enumerate() {
            n |= value_of(*c)? << (18 - 6 * i);
        }
        match chunk.len() {
            4 => out.extend_from_slice(&[(n >> 16) as u8, (n >> 8) as u8, n as u8]),
            3 => out.extend_from_slice(&[(n >> 16) as u8, (n >> 8) as u8]),
            2 => out.push((n >> 16) as u8),
            _ => return None,
        }
    }
    Some(out)
}

/// The bytes of a packed vector.
pub fn pack<T: Packable>(v: &[T]) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(v.len().saturating_mul(T::SIZE));
    for x in v {
        x.put(&mut bytes);
    }
    bytes
}

/// The vector of packed bytes; `None` when the length is not a whole number of values.
pub fn unpack<T: Packable>(bytes: &[u8]) -> Option<Vec<T>> {
    if T::SIZE == 0 || bytes.len() % T::SIZE != 0 {
        return None;
    }
    Some(bytes.chunks_exact(T::SIZE).map(T::get).collect())
}

/// `#[serde(with = "packed")]`: writes a `Vec<T>` packed.
pub fn serialize<T: Packable, S: Serializer>(v: &[T], s: S) -> Result<S::Ok, S::Error> {
    let bytes = pack(v);
    if s.is_human_readable() {
        s.serialize_str(&encode_base64(&bytes))
    } else {
        s.serialize_bytes(&bytes)
    }
}

/// `#[serde(with = "packed")]`: reads a packed `Vec<T>` (or a sequence of values).
pub fn deserialize<'de, T, D>(d: D) -> Result<Vec<T>, D::Error>
where
    T: Packable + Deserialize<'de>,
    D: Deserializer<'de>,
{
    if d.is_human_readable() {
        d.deserialize_any(PackedVisitor(PhantomData))
    } else {
        d.deserialize_bytes(PackedVisitor(PhantomData))
    }
}

struct PackedVisitor<T>(PhantomData<T>);

impl<'de, T: Packable + Deserialize<'de>> Visitor<'de> for PackedVisitor<T> {
    type Value = Vec<T>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "base64 text or bytes of {}-byte little-endian values, or a sequence of values", T::SIZE)
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        let bytes = decode_base64(v).ok_or_else(|| E::custom("not base64"))?;
        self.visit_bytes(&bytes)
    }

    fn visit_bytes<E: de::Error>(self, v: &[u8]) -> Result<Self::Value, E> {
        unpack(v).ok_or_else(|| E::custom(format!("{} bytes is not a whole number of {}-byte values", v.len(), T::SIZE)))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        // No pre-allocation from the size hint: it comes from the input.
        let mut out = Vec::new();
        while let Some(x) = seq.next_element()? {
            out.push(x);
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::{Deserialize, Serialize};

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct W {
        #[serde(with = "super")]
        v: Vec<u64>,
        #[serde(with = "super")]
        f: Vec<f32>,
    }

    #[test]
    fn base64_matches_rfc_4648_vectors() {
        // RFC 4648 section 10.
        for (plain, coded) in [("", ""), ("f", "Zg=="), ("fo", "Zm8="), ("foo", "Zm9v"), ("foob", "Zm9vYg=="), ("fooba", "Zm9vYmE="), ("foobar", "Zm9vYmFy")] {
            assert_eq!(encode_base64(plain.as_bytes()), coded);
            assert_eq!(decode_base64(coded).unwrap(), plain.as_bytes());
        }
        assert_eq!(decode_base64("Zm9vYg").unwrap(), b"foob", "padding optional");
        assert!(decode_base64("Zm9v!").is_none());
        assert!(decode_base64("Z").is_none(), "a lone symbol is no byte");
        assert!(decode_base64("Zg===").is_none());
    }

    #[test]
    fn round_trips_in_json_and_reads_plain_sequences() {
        let w = W { v: vec![0, 1, u64::MAX, 0x0123_4567_89ab_cdef], f: vec![0.1, -3.5, f32::MIN_POSITIVE] };
        let json = serde_json::to_string(&w).unwrap();
        // 32 bytes: 44 base64 characters, against 40 digits for u64::MAX and the fourth alone.
        assert!(json.contains(&format!("\"{}\"", encode_base64(&pack(&w.v)))), "{json}");
        let back: W = serde_json::from_str(&json).unwrap();
        assert_eq!(back, w);
        let plain: W = serde_json::from_str(r#"{"v":[5,6],"f":[1.5]}"#).unwrap();
        assert_eq!(plain, W { v: vec![5, 6], f: vec![1.5] });
        // 3 bytes is not a whole u64.
        assert!(serde_json::from_str::<W>(r#"{"v":"AAAA","f":[]}"#).is_err());
        assert!(serde_json::from_str::<W>(r#"{"v":"A$AA","f":[]}"#).is_err());
    }

    #[test]
    fn little_endian_layout() {
        assert_eq!(pack(&[0x0102u16, 0x0304]), [2, 1, 4, 3]);
        assert_eq!(unpack::<u32>(&[1, 0, 0, 0, 0, 0, 0, 2]).unwrap(), [1, 0x0200_0000]);
        assert!(unpack::<u32>(&[1, 2, 3]).is_none());
    }
}
