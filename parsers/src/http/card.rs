//! Payment card numbers (PANs) in request targets and referrers, masked before a target leaves
//! the parser: a card number in a path (`/cards/4111111111111111/verify`) or a query value
//! (`?pan=...`) is personal data under PCI DSS, whatever the parameter is called.
//!
//! A number is masked when it reads as a card: 13 to 19 digits, written together or grouped
//! by one kind of separator (single spaces or single hyphens), neither preceded nor followed
//! by another digit, with an issuer's prefix and length (Visa, Mastercard, American Express,
//! JCB, Diners Club, Maestro, Discover, UnionPay and the other 6-series networks) and a valid
//! Luhn check digit. Not masked: card numbers split by other characters or percent-encoded
//! digits in a referrer (which is kept undecoded), and numbers of other kinds (account ids,
//! millisecond timestamps) unless they happen to look exactly like a card.

use super::text::REDACTED;

/// The digits a card number has at least and at most (ISO/IEC 7812).
const MIN_DIGITS: usize = 13;
const MAX_DIGITS: usize = 19;

/// Replaces every card number in `text` with [`REDACTED`]; `None` when there is none.
pub(crate) fn mask_card_numbers(text: &[u8]) -> Option<Vec<u8>> {
    let mut out: Option<Vec<u8>> = None;
    let mut copied = 0usize;
    let mut i = 0usize;
    while i < text.len() {
        let starts_number = text.get(i).is_some_and(u8::is_ascii_digit) && !(i > 0 && text.get(i - 1).is_some_and(u8::is_ascii_digit));
        if !starts_number {
            i += 1;
            continue;
        }
        let (end, digits) = candidate(text, i);
        if digits.len() >= MIN_DIGITS && is_card(&digits) {
            let o = out.get_or_insert_with(|| Vec::with_capacity(text.len()));
            o.extend_from_slice(text.get(copied..i).unwrap_or_default());
            o.extend_from_slice(REDACTED.as_bytes());
            copied = end;
        }
        i = end.max(i + 1);
    }
    let mut o = out?;
    o.extend_from_slice(text.get(copied..).unwrap_or_default());
    Some(o)
}

/// The number starting at `start`: where it ends and its digit values. Groups are joined by
/// one kind of separator, used singly; a number of more than [`MAX_DIGITS`] digits gives no
/// digits (it is no card, and none of its parts is either).
fn candidate(text: &[u8], start: usize) -> (usize, Vec<u8>) {
    let mut digits = Vec::with_capacity(MAX_DIGITS);
    let mut sep: Option<u8> = None;
    let mut i = start;
    let mut end = start;
    while let Some(&c) = text.get(i) {
        if c.is_ascii_digit() {
            digits.push(c - b'0');
            i += 1;
            end = i;
            continue;
        }
        let next_is_digit = text.get(i + 1).is_some_and(u8::is_ascii_digit);
        if (c == b' ' || c == b'-') && next_is_digit && sep.is_none_or(|s| s == c) {
            sep = Some(c);
            i += 1;
            continue;
        }
        break;
    }
    if digits.len() > MAX_DIGITS {
        digits.clear();
    }
    (end, digits)
}

/// An issuer's prefix and length, and the Luhn check.
fn is_card(d: &[u8]) -> bool {
    let prefix = |k: usize| d.iter().take(k).fold(0u32, |acc, &x| acc * 10 + u32::from(x));
    let len = d.len();
    let issued = match prefix(1) {
        2 => (2221..=2720).contains(&prefix(4)) && len == 16,
        3 => match prefix(2) {
            34 | 37 => len == 15,
            35 => (3528..=3589).contains(&prefix(4)) && len >= 16,
            36 | 38 | 39 => len >= 14,
            30 => (300..=305).contains(&prefix(3)) && len >= 14,
            _ => false,
        },
        4 => matches!(len, 13 | 16 | 19),
        5 => match prefix(2) {
            51..=55 => len == 16,
            50 | 56..=59 => true,
            _ => false,
        },
        6 => true,
        _ => false,
    };
    let sum: u32 = d
        .iter()
        .rev()
        .enumerate()
        .map(|(i, &x)| {
            let x = u32::from(x);
            if i % 2 == 1 {
                let y = x * 2;
                if y > 9 {
                    y - 9
                } else {
                    y
                }
            } else {
                x
            }
        })
        .sum();
    issued && sum % 10 == 0
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn masked(s: &str) -> String {
        mask_card_numbers(s.as_bytes()).map_or_else(|| s.to_string(), |v| String::from_utf8(v).unwrap())
    }

    #[test]
    fn published_test_cards_are_masked_wherever_they_stand() {
        // The networks' published test numbers.
        for pan in ["4111111111111111", "5555555555554444", "378282246310005", "6011111111111117", "3530111333300000", "2223003122003222", "4111 1111 1111 1111", "4111-1111-1111-1111"] {
            assert_eq!(masked(&format!("/cards/{pan}/verify")), "/cards/REDACTED/verify", "{pan}");
            assert_eq!(masked(&format!("/pay?number={pan}&x=1")), "/pay?number=REDACTED&x=1", "{pan}");
            assert_eq!(masked(pan), "REDACTED");
        }
        assert_eq!(masked("/a/4111111111111111/b/5555555555554444"), "/a/REDACTED/b/REDACTED");
    }

    #[test]
    fn other_numbers_are_left_alone() {
        for s in [
            "/accounts/4111111111111112",            // Luhn fails
            "/events?since=1774942827589",           // a millisecond timestamp: no issuer starts 17
            "/accounts/41111111111111111111",        // 20 digits
            "/x/4111 1111-1111 1111",                // mixed separators
            "/x/4111  1111 1111 1111",               // double space
            "/orders/12345",
            "/v4.0/aisp/accounts",
        ] {
            assert_eq!(masked(s), s, "{s}");
            assert!(mask_card_numbers(s.as_bytes()).is_none());
        }
    }
}
