//! The sensitive-value detectors: free text scanned token by token, and whole values read with
//! their field's context. Everything works on bytes (tokens are ASCII), so text in any
//! encoding is scanned without validation; non-ASCII bytes are boundaries.

mod card;
pub(crate) use card::luhn;
mod context;
mod email;
mod iban;
mod ids;
mod phone;

pub(crate) use context::FieldContext;

use super::SensitiveKind;

/// Match counts by kind, saturating.
#[derive(Default)]
pub(crate) struct Tally([u32; SensitiveKind::ALL.len()]);

impl Tally {
    pub fn add(&mut self, kind: SensitiveKind) {
        if let Some(n) = self.0.get_mut(kind as usize) {
            *n = n.saturating_add(1);
        }
    }

    /// Matches of every kind together.
    pub fn total(&self) -> u64 {
        self.0.iter().map(|n| u64::from(*n)).sum()
    }

    /// Kinds with at least one match, in [`SensitiveKind::ALL`] order.
    pub fn into_counts(self) -> Vec<(SensitiveKind, u32)> {
        SensitiveKind::ALL
            .into_iter()
            .zip(self.0)
            .filter(|(_, n)| *n > 0)
            .collect()
    }
}

/// How one text is scanned.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Scan {
    /// The text was cut (a limit, not its real end): a token touching the end is not counted,
    /// because the real one may go on (`4111111111111111` could be the start of 20 digits).
    pub cut: bool,
    /// What the field's name says about bare card-like digits in it.
    pub card: CardHint,
}

/// What a field's name says about a bare run of digits that could be a card number.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) enum CardHint {
    /// Nothing (free text, a neutral name): common card lengths fire.
    #[default]
    Neutral,
    /// Named for cards (`cardNumber`, `pan`): any card length fires.
    Card,
    /// Named for something else (`transactionId`, `orderNumber`, `accountNumber`): bare digits
    /// do not fire (grouped ones still do).
    Other,
}

/// Whether a token ending at `end` ends there: no letter or digit follows, and no number goes
/// on through `.`, `-`, `/` or `:` (`1234.56`, `2024-01-15`, `10:30`).
fn ends_cleanly(s: &[u8], end: usize, scan: Scan) -> bool {
    match s.get(end) {
        None => !scan.cut,
        Some(b) if b.is_ascii_alphanumeric() => false,
        Some(b'.' | b'-' | b'/' | b':') => !s.get(end + 1).is_some_and(u8::is_ascii_digit),
        Some(_) => true,
    }
}

/// Whether a token may start at `i`: nothing alphanumeric before it, and no number running
/// into it through `.`, `-`, `/`, `:` or `+`.
fn starts_cleanly(s: &[u8], i: usize) -> bool {
    let Some(prev_i) = i.checked_sub(1) else {
        return true;
    };
    match s.get(prev_i) {
        None => true,
        Some(b) if b.is_ascii_alphanumeric() => false,
        Some(b'.' | b'-' | b'/' | b':') => !prev_i
            .checked_sub(1)
            .and_then(|p| s.get(p))
            .is_some_and(u8::is_ascii_digit),
        Some(b'+') => false,
        Some(_) => true,
    }
}

/// Scans free text, counting every match.
pub(crate) fn scan_text(s: &[u8], cut: bool, tally: &mut Tally) {
    scan_with(
        s,
        Scan {
            cut,
            card: CardHint::Neutral,
        },
        tally,
    );
}

fn scan_with(s: &[u8], scan: Scan, tally: &mut Tally) {
    let mut i = 0usize;
    // The next `@` at or after `i`: an email is only tried where one is close ahead.
    let mut next_at = 0usize;
    while let Some(&b) = s.get(i) {
        if b == b'+' {
            let prev_alnum = i
                .checked_sub(1)
                .and_then(|p| s.get(p))
                .is_some_and(u8::is_ascii_alphanumeric);
            match phone::international_at(s, i, scan).filter(|_| !prev_alnum) {
                Some(end) => {
                    tally.add(SensitiveKind::Phone);
                    i = end;
                }
                None => i += 1,
            }
            continue;
        }
        let word_start = b.is_ascii_alphanumeric()
            && i.checked_sub(1)
                .and_then(|p| s.get(p))
                .is_none_or(|p| !p.is_ascii_alphanumeric());
        if !word_start {
            i += 1;
            continue;
        }
        if next_at < i {
            next_at = s
                .get(i..)
                .and_then(|rest| rest.iter().position(|c| *c == b'@'))
                .map_or(usize::MAX, |p| p + i);
        }
        if next_at - i <= email::MAX_LOCAL {
            if let Some(end) = email::at(s, i, scan) {
                tally.add(SensitiveKind::Email);
                i = end;
                continue;
            }
        }
        let clean = starts_cleanly(s, i);
        if b.is_ascii_digit() {
            let found = if clean { digits_at(s, i, scan) } else { None };
            match found {
                Some((kind, end)) => {
                    tally.add(kind);
                    i = end;
                }
                // Skip the whole run: nothing inside a rejected number is a token of its own.
                None => i = skip_number(s, i),
            }
            continue;
        }
        if clean && b.is_ascii_uppercase() {
            let found = iban::at(s, i, scan)
                .map(|end| (SensitiveKind::Iban, end))
                .or_else(|| ids::nino_at(s, i, scan).map(|end| (SensitiveKind::UkNino, end)))
                .or_else(|| {
                    ids::cnpj_formatted_at(s, i, scan).map(|end| (SensitiveKind::BrCnpj, end))
                });
            if let Some((kind, end)) = found {
                tally.add(kind);
                i = end;
                continue;
            }
        }
        i += 1;
    }
}

/// Formatted national ids, then card numbers, in the digit run at `i`.
fn digits_at(s: &[u8], i: usize, scan: Scan) -> Option<(SensitiveKind, usize)> {
    if let Some(end) = ids::cpf_formatted_at(s, i, scan) {
        return Some((SensitiveKind::BrCpf, end));
    }
    if let Some(end) = ids::cnpj_formatted_at(s, i, scan) {
        return Some((SensitiveKind::BrCnpj, end));
    }
    if let Some(end) = ids::ssn_at(s, i, scan) {
        return Some((SensitiveKind::UsSsn, end));
    }
    card::at(s, i, scan).map(|end| (SensitiveKind::CardNumber, end))
}

/// Past the number at `i`: digits and the punctuation that joins digit groups. Spaces do not
/// join: in `qty 12 4111 1111 1111 1111` the card after the `12` is still looked at.
fn skip_number(s: &[u8], mut i: usize) -> usize {
    while let Some(b) = s.get(i) {
        let joins = matches!(b, b'.' | b',' | b'-' | b'/' | b':')
            && s.get(i + 1).is_some_and(u8::is_ascii_digit);
        if !(b.is_ascii_digit() || joins) {
            break;
        }
        i += 1;
    }
    i
}

/// Longest value tried as a whole (a phone number with separators, a formatted card).
const MAX_WHOLE: usize = 32;

/// Scans one value (a JSON string, a form value). When it could be read several ways (bare
/// digits, a national phone form), `context` is asked for the field's names; otherwise it is
/// scanned as free text.
pub(crate) fn scan_value(
    value: &[u8],
    cut: bool,
    context: impl FnOnce() -> FieldContext,
    tally: &mut Tally,
) {
    let trimmed = value.trim_ascii();
    // Everything the field names can change has 8 to 19 digits (phones, CPF, CNPJ, cards);
    // amounts, dates and words are read the same in any field and skip the names.
    let digits = trimmed.iter().filter(|b| b.is_ascii_digit()).count();
    let ambiguous = !cut
        && trimmed.len() <= MAX_WHOLE
        && (8..=19).contains(&digits)
        && (trimmed
            .iter()
            .all(|b| b.is_ascii_digit() || b" -().+".contains(b))
            || (trimmed.len() == 14
                && trimmed
                    .iter()
                    .all(|b| b.is_ascii_digit() || b.is_ascii_uppercase())));
    if !ambiguous {
        scan_with(
            value,
            Scan {
                cut,
                card: CardHint::Neutral,
            },
            tally,
        );
        return;
    }
    let ctx = context();
    if trimmed.iter().all(u8::is_ascii_digit) || trimmed.len() == 14 {
        if let Some(kind) = whole_id(trimmed, ctx, false) {
            tally.add(kind);
            return;
        }
    }
    if ctx.phone && phone::national(trimmed) {
        tally.add(SensitiveKind::Phone);
        return;
    }
    scan_with(
        value,
        Scan {
            cut,
            card: ctx.card_hint(),
        },
        tally,
    );
}

/// Scans the digits of a JSON integer (no sign, no fraction): a card number, or with the
/// field's context a CPF, CNPJ or phone number.
pub(crate) fn scan_integer(
    digits: &[u8],
    context: impl FnOnce() -> FieldContext,
    tally: &mut Tally,
) {
    if !(8..=19).contains(&digits.len()) {
        return;
    }
    let ctx = context();
    let card = || {
        values::<19>(digits).is_some_and(|v| {
            v.get(..digits.len())
                .is_some_and(|v| card::plausible(v, card::Evidence::from(ctx.card_hint())))
        })
    };
    let kind = whole_id(digits, ctx, true)
        .or_else(|| card().then_some(SensitiveKind::CardNumber))
        .or_else(|| (ctx.phone && digits.len() <= 15).then_some(SensitiveKind::Phone));
    if let Some(kind) = kind {
        tally.add(kind);
    }
}

/// The national id a whole value is when the field's names allow it: 11 digits for a CPF, 14
/// characters (twelve upper-case letters or digits, two digits) for a CNPJ. With `pad` (an
/// integer, which loses leading zeros) shorter digit strings are padded first.
fn whole_id(v: &[u8], ctx: FieldContext, pad: bool) -> Option<SensitiveKind> {
    let digits = v.iter().all(u8::is_ascii_digit);
    let fits = |n: usize| v.len() == n || (pad && digits && v.len() < n);
    let chars = values::<14>(v)?;
    let chars = chars.get(..v.len())?;
    let cpf = || digits && fits(11) && ids::cpf_bare(chars);
    let cnpj = || {
        let (head, tail) = v.split_at(v.len().saturating_sub(2));
        let alnum = head
            .iter()
            .all(|b| b.is_ascii_digit() || b.is_ascii_uppercase())
            && tail.iter().all(u8::is_ascii_digit);
        alnum && fits(14) && ids::cnpj_bare(chars)
    };
    if (ctx.cpf || ctx.document) && cpf() {
        Some(SensitiveKind::BrCpf)
    } else if (ctx.cnpj || ctx.document) && cnpj() {
        Some(SensitiveKind::BrCnpj)
    } else {
        None
    }
}

/// Character values (`c - b'0'`) of at most `N` digits or upper-case letters.
fn values<const N: usize>(v: &[u8]) -> Option<[u8; N]> {
    if v.len() > N {
        return None;
    }
    let mut out = [0u8; N];
    for (o, c) in out.iter_mut().zip(v) {
        *o = c.checked_sub(b'0')?;
    }
    Some(out)
}
