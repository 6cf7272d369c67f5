//! What a field's name (and its parent's) says about the value in it. Only consulted for
//! values that are ambiguous without it: bare digit strings and national phone forms.

/// Which readings of an ambiguous value the field names allow.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct FieldContext {
    /// A card number field: any card length and no grouping needed.
    pub card: bool,
    /// A field named for something that is not a card (an id, a reference, an order, an
    /// account, a time): bare digits there are not read as card numbers.
    pub not_card: bool,
    /// A phone field: national forms and bare digits.
    pub phone: bool,
    /// A CPF field: bare 11 digits.
    pub cpf: bool,
    /// A CNPJ field: bare 14 characters.
    pub cnpj: bool,
    /// A document or tax-id field that may hold either (the length decides).
    pub document: bool,
}

/// Room for a name reduced to lower-case letters and digits; longer names are cut, which only
/// hides keywords past 64 characters.
const COMPACT: usize = 64;

/// A name reduced to lower-case ASCII letters and digits (`cnpj_Cpf-Number` gives
/// `cnpjcpfnumber`), on the stack.
struct Compact {
    buf: [u8; COMPACT],
    len: usize,
}

impl Compact {
    fn new(name: &str) -> Self {
        let mut buf = [0u8; COMPACT];
        let mut len = 0;
        for b in name.bytes().filter(u8::is_ascii_alphanumeric) {
            if let Some(slot) = buf.get_mut(len) {
                *slot = b.to_ascii_lowercase();
                len += 1;
            }
        }
        Compact { buf, len }
    }

    fn bytes(&self) -> &[u8] {
        self.buf.get(..self.len).unwrap_or(&[])
    }

    fn contains(&self, needle: &[u8]) -> bool {
        self.bytes().windows(needle.len()).any(|w| w == needle)
    }

    fn ends_with(&self, suffix: &[u8]) -> bool {
        self.bytes().ends_with(suffix)
    }
}

/// The words of a name, split at non-alphanumerics and camel-case humps: `maskedPAN` gives
/// `masked`, `PAN`; `PANNumber` gives `PAN`, `Number`.
fn words(name: &str) -> Words<'_> {
    Words { name, pos: 0 }
}

struct Words<'a> {
    name: &'a str,
    pos: usize,
}

impl<'a> Iterator for Words<'a> {
    type Item = &'a str;

    fn next(&mut self) -> Option<&'a str> {
        let b = self.name.as_bytes();
        let start = self.pos
            + b.get(self.pos..)?
                .iter()
                .position(u8::is_ascii_alphanumeric)?;
        let mut i = start + 1;
        while let Some(c) = b.get(i).filter(|c| c.is_ascii_alphanumeric()) {
            let prev = b.get(i - 1);
            let hump = c.is_ascii_uppercase()
                && (prev.is_some_and(|p| p.is_ascii_lowercase() || p.is_ascii_digit())
                    || (prev.is_some_and(u8::is_ascii_uppercase)
                        && b.get(i + 1).is_some_and(u8::is_ascii_lowercase)));
            if hump {
                break;
            }
            i += 1;
        }
        self.pos = i;
        self.name.get(start..i)
    }
}

fn has_word(name: &str, list: &[&str]) -> bool {
    words(name).any(|w| list.iter().any(|l| w.eq_ignore_ascii_case(l)))
}

/// Words of field names that say the value is something other than a card number.
const NOT_CARD: &[&str] = &[
    "id",
    "ids",
    "uuid",
    "guid",
    "key",
    "order",
    "invoice",
    "reference",
    "ref",
    "transaction",
    "tracking",
    "account",
    "conta",
    "agency",
    "agencia",
    "branch",
    "contract",
    "consent",
    "timestamp",
    "time",
    "epoch",
    "date",
    "sequence",
    "seq",
    "serial",
    "nonce",
    "version",
    "count",
    "total",
    "amount",
    "balance",
    "phone",
    "mobile",
    "tel",
    "document",
];

impl FieldContext {
    /// What the names say about bare card-like digits.
    pub(crate) fn card_hint(&self) -> super::CardHint {
        if self.card {
            super::CardHint::Card
        } else if self.not_card || self.phone || self.cpf || self.cnpj || self.document {
            super::CardHint::Other
        } else {
            super::CardHint::Neutral
        }
    }

    /// The context of a value under `key`, inside an object or array under `parent`.
    pub(crate) fn from_names(key: Option<&str>, parent: Option<&str>) -> Self {
        let mut ctx = FieldContext::default();
        for (name, is_key) in [(key, true), (parent, false)] {
            let Some(name) = name else { continue };
            let c = Compact::new(name);
            ctx.card |= has_word(name, &["card", "cards", "pan"])
                || [
                    b"cardnumber".as_slice(),
                    b"cardno",
                    b"primaryaccountnumber",
                    b"cartao",
                    b"creditcard",
                    b"debitcard",
                ]
                .iter()
                .any(|k| c.contains(k));
            if is_key {
                // `partieNumber`, `serialNo`: the number of something named, not a card's
                // (unless the something is a card, which `card` catches first).
                let qualified_number =
                    words(name).count() > 1 && has_word(name, &["number", "no", "num", "nr"]);
                ctx.not_card = has_word(name, NOT_CARD) || qualified_number;
            }
            ctx.phone |= has_word(name, &["tel", "cell", "fone"])
                || [
                    b"phone".as_slice(),
                    b"mobile",
                    b"telefon",
                    b"celular",
                    b"msisdn",
                ]
                .iter()
                .any(|k| c.contains(k));
            ctx.cpf |= c.contains(b"cpf");
            ctx.cnpj |= c.contains(b"cnpj");
            ctx.document |= [
                b"taxid".as_slice(),
                b"taxnumber",
                b"nationalid",
                b"documentnumber",
            ]
            .iter()
            .any(|k| c.contains(k))
                || (is_key && (c.bytes() == b"document" || c.bytes() == b"documento"))
                || (!is_key
                    && [b"document".as_slice(), b"documents", b"documento"]
                        .iter()
                        .any(|k| c.ends_with(k)));
        }
        ctx
    }

    /// The context from a shape path like `Data.Party.document.identification` or
    /// `phones[]`: its last segment is the key, the one before the parent, `[]` ignored.
    pub(crate) fn from_path(path: &str) -> Self {
        let mut segments = path
            .rsplit('.')
            .map(|s| s.trim_end_matches("[]"))
            .filter(|s| !s.is_empty());
        let key = segments.next();
        let parent = segments.next();
        Self::from_names(key, parent)
    }
}
