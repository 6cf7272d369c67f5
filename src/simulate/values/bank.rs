//! Bank identifiers with real check digits: IBANs (ISO 13616, mod 97), card numbers (Luhn),
//! sort codes and account numbers, BICs; and the rule that keeps an account's `Identification`
//! consistent with its `SchemeName`.

use apitap_discovery::openapi::Schema;
use serde_json::{Map, Value};

use super::ValueCtx;
use crate::simulate::rng::Rng;

const UPPER: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ";
const DIGITS: &[u8] = b"0123456789";
const UPPER_ALNUM: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";

/// One run of BBAN characters: its alphabet and length.
type Run = (&'static [u8], usize);

/// BBAN layouts (ISO 13616 registry) of the countries the simulator uses; total IBAN length is
/// 4 plus the runs.
const LAYOUTS: &[(&str, &[Run])] = &[
    ("GB", &[(UPPER, 4), (DIGITS, 6), (DIGITS, 8)]),               // bank, sort code, account: 22
    ("IE", &[(UPPER, 4), (DIGITS, 6), (DIGITS, 8)]),               // 22
    ("BR", &[(DIGITS, 8), (DIGITS, 5), (DIGITS, 10), (UPPER, 1), (UPPER_ALNUM, 1)]), // 29
    ("DE", &[(DIGITS, 18)]),                                        // 22
    ("FR", &[(DIGITS, 10), (UPPER_ALNUM, 11), (DIGITS, 2)]),        // 27
    ("ES", &[(DIGITS, 20)]),                                        // 24
    ("IT", &[(UPPER, 1), (DIGITS, 10), (UPPER_ALNUM, 12)]),         // 27
    ("NL", &[(UPPER, 4), (DIGITS, 10)]),                            // 18
];

fn layout(country: &str) -> Option<&'static [Run]> {
    LAYOUTS.iter().find(|(c, _)| *c == country).map(|(_, l)| *l)
}

/// `s` followed by the 4 moved characters, read as a number mod 97 (letters count as 10..35).
/// `None` for a character other than a digit or an upper-case letter.
fn mod97(chars: impl Iterator<Item = u8>) -> Option<u32> {
    let mut rem = 0u32;
    for c in chars {
        rem = match c {
            b'0'..=b'9' => (rem * 10 + u32::from(c - b'0')) % 97,
            b'A'..=b'Z' => (rem * 100 + u32::from(c - b'A') + 10) % 97,
            _ => return None,
        };
    }
    Some(rem)
}

/// A valid IBAN (correct mod-97 check digits) for `country` (ISO 3166 alpha-2, any case): the
/// registry layout for GB, IE, BR (29 characters), DE, FR, ES, IT and NL; other two-letter codes
/// get the GB layout under their own code, anything else is treated as GB. No spaces.
pub fn iban(country: &str, rng: &mut Rng) -> String {
    let upper = country.to_ascii_uppercase();
    let code = if upper.len() == 2 && upper.bytes().all(|b| b.is_ascii_uppercase()) { upper } else { "GB".to_string() };
    let runs = layout(&code).or_else(|| layout("GB")).unwrap_or_default();
    let bban: String = runs.iter().map(|(alphabet, len)| rng.pick_chars(*len, alphabet)).collect();
    let rem = mod97(bban.bytes().chain(code.bytes()).chain(*b"00")).unwrap_or(0);
    format!("{code}{:02}{bban}", 98 - rem)
}

/// Whether `iban` is a well-formed IBAN: country letters, two check digits, an upper-case
/// alphanumeric BBAN, 15 to 34 characters in all (exactly the registry length for the
/// countries [`iban`] knows) and a mod-97 remainder of 1. No spaces allowed.
pub fn iban_is_valid(iban: &str) -> bool {
    let b = iban.as_bytes();
    let (Some(head), Some(bban)) = (b.get(..4), b.get(4..)) else { return false };
    if !(15..=34).contains(&b.len())
        || !head.iter().take(2).all(u8::is_ascii_uppercase)
        || !head.iter().skip(2).all(u8::is_ascii_digit)
        || !bban.iter().all(|c| c.is_ascii_digit() || c.is_ascii_uppercase())
    {
        return false;
    }
    let country = iban.get(..2).unwrap_or_default();
    if let Some(runs) = layout(country) {
        if runs.iter().map(|(_, n)| n).sum::<usize>() != bban.len() {
            return false;
        }
    }
    mod97(bban.iter().chain(head).copied()) == Some(1)
}

/// A 16-digit card number passing the Luhn check, with a Visa (`4`) or Mastercard (`51`-`55`,
/// `2221`-`2720`) prefix. Fake: no issuer behind it.
pub fn card_number(rng: &mut Rng) -> String {
    let prefix = match rng.below(3) {
        0 => "4".to_string(),
        1 => format!("5{}", rng.range(1, 5)),
        _ => rng.range(2221, 2720).to_string(),
    };
    let mut digits = prefix.clone();
    digits.push_str(&rng.pick_chars(15 - prefix.len(), DIGITS));
    // The check digit makes the doubled-from-the-right sum a multiple of 10.
    let sum = luhn_sum(&digits, true);
    digits.push(char::from(b'0' + ((10 - sum % 10) % 10) as u8));
    digits
}

/// Luhn sum of ASCII digits, doubling every second digit from the right, starting with the
/// rightmost one when `double_last`.
fn luhn_sum(digits: &str, double_last: bool) -> u32 {
    digits
        .bytes()
        .rev()
        .enumerate()
        .map(|(i, c)| {
            let d = u32::from(c.wrapping_sub(b'0'));
            if (i % 2 == 0) == double_last {
                let dd = d * 2;
                if dd > 9 {
                    dd - 9
                } else {
                    dd
                }
            } else {
                d
            }
        })
        .sum()
}

/// Whether `digits` (ASCII digits only, at least two) passes the Luhn check.
pub fn luhn_ok(digits: &str) -> bool {
    digits.len() >= 2 && digits.bytes().all(|c| c.is_ascii_digit()) && luhn_sum(digits, false) % 10 == 0
}

/// A BIC: 4-letter institution, the country, a 2-character location (8 characters).
pub fn bic(country: &str, rng: &mut Rng) -> String {
    let c = if country.len() == 2 && country.bytes().all(|b| b.is_ascii_alphabetic()) { country.to_ascii_uppercase() } else { "GB".into() };
    format!("{}{c}{}", rng.pick_chars(4, UPPER), rng.pick_chars(2, UPPER_ALNUM))
}

/// Account schemes an open `SchemeName` gets, by weight.
const ACCOUNT_SCHEMES: &[(&str, f64)] = &[("UK.OBIE.SortCodeAccountNumber", 0.6), ("UK.OBIE.IBAN", 0.3), ("UK.OBIE.PAN", 0.1)];

/// Makes an object's `Identification` agree with its `SchemeName` (the Open Banking account,
/// agent and card identification objects): an IBAN for an IBAN scheme, 14 digits for a sort
/// code and account number, a card number for a PAN, a BIC for an agent. An open
/// `SchemeName` (no enumeration) first gets a realistic scheme. Values that would break the
/// schema's length limits are left as generated.
pub(super) fn fix_account_identification(name: &str, properties: &[(String, Schema)], map: &mut Map<String, Value>, ctx: &ValueCtx<'_>, rng: &mut Rng) {
    let schema_of = |prop: &str| properties.iter().find(|(n, _)| n == prop).map(|(_, s)| s);
    let (Some(scheme_schema), Some(id_schema)) = (schema_of("SchemeName"), schema_of("Identification")) else { return };
    if !map.contains_key("Identification") {
        return;
    }
    let open_scheme = matches!(scheme_schema, Schema::String { enumeration, pattern: None, .. } if enumeration.is_empty());
    if open_scheme {
        let scheme = if contains_ci(name, "agent") {
            "UK.OBIE.BICFI"
        } else {
            let weights: Vec<f64> = ACCOUNT_SCHEMES.iter().map(|(_, w)| *w).collect();
            rng.weighted(&weights).and_then(|i| ACCOUNT_SCHEMES.get(i)).map_or("UK.OBIE.SortCodeAccountNumber", |(s, _)| *s)
        };
        if fits(scheme_schema, scheme) {
            map.insert("SchemeName".into(), Value::String(scheme.into()));
        }
    }
    let Some(scheme) = map.get("SchemeName").and_then(Value::as_str).map(str::to_ascii_uppercase) else { return };
    let id = if scheme.contains("IBAN") {
        iban(ctx.country, rng)
    } else if scheme.contains("SORTCODE") {
        rng.pick_chars(14, DIGITS)
    } else if scheme.ends_with("PAN") {
        card_number(rng)
    } else if scheme.contains("BIC") {
        bic(ctx.country, rng)
    } else {
        return;
    };
    if fits(id_schema, &id) {
        map.insert("Identification".into(), Value::String(id));
    }
}

fn contains_ci(haystack: &str, needle: &str) -> bool {
    haystack.to_ascii_lowercase().contains(needle)
}

/// Whether `s` satisfies a string schema's length limits (other schemas: no).
fn fits(schema: &Schema, s: &str) -> bool {
    let Schema::String { min_length, max_length, .. } = schema else { return false };
    let len = s.chars().count() as u64;
    min_length.is_none_or(|m| len >= m) && max_length.is_none_or(|m| len <= m)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
    use super::*;

    #[test]
    fn published_ibans_validate_and_altered_ones_do_not() {
        // Examples from the ISO 13616 registry / national banking associations.
        for good in ["GB82WEST12345698765432", "DE89370400440532013000", "FR1420041010050500013M02606", "BR1800360305000010009795493C1", "NL91ABNA0417164300"] {
            assert!(iban_is_valid(good), "{good}");
        }
        for bad in [
            "GB82WEST12345698765433", // last digit changed
            "GB28WEST12345698765432", // check digits swapped
            "GB82WEST1234569876543",  // too short for GB
            "gb82WEST12345698765432",
            "GB82 WEST 1234 5698 7654 32",
            "",
            "GB",
        ] {
            assert!(!iban_is_valid(bad), "{bad}");
        }
    }

    #[test]
    fn generated_ibans_are_valid_with_the_country_length() {
        let mut rng = Rng::new(21);
        for (country, len) in [("GB", 22), ("gb", 22), ("BR", 29), ("DE", 22), ("FR", 27), ("ES", 24), ("IT", 27), ("NL", 18), ("IE", 22), ("PT", 22)] {
            for _ in 0..500 {
                let i = iban(country, &mut rng);
                assert_eq!(i.len(), len, "{i}");
                assert!(i.starts_with(&country.to_ascii_uppercase()), "{i}");
                assert!(iban_is_valid(&i), "{i}");
            }
        }
        let odd = iban("??", &mut rng);
        assert!(odd.starts_with("GB") && iban_is_valid(&odd));
        let gb = iban("GB", &mut rng);
        assert!(gb[4..8].bytes().all(|b| b.is_ascii_uppercase()) && gb[8..].bytes().all(|b| b.is_ascii_digit()), "{gb}");
    }

    #[test]
    fn luhn_matches_known_numbers() {
        // Public test card numbers.
        for good in ["4111111111111111", "5555555555554444", "2223003122003222", "79927398713"] {
            assert!(luhn_ok(good), "{good}");
        }
        for bad in ["4111111111111112", "79927398710", "", "7", "4111-1111-1111-1111"] {
            assert!(!luhn_ok(bad), "{bad}");
        }
    }

    #[test]
    fn generated_cards_pass_luhn_with_real_prefixes() {
        let mut rng = Rng::new(4);
        let mut seen = [false; 3];
        for _ in 0..2000 {
            let c = card_number(&mut rng);
            assert_eq!(c.len(), 16, "{c}");
            assert!(luhn_ok(&c), "{c}");
            let two: u32 = c[..2].parse().unwrap();
            let four: u32 = c[..4].parse().unwrap();
            if c.starts_with('4') {
                seen[0] = true;
            } else if (51..=55).contains(&two) {
                seen[1] = true;
            } else {
                assert!((2221..=2720).contains(&four), "{c}");
                seen[2] = true;
            }
        }
        assert_eq!(seen, [true; 3]);
    }
}
