use super::*;

fn text(s: &str) -> Vec<(SensitiveKind, u32)> {
    let mut t = Tally::default();
    scan_text(s.as_bytes(), false, &mut t);
    t.into_counts()
}

fn value(s: &str, path: &str) -> Vec<(SensitiveKind, u32)> {
    let mut t = Tally::default();
    scan_value(
        s.as_bytes(),
        false,
        || FieldContext::from_path(path),
        &mut t,
    );
    t.into_counts()
}

fn integer(s: &str, path: &str) -> Vec<(SensitiveKind, u32)> {
    let mut t = Tally::default();
    scan_integer(s.as_bytes(), || FieldContext::from_path(path), &mut t);
    t.into_counts()
}

use SensitiveKind::*;

#[test]
fn prose_with_one_of_each() {
    let found = text(
        "Card 4111 1111 1111 1111, IBAN GB82 WEST 1234 5698 7654 32, mail jane.doe@example.com, \
         call +44 7700 900123, NI AB123456C, CPF 111.444.777-35, CNPJ 11.222.333/0001-81, SSN 536-22-1234.",
    );
    assert_eq!(
        found,
        vec![
            (CardNumber, 1),
            (Iban, 1),
            (Email, 1),
            (Phone, 1),
            (UkNino, 1),
            (BrCpf, 1),
            (BrCnpj, 1),
            (UsSsn, 1)
        ]
    );
}

#[test]
fn every_match_counts() {
    assert_eq!(
        text("a@example.com;b@example.org c@example.net"),
        vec![(Email, 3)]
    );
    assert_eq!(
        text("4111111111111111\n5555555555554444"),
        vec![(CardNumber, 2)]
    );
}

#[test]
fn tokens_need_boundaries() {
    assert_eq!(text("x4111111111111111"), vec![]);
    assert_eq!(text("4111111111111111x"), vec![]);
    assert_eq!(text("41111111111111110"), vec![]);
    assert_eq!(text("4111111111111111.25"), vec![]);
    assert_eq!(text("1.4111111111111111"), vec![]);
    assert_eq!(text("XGB82WEST12345698765432"), vec![]);
    assert_eq!(text("ref AB123456C1"), vec![]);
}

#[test]
fn a_number_before_a_spaced_card_does_not_hide_it() {
    assert_eq!(text("qty 12 4111 1111 1111 1111"), vec![(CardNumber, 1)]);
    assert_eq!(text("4111 1111 1111 1111 2 items"), vec![(CardNumber, 1)]);
}

#[test]
fn a_cut_text_does_not_count_the_token_at_the_cut() {
    let mut t = Tally::default();
    scan_text(b"card 4111111111111111", true, &mut t);
    assert_eq!(t.into_counts(), vec![]);
    let mut t = Tally::default();
    scan_text(b"card 4111111111111111 ", true, &mut t);
    assert_eq!(t.into_counts(), vec![(CardNumber, 1)]);
}

#[test]
fn bare_ids_need_their_field() {
    assert_eq!(
        value("11144477735", "loggedUser.document.identification"),
        vec![(BrCpf, 1)]
    );
    assert_eq!(value("11144477735", "cpfNumber"), vec![(BrCpf, 1)]);
    assert_eq!(
        value("11144477735", "Data.Account[].Account[].Identification"),
        vec![]
    );
    assert_eq!(
        value("11222333000181", "businessEntity.document.identification"),
        vec![(BrCnpj, 1)]
    );
    assert_eq!(value("11222333000181", "cnpjInitiator"), vec![(BrCnpj, 1)]);
    assert_eq!(value("11222333000181", "Identification"), vec![]);
    assert_eq!(value("12ABC34501DE35", "companyCnpj"), vec![(BrCnpj, 1)]);
    // The right length for the other kind does not count.
    assert_eq!(value("11222333000181", "cpfNumber"), vec![]);
    assert_eq!(value("11144477735", "cnpjNumber"), vec![]);
}

#[test]
fn national_phone_forms_need_a_phone_field() {
    assert_eq!(
        value("(11) 98765-4321", "phones[].number"),
        vec![(Phone, 1)]
    );
    assert_eq!(value("07700900123", "MobileNumber"), vec![(Phone, 1)]);
    assert_eq!(value("(11) 98765-4321", "Reference"), vec![]);
    assert_eq!(value("07700900123", "Reference"), vec![]);
    assert_eq!(value("+447700900123", "Reference"), vec![(Phone, 1)]);
}

#[test]
fn cards_of_rare_lengths_need_a_card_field_or_grouping() {
    // Diners, 14 digits.
    assert_eq!(value("30569309025904", "Reference"), vec![]);
    assert_eq!(value("30569309025904", "cardNumber"), vec![(CardNumber, 1)]);
    assert_eq!(
        value("3056 930902 5904", "Reference"),
        vec![(CardNumber, 1)]
    );
}

#[test]
fn integers_with_and_without_context() {
    assert_eq!(integer("4111111111111111", "value"), vec![(CardNumber, 1)]);
    assert_eq!(integer("4111111111111111", "id"), vec![]);
    assert_eq!(integer("1700000000000", "timestamp"), vec![]);
    assert_eq!(integer("1700000000000000", "createdMicros"), vec![]);
    assert_eq!(integer("11144477735", "cpf"), vec![(BrCpf, 1)]);
    // CPF 012.345.678-90 sent as a number.
    assert_eq!(integer("1234567890", "cpf"), vec![(BrCpf, 1)]);
    assert_eq!(integer("11144477735", "count"), vec![]);
    assert_eq!(integer("5511987654321", "phone"), vec![(Phone, 1)]);
    assert_eq!(integer("5511987654321", "amountMinor"), vec![]);
    assert_eq!(integer("1234567", "phone"), vec![]);
}

#[test]
fn bare_digits_in_fields_named_for_something_else_are_not_cards() {
    for field in [
        "TransactionId",
        "orderNumber",
        "partieNumber",
        "serialNo",
        "pspReference",
        "accountNumber",
        "Data.Balance[].Amount",
    ] {
        assert_eq!(value("4111111111111111", field), vec![], "{field}");
    }
    // Grouping still says card, and so does a card word next to the other one.
    assert_eq!(
        value("4111 1111 1111 1111", "orderNumber"),
        vec![(CardNumber, 1)]
    );
    assert_eq!(
        value("4111111111111111", "cardAccountNumber"),
        vec![(CardNumber, 1)]
    );
    assert_eq!(
        value("4111111111111111", "PrimaryAccountNumber"),
        vec![(CardNumber, 1)]
    );
    assert_eq!(
        value("4111111111111111", "paymentMethod.number"),
        vec![(CardNumber, 1)]
    );
    assert_eq!(
        value(
            "4111111111111111",
            "Data.Account[].Account[].Identification"
        ),
        vec![(CardNumber, 1)]
    );
}

#[test]
fn runs_past_nineteen_digits() {
    // Bare: one 20-digit number, not a card followed by more.
    assert_eq!(text("41111111111111111234"), vec![]);
    // Grouped: the card, then another number.
    assert_eq!(text("4111 1111 1111 1111 2222"), vec![(CardNumber, 1)]);
    assert_eq!(text("4111-1111-1111-1111-2222-3333-4444"), vec![]);
}
