//! IBANs in request targets and referrers, masked before a target leaves the parser, like card
//! numbers (`card.rs`): an account number in a path (`/beneficiaries/GB82WEST12345698765432`)
//! or a query (`?iban=...`) is personal data, whatever the parameter is called.
//!
//! An IBAN is masked when it reads as one (ISO 13616): a country code of the registry, two
//! check digits, the rest letters and digits up to the country's registry length, in
//! electronic form or in print form (groups of four joined by single spaces), either case, not
//! run together with other letters or digits, and with a valid mod-97 check. Not masked: IBANs
//! of a country the registry below does not hold, IBANs split by other characters, and
//! percent-encoded letters in a referrer (which is kept undecoded).

use super::text::REDACTED;

/// IBAN lengths by country (SWIFT IBAN registry, release 99, 2025): two letters and two
/// digits each. The content analysis of bodies (`discovery`, which this crate does not depend
/// on) holds the same registry.
const LENGTHS: &[u8] = b"AD24AE23AL28AT20AZ28BA20BE16BG22BH22BI27BR29BY28CH21CR22CY28CZ24DE22DJ27DK18DO28EE20EG29ES24\
FI18FK18FO18FR27GB22GE22GI23GL18GR27GT28HN28HR21HU28IE22IL23IQ23IS26IT27JO30KW30KZ20LB28LC32LI21LT20LU20LV21LY25\
MC27MD24ME22MK19MN20MR27MT31MU30NI28NL18NO15OM23PK24PL28PS29PT25QA29RO24RS22RU33SA24SC31SD18SE24SI19SK24SM27\
SO23ST25SV28TL23TN24TR26UA29VA22VG24XK20YE30";

/// The longest IBAN in the registry.
const MAX_LEN: usize = 34;

/// The registry length of `country` (upper case).
fn registry_len(country: [u8; 2]) -> Option<usize> {
    let entry = LENGTHS.chunks_exact(4).find(|e| e.get(..2) == Some(&country[..]))?;
    let (tens, ones) = (*entry.get(2)?, *entry.get(3)?);
    Some(usize::from(tens.wrapping_sub(b'0')) * 10 + usize::from(ones.wrapping_sub(b'0')))
}

/// Replaces every IBAN in `text` with [`REDACTED`]; `None` when there is none.
pub(crate) fn mask_ibans(text: &[u8]) -> Option<Vec<u8>> {
    let mut out: Option<Vec<u8>> = None;
    let mut copied = 0usize;
    let mut i = 0usize;
    while i < text.len() {
        let starts = text.get(i).is_some_and(u8::is_ascii_alphabetic) && !(i > 0 && text.get(i - 1).is_some_and(u8::is_ascii_alphanumeric));
        if starts {
            if let Some(end) = iban_at(text, i) {
                let o = out.get_or_insert_with(|| Vec::with_capacity(text.len()));
                o.extend_from_slice(text.get(copied..i).unwrap_or_default());
                o.extend_from_slice(REDACTED.as_bytes());
                copied = end;
                i = end;
                continue;
            }
        }
        i += 1;
    }
    let mut o = out?;
    o.extend_from_slice(text.get(copied..).unwrap_or_default());
    Some(o)
}

/// The IBAN starting at `start`: where it ends. Print form is decided at the first group
/// boundary and then required at every one.
fn iban_at(s: &[u8], start: usize) -> Option<usize> {
    let country = [s.get(start)?.to_ascii_uppercase(), s.get(start + 1)?.to_ascii_uppercase()];
    if !country.iter().all(u8::is_ascii_uppercase) {
        return None;
    }
    let len = registry_len(country)?;
    let mut chars = [0u8; MAX_LEN];
    let mut i = start;
    let mut spaced: Option<bool> = None;
    for k in 0..len {
        if k > 0 && k % 4 == 0 {
            let space = s.get(i) == Some(&b' ');
            if *spaced.get_or_insert(space) != space {
                return None;
            }
            if space {
                i += 1;
            }
        }
        let c = s.get(i)?.to_ascii_uppercase();
        let ok = match k {
            0 | 1 => true,
            2 | 3 => c.is_ascii_digit(),
            _ => c.is_ascii_digit() || c.is_ascii_uppercase(),
        };
        if !ok {
            return None;
        }
        *chars.get_mut(k)? = c;
        i += 1;
    }
    if s.get(i).is_some_and(u8::is_ascii_alphanumeric) {
        return None;
    }
    let chars = chars.get(..len)?;
    if matches!(chars.get(2..4), Some(b"00" | b"01" | b"99")) {
        return None;
    }
    (mod97(chars) == 1).then_some(i)
}

/// The IBAN rearranged (first four characters moved to the end), letters as 10..35, mod 97.
fn mod97(iban: &[u8]) -> u32 {
    let (head, bban) = iban.split_at(4.min(iban.len()));
    bban.iter().chain(head).fold(0u32, |rem, c| match c {
        b'0'..=b'9' => (rem * 10 + u32::from(c - b'0')) % 97,
        _ => (rem * 100 + u32::from(c.saturating_sub(b'A')) + 10) % 97,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn masked(s: &str) -> String {
        mask_ibans(s.as_bytes()).map_or_else(|| s.to_string(), |v| String::from_utf8(v).unwrap())
    }

    #[test]
    fn published_ibans_are_masked_wherever_they_stand() {
        // The registry's examples.
        for iban in ["GB82WEST12345698765432", "DE89370400440532013000", "NL91ABNA0417164300", "FR1420041010050500013M02606", "NO9386011117947", "MT84MALT011000012345MTLCAST001S"] {
            assert_eq!(masked(&format!("/beneficiaries/{iban}/verify")), "/beneficiaries/REDACTED/verify", "{iban}");
            assert_eq!(masked(&format!("/pay?iban={iban}&x=1")), "/pay?iban=REDACTED&x=1", "{iban}");
            assert_eq!(masked(&iban.to_lowercase()), "REDACTED", "{iban} in lower case");
            assert_eq!(masked(iban), "REDACTED");
        }
        assert_eq!(masked("to=GB82 WEST 1234 5698 7654 32&from=DE89 3704 0044 0532 0130 00"), "to=REDACTED&from=REDACTED");
    }

    #[test]
    fn other_tokens_are_left_alone() {
        for s in [
            "/beneficiaries/GB82WEST12345698765433",   // mod 97 fails
            "/x/GB82WEST1234569876543",                // one short for GB
            "/x/GB82WEST123456987654321",              // run together with more
            "/x/XGB82WEST12345698765432",              // run together before
            "/x/ZZ82WEST12345698765432",               // no such country
            "/x/GB82 WEST12345698765432",              // mixed forms
            "/accounts/a1b2c3d4e5f6a7b8c9d0e1f2a3b4",  // an id
            "/open-banking/v4.0/aisp/accounts",
        ] {
            assert_eq!(masked(s), s);
        }
    }

    #[test]
    fn registry_lengths_parse() {
        assert_eq!(registry_len(*b"GB"), Some(22));
        assert_eq!(registry_len(*b"NO"), Some(15));
        assert_eq!(registry_len(*b"RU"), Some(33));
        assert_eq!(registry_len(*b"ZZ"), None);
        assert_eq!(LENGTHS.len() % 4, 0);
        assert!(LENGTHS.chunks_exact(4).all(|e| e[0].is_ascii_uppercase() && e[1].is_ascii_uppercase() && e[2].is_ascii_digit() && e[3].is_ascii_digit()));
    }
}
