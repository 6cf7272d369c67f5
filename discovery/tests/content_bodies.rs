//! Body analysis on realistic API bodies: UK Open Banking, Open Finance Brasil, Adyen, OAuth
//! forms, text and XML. Expected shapes and tags are written out by hand from the bodies.

#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

use apitap_discovery::content::{analyze_body, BodyFacts, ContentLimits, JsonType, SensitiveKind};

use JsonType::*;
use SensitiveKind::*;

fn json(body: &str) -> BodyFacts {
    analyze_body(
        Some("application/json; charset=utf-8"),
        body.as_bytes(),
        &ContentLimits::default(),
    )
}

fn shape(facts: &BodyFacts) -> Vec<(&str, JsonType)> {
    facts.shape.iter().map(|(p, t)| (p.as_str(), *t)).collect()
}

const UK_ACCOUNTS: &str = r#"{
  "Data": {
    "Account": [
      {
        "AccountId": "22289",
        "Status": "Enabled",
        "StatusUpdateDateTime": "2019-01-01T06:06:06+00:00",
        "Currency": "GBP",
        "AccountType": "Personal",
        "AccountSubType": "CurrentAccount",
        "Nickname": "Bills",
        "OpeningDate": "2019-01-01T06:06:06+00:00",
        "Account": [
          {
            "SchemeName": "UK.OBIE.SortCodeAccountNumber",
            "Identification": "80200110203345",
            "Name": "Mr Kevin",
            "SecondaryIdentification": "00021"
          }
        ]
      },
      {
        "AccountId": "31820",
        "Status": "Enabled",
        "Currency": "GBP",
        "AccountType": "Personal",
        "AccountSubType": "CurrentAccount",
        "Account": [
          { "SchemeName": "UK.OBIE.IBAN", "Identification": "GB29NWBK60161331926819", "Name": "Mr Kevin" }
        ]
      },
      {
        "AccountId": "31821",
        "Status": "Enabled",
        "Currency": "GBP",
        "AccountType": "Personal",
        "AccountSubType": "CreditCard",
        "Account": [
          { "SchemeName": "UK.OBIE.PAN", "Identification": "5555555555554444", "Name": "Mr Kevin" }
        ]
      }
    ]
  },
  "Links": { "Self": "https://api.alphabank.com/open-banking/v4.0/aisp/accounts" },
  "Meta": { "TotalPages": 1 }
}"#;

#[test]
fn uk_accounts_shape_and_tags() {
    let f = json(UK_ACCOUNTS);
    assert!(f.json);
    assert!(!f.truncated, "{:?}", f.events);
    assert!(f.events.is_empty());
    assert_eq!(
        shape(&f),
        vec![
            ("", Object),
            ("Data", Object),
            ("Data.Account", Array),
            ("Data.Account[]", Object),
            ("Data.Account[].AccountId", String),
            ("Data.Account[].Status", String),
            ("Data.Account[].StatusUpdateDateTime", String),
            ("Data.Account[].Currency", String),
            ("Data.Account[].AccountType", String),
            ("Data.Account[].AccountSubType", String),
            ("Data.Account[].Nickname", String),
            ("Data.Account[].OpeningDate", String),
            ("Data.Account[].Account", Array),
            ("Data.Account[].Account[]", Object),
            ("Data.Account[].Account[].SchemeName", String),
            ("Data.Account[].Account[].Identification", String),
            ("Data.Account[].Account[].Name", String),
            ("Data.Account[].Account[].SecondaryIdentification", String),
            ("Links", Object),
            ("Links.Self", String),
            ("Meta", Object),
            ("Meta.TotalPages", Integer),
        ]
    );
    // The IBAN and the PAN; the sort code and account number is not a tag of its own.
    assert_eq!(f.sensitive, vec![(CardNumber, 1), (Iban, 1)]);
}

#[test]
fn uk_balances_amounts_are_strings_and_never_tags() {
    let body = r#"{"Data":{"Balance":[{"AccountId":"22289","Amount":{"Amount":"1230.00","Currency":"GBP"},
        "CreditDebitIndicator":"Credit","Type":"InterimAvailable","DateTime":"2017-04-05T10:43:07+00:00",
        "CreditLine":[{"Included":true,"Amount":{"Amount":"1000.00","Currency":"GBP"},"Type":"Pre-Agreed"}]},
        {"AccountId":"31820","Amount":{"Amount":"9999999999999.99999","Currency":"GBP"},"CreditDebitIndicator":"Debit",
        "Type":"ClosingBooked","DateTime":"2017-04-05T10:43:07+00:00","CreditLine":[]}]},
        "Links":{"Self":"https://api.alphabank.com/open-banking/v4.0/aisp/accounts/22289/balances"},"Meta":{"TotalPages":1}}"#;
    let f = json(body);
    assert_eq!(f.sensitive, vec![]);
    let s = shape(&f);
    assert!(s.contains(&("Data.Balance[].Amount.Amount", String)));
    assert!(s.contains(&("Data.Balance[].CreditLine[].Included", Bool)));
    assert!(s.contains(&("Data.Balance[].CreditLine[].Amount.Currency", String)));
    // Each pair once although the second balance repeats every field.
    let amounts = s
        .iter()
        .filter(|(p, _)| *p == "Data.Balance[].Amount.Amount")
        .count();
    assert_eq!(amounts, 1);
    assert_eq!(s.len(), 22);
}

#[test]
fn uk_party_email_and_phone() {
    let body = r#"{"Data":{"Party":{"PartyId":"PXSIF023","PartyNumber":"0000007657","PartyType":"Sole","Name":"Semiotec",
        "EmailAddress":"contact@semiotec.co.uk","Phone":"+44-7700900123","Mobile":"+44-7700900124",
        "Address":[{"AddressType":"Business","StreetName":"Centenary Way","BuildingNumber":"1","PostCode":"MK11 1AA","TownName":"Milton Keynes","Country":"GB"}]}},
        "Links":{"Self":"/party"},"Meta":{"TotalPages":1}}"#;
    let f = json(body);
    assert_eq!(f.sensitive, vec![(Email, 1), (Phone, 2)]);
    assert!(shape(&f).contains(&("Data.Party.Address[].PostCode", String)));
}

#[test]
fn brazil_consent_request_cpf_and_cnpj_in_document_identification() {
    let body = r#"{"data":{"loggedUser":{"document":{"identification":"11144477735","rel":"CPF"}},
        "businessEntity":{"document":{"identification":"11222333000181","rel":"CNPJ"}},
        "permissions":["ACCOUNTS_READ","ACCOUNTS_BALANCES_READ","RESOURCES_READ"],
        "expirationDateTime":"2026-05-21T08:30:00Z"}}"#;
    let f = json(body);
    assert_eq!(f.sensitive, vec![(BrCpf, 1), (BrCnpj, 1)]);
    assert_eq!(
        shape(&f),
        vec![
            ("", Object),
            ("data", Object),
            ("data.loggedUser", Object),
            ("data.loggedUser.document", Object),
            ("data.loggedUser.document.identification", String),
            ("data.loggedUser.document.rel", String),
            ("data.businessEntity", Object),
            ("data.businessEntity.document", Object),
            ("data.businessEntity.document.identification", String),
            ("data.businessEntity.document.rel", String),
            ("data.permissions", Array),
            ("data.permissions[]", String),
            ("data.expirationDateTime", String),
        ]
    );
}

#[test]
fn brazil_customer_identification() {
    let body = r#"{"data":[{"updateDateTime":"2021-05-21T08:30:00Z","personalId":"578-psd-71md6971kjh-2d414",
        "brandName":"Organização A","civilName":"Juan Kaique Cláudio Fernandes","socialName":"Karla Fernandes",
        "birthDate":"1985-01-12","maritalStatusCode":"SOLTEIRO","cpfNumber":"529.982.247-25",
        "companiesCnpj":["01773247000103","01773247000104"],
        "otherDocuments":[{"type":"PASSAPORTE","number":"FH254787","country":"CAN","expirationDate":"2023-05-21"}],
        "contacts":{"phones":[{"isMain":true,"type":"FIXO","countryCallingCode":"55","areaCode":"19","number":"29875132"}],
        "emails":[{"isMain":true,"email":"karla.fernandes@email.com.br"}]}}],
        "links":{"self":"https://api.banco.com.br/open-banking/customers/v2/personal/identifications"},
        "meta":{"totalRecords":1,"totalPages":1,"requestDateTime":"2021-05-21T08:30:00Z"}}"#;
    let f = json(body);
    // The second CNPJ has a wrong check digit; the passport number is not detected.
    assert_eq!(
        f.sensitive,
        vec![(Email, 1), (Phone, 1), (BrCpf, 1), (BrCnpj, 1)]
    );
    let s = shape(&f);
    assert!(s.contains(&("data[].companiesCnpj[]", String)));
    assert!(s.contains(&("data[].contacts.phones[].isMain", Bool)));
    assert!(s.contains(&("meta.totalRecords", Integer)));
    assert_eq!(
        s.get(..3),
        Some(&[("", Object), ("data", Array), ("data[]", Object)][..])
    );
}

#[test]
fn brazil_ids_sent_as_numbers() {
    // A CPF with a leading zero loses it as a JSON number.
    let f = json(r#"{"cpf":1234567890,"cnpj":11222333000181,"count":11144477735}"#);
    assert_eq!(f.sensitive, vec![(BrCpf, 1), (BrCnpj, 1)]);
    assert_eq!(
        shape(&f),
        vec![
            ("", Object),
            ("cpf", Integer),
            ("cnpj", Integer),
            ("count", Integer)
        ]
    );
}

#[test]
fn adyen_payment_request() {
    let body = r#"{"amount":{"currency":"EUR","value":1000},"reference":"Your order number",
        "paymentMethod":{"type":"scheme","number":"4111111111111111","expiryMonth":"03","expiryYear":"2030",
        "holderName":"John Smith","cvc":"737"},"shopperEmail":"s.hopper@example.com",
        "shopperReference":"YOUR_UNIQUE_SHOPPER_ID_IOfW3k9G2PvXFu2j","telephoneNumber":"+31 20 1234567",
        "merchantAccount":"AdyenRecruitmentCOM","returnUrl":"https://your-company.com/checkout?shopperOrder=12xy",
        "additionalData":{"riskdata.basket.item1.amountPerItem":"1000"}}"#;
    let f = json(body);
    assert_eq!(f.sensitive, vec![(CardNumber, 1), (Email, 1), (Phone, 1)]);
    let s = shape(&f);
    assert!(s.contains(&("amount.value", Integer)));
    assert!(s.contains(&("paymentMethod.number", String)));
    // A key with dots is kept whole (documented as ambiguous).
    assert!(s.contains(&("additionalData.riskdata.basket.item1.amountPerItem", String)));
}

#[test]
fn problem_json_is_json_and_jose_json_is_not() {
    let body = br#"{"type":"about:blank","title":"Not Found","status":404,"detail":"No account for jane@example.com"}"#;
    let f = analyze_body(
        Some("application/problem+json"),
        body,
        &ContentLimits::default(),
    );
    assert!(f.json);
    assert_eq!(f.sensitive, vec![(Email, 1)]);
    assert_eq!(shape(&f).get(3), Some(&("status", Integer)));
    let f = analyze_body(
        Some("application/jose+json"),
        body,
        &ContentLimits::default(),
    );
    assert!(!f.json);
    assert!(f.shape.is_empty());
    assert_eq!(f.sensitive, vec![(Email, 1)]);
}

#[test]
fn json_without_a_content_type_is_sniffed() {
    let f = analyze_body(
        None,
        b"  \r\n[{\"iban\":\"DE89370400440532013000\"}]",
        &ContentLimits::default(),
    );
    assert!(f.json);
    assert_eq!(
        shape(&f),
        vec![("", Array), ("[]", Object), ("[].iban", String)]
    );
    assert_eq!(f.sensitive, vec![(Iban, 1)]);
}

#[test]
fn a_json_label_on_something_else_scans_text() {
    let f = analyze_body(
        Some("application/json"),
        b"<html>mail jane@example.com</html>",
        &ContentLimits::default(),
    );
    assert!(!f.json);
    assert!(!f.truncated);
    assert!(f.shape.is_empty());
    assert_eq!(f.sensitive, vec![(Email, 1)]);
}

#[test]
fn oauth_token_form() {
    let body = b"grant_type=password&username=jane.doe%40example.com&password=s3cr3t%2B&client_id=bank-app&scope=openid+accounts";
    let f = analyze_body(
        Some("application/x-www-form-urlencoded"),
        body,
        &ContentLimits::default(),
    );
    assert!(!f.json);
    assert_eq!(
        shape(&f),
        vec![
            ("grant_type", String),
            ("username", String),
            ("password", String),
            ("client_id", String),
            ("scope", String)
        ]
    );
    assert_eq!(f.sensitive, vec![(Email, 1)]);
}

#[test]
fn form_field_names_give_context_and_repeat_once() {
    let body = b"phone=07700+900123&cpf=111.444.777-35&cpf=11144477735&tag=a&tag=b&=orphan&flag";
    let f = analyze_body(
        Some("application/x-www-form-urlencoded; charset=utf-8"),
        body,
        &ContentLimits::default(),
    );
    assert_eq!(
        shape(&f),
        vec![
            ("phone", String),
            ("cpf", String),
            ("tag", String),
            ("flag", String)
        ]
    );
    assert_eq!(f.sensitive, vec![(Phone, 1), (BrCpf, 2)]);
}

#[test]
fn text_and_xml_are_scanned_without_shape() {
    let text = b"Dear customer, contact support@bank.example.com or +44 20 7946 0958. Ref 2024-01-15/778812.";
    let f = analyze_body(Some("text/plain"), text, &ContentLimits::default());
    assert!(f.shape.is_empty() && !f.json);
    assert_eq!(f.sensitive, vec![(Email, 1), (Phone, 1)]);

    let xml = b"<Document><CdtTrfTxInf><CdtrAcct><Id><IBAN>DE89370400440532013000</IBAN></Id></CdtrAcct>\
        <Dbtr><Nm>Jane</Nm><CtctDtls><EmailAdr>jane@example.org</EmailAdr></CtctDtls></Dbtr></CdtTrfTxInf></Document>";
    let f = analyze_body(Some("application/xml"), xml, &ContentLimits::default());
    assert!(f.shape.is_empty());
    assert_eq!(f.sensitive, vec![(Iban, 1), (Email, 1)]);
}

#[test]
fn html_and_binary_bodies_are_not_scanned() {
    let body = b"<p>jane@example.com 4111111111111111</p>";
    for ct in [
        "text/html",
        "image/png",
        "application/octet-stream",
        "application/pdf",
    ] {
        let f = analyze_body(Some(ct), body, &ContentLimits::default());
        assert_eq!(f, BodyFacts::default(), "{ct}");
    }
}

#[test]
fn facts_serialise_with_lowercase_names() {
    let f = json(r#"{"a":[1.5],"b":null,"e":"x@example.com"}"#);
    let v = serde_json::to_value(&f).unwrap();
    assert_eq!(v["shape"][2], serde_json::json!(["a[]", "number"]));
    assert_eq!(v["shape"][3], serde_json::json!(["b", "null"]));
    assert_eq!(v["sensitive"][0], serde_json::json!(["email", 1]));
    assert_eq!(v["json"], true);
}
