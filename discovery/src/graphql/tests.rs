#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

use super::*;

fn json(body: &str) -> Option<Extracted> {
    extract("", Some("application/json"), body.as_bytes(), &GraphqlLimits::default())
}

fn one(body: &str) -> Operation {
    let e = json(body).unwrap_or_else(|| panic!("not taken for GraphQL: {body}"));
    assert_eq!(e.operations.len(), 1, "{e:?}");
    e.operations.into_iter().next().unwrap()
}

#[test]
fn operation_name_wins_then_the_document_name_then_the_fields() {
    let op = one(r#"{"query":"query GetAccounts { accounts { id } }","operationName":"ListAccounts","variables":{"iban":"DE89370400440532013000"}}"#);
    assert_eq!((op.kind, op.name.as_str(), op.fields.as_slice()), (OperationType::Query, "ListAccounts", &["accounts".to_string()][..]));
    let op = one(r#"{"query":"mutation Pay($a: Int!) { transfer(amount: $a) { id } }","variables":{"a":5}}"#);
    assert_eq!((op.kind, op.name.as_str()), (OperationType::Mutation, "Pay"));
    let op = one(r#"{"query":"{ balances { amount } accounts { id } }"}"#);
    assert_eq!((op.kind, op.name.as_str()), (OperationType::Query, "{accounts,balances}"));
    let op = one(r#"{"query":"subscription { onPayment { id } }","operationName":null}"#);
    assert_eq!((op.kind, op.name.as_str()), (OperationType::Subscription, "{onPayment}"));
}

#[test]
fn the_named_operation_of_several_is_the_one_that_runs() {
    let op = one(r#"{"query":"query A { a } mutation B { b(x: 1) }","operationName":"B"}"#);
    assert_eq!((op.kind, op.name.as_str(), op.fields.as_slice()), (OperationType::Mutation, "B", &["b".to_string()][..]));
}

#[test]
fn aliases_count_by_field_name_and_values_are_never_kept() {
    let op = one(
        r#"{"query":"query { a: accounts(filter: {iban: \"DE89370400440532013000\", pin: \"1234\"}) { id } b: accounts { id } secret: balances @include(if: true) }"}"#,
    );
    assert_eq!(op.fields, ["accounts", "balances"]);
    assert_eq!(op.name, "{accounts,balances}");
    let text = format!("{op:?}");
    for leaked in ["DE89", "1234", "secret", "iban", "pin", "filter"] {
        assert!(!text.contains(leaked), "{leaked} in {text}");
    }
}

#[test]
fn introspection_is_schema_or_type_not_typename() {
    let op = one(r#"{"query":"query IntrospectionQuery { __schema { types { name } } }"}"#);
    assert!(op.introspection);
    assert_eq!(op.name, "IntrospectionQuery");
    assert!(one(r#"{"query":"{ t: __type(name: \"Account\") { name } }"}"#).introspection);
    let op = one(r#"{"query":"{ __typename }"}"#);
    assert!(!op.introspection);
    assert_eq!(op.name, "{__typename}");
    assert!(!one(r#"{"query":"{ accounts { __schema } }"}"#).introspection, "nested __schema is a field of accounts");
}

#[test]
fn comments_block_strings_and_fragments() {
    let doc = r#"# { evil }
query Q {
  ... on Query { accounts { id } }
  ...Rest
  note(text: """ } { __schema """)
}
fragment Rest on Query { balances customers: customer { name } ...More }
fragment More on Query { __type(name: "X") { name } }"#;
    let e = extract("", Some("application/graphql"), doc.as_bytes(), &GraphqlLimits::default()).unwrap();
    let op = &e.operations[0];
    assert_eq!(op.name, "Q");
    assert_eq!(op.fields, ["__type", "accounts", "balances", "customer", "note"]);
    assert!(op.introspection);
    assert!(!op.incomplete);
}

#[test]
fn batches_give_one_operation_per_request() {
    let e = json(r#"[{"query":"query A { a }"},{"query":"mutation { m }"},{"foo":1}]"#).unwrap();
    assert_eq!(e.batch_size, 3);
    let names: Vec<&str> = e.operations.iter().map(|o| o.name.as_str()).collect();
    assert_eq!(names, ["A", "{m}"]);
    let limits = GraphqlLimits { max_batch: 2, ..GraphqlLimits::default() };
    let many = format!("[{}]", [r#"{"query":"{a}"}"#; 5].join(","));
    let e = extract("", None, many.as_bytes(), &limits).unwrap();
    assert_eq!((e.batch_size, e.operations.len(), e.hits.batch), (5, 2, true));
}

#[test]
fn persisted_queries_are_named_by_operation_name_else_hash() {
    let op = one(r#"{"extensions":{"persistedQuery":{"version":1,"sha256Hash":"ECF4EDB46DB40B5132295C0291D62FB65D6759A9EEDFA4D5D612DD5A3E07E7C4"}}}"#);
    assert_eq!((op.kind, op.name.as_str()), (OperationType::Unknown, "sha256:ecf4edb46db40b51"));
    let op = one(r#"{"operationName":"GetAccounts","extensions":{"persistedQuery":{"version":1,"sha256Hash":"ab"}}}"#);
    assert_eq!(op.name, "GetAccounts");
}

#[test]
fn get_query_strings() {
    let lim = GraphqlLimits::default();
    let e = extract("query=query%20Q%7Ba%20b%7D&operationName=Q&x=1", None, b"", &lim).unwrap();
    assert_eq!((e.operations[0].name.as_str(), e.operations[0].fields.len()), ("Q", 2));
    // Already percent-decoded by the HTTP layer, `+` for spaces.
    let e = extract("query={+accounts{id}+}", None, b"", &lim).unwrap();
    assert_eq!(e.operations[0].name, "{accounts}");
    assert!(extract("q=term&page=2", None, b"", &lim).is_none());
    assert!(extract("query=balance", None, b"", &lim).is_none());
}

#[test]
fn json_that_is_not_graphql_is_left_alone() {
    for body in [
        r#"{"query":"balance"}"#,
        r#"{"query":"SELECT * FROM accounts"}"#,
        r#"{"query":{"match":{"name":"x"}}}"#,
        r#"{"name":"x"}"#,
        r#"[1,2,3]"#,
        r#"{"query":"type Query { a: Int }"}"#,
        "",
        "not json \"query\"",
    ] {
        assert!(json(body).is_none(), "{body}");
    }
}

#[test]
fn hostile_documents_end_cleanly() {
    let lim = GraphqlLimits::default();
    // Unterminated string inside arguments: the field before it is still known.
    let op = &extract("", Some("application/graphql"), b"query Q { accounts(x: \"never", &lim).unwrap().operations[0];
    assert_eq!((op.name.as_str(), op.incomplete), ("Q", true));
    assert_eq!(op.fields, ["accounts"]);
    // Huge nesting: stopped at the depth limit, no stack growth.
    let deep = format!("{{ a {} }}", "{ b ".repeat(100_000));
    let e = extract("", Some("application/graphql"), deep.as_bytes(), &lim).unwrap();
    assert!(e.hits.depth && e.operations[0].incomplete);
    let deep_args = format!("{{ a(x: {}) }}", "[".repeat(100_000));
    assert!(extract("", Some("application/graphql"), deep_args.as_bytes(), &lim).unwrap().hits.depth);
    // Long names are left out and counted.
    let long = format!("query {} {{ {} b }}", "N".repeat(500), "f".repeat(500));
    let e = extract("", Some("application/graphql"), long.as_bytes(), &lim).unwrap();
    assert_eq!((e.operations[0].name.as_str(), e.hits.name), ("{b}", true));
    // Too many fields.
    let wide = format!("{{ {} }}", (0..100).map(|i| format!("f{i}")).collect::<Vec<_>>().join(" "));
    let e = extract("", Some("application/graphql"), wide.as_bytes(), &lim).unwrap();
    assert_eq!((e.operations[0].fields.len(), e.hits.fields), (32, true));
    // A body past the scan bound is cut and counted.
    let big = format!("{{ a {} }}", "# pad\n".repeat(20_000));
    let e = extract("", Some("application/graphql"), big.as_bytes(), &lim).unwrap();
    assert!(e.hits.body);
    // Garbage never panics.
    for junk in [&b"{"[..], b"}", b"...", b"query", b"query (", b"{ a: }", b"{ ...on", b"\xff\xfe{", b"fragment", b"{ a @", b"\"\"\""] {
        let _ = extract("query=x", Some("application/graphql"), junk, &lim);
    }
}

#[test]
fn operation_names_in_json_must_be_names() {
    let op = one(r#"{"query":"query Real { a }","operationName":"x y; DROP"}"#);
    assert_eq!(op.name, "Real");
}
