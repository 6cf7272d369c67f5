//! The loader's rules and refusals, each pinned with a small document written for the test.

#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

use std::time::{Duration, Instant};

use apitap_discovery::openapi::{
    load_spec, ParamIn, Schema, Spec, SpecError, SpecErrorKind, MAX_OPERATIONS, MAX_SCHEMA_DEPTH,
    MAX_SCHEMA_NODES, MAX_SPEC_BYTES,
};

fn load(text: &str) -> Spec {
    load_spec("t.yaml", text).unwrap_or_else(|e| panic!("{e}"))
}

fn load_err(source: &str, text: &str) -> SpecError {
    match load_spec(source, text) {
        Ok(spec) => panic!("{source} loaded with {} operations", spec.operations.len()),
        Err(e) => e,
    }
}

/// A 3.0 document with the given `paths` and `components` bodies (indented by the caller).
fn doc(paths: &str, components: &str) -> String {
    format!(
        "openapi: 3.0.3\ninfo:\n  title: Rules\n  version: '1.0'\npaths:\n{paths}components:\n{components}"
    )
}

fn string() -> Schema {
    Schema::String {
        format: None,
        enumeration: vec![],
        pattern: None,
        min_length: None,
        max_length: None,
    }
}

// ---------------------------------------------------------------- refusals

#[test]
fn malformed_yaml_reports_the_offending_line_and_column() {
    // Line 8 opens a flow sequence that line 9 never closes: the parser gives up at
    // line 9, column 9, where it finds `post:` instead of ',' or ']'.
    let text = "openapi: 3.0.0\ninfo:\n  title: t\n  version: '1'\npaths:\n  /a:\n    get:\n      \
                responses: [unclosed\n    post: {}\n";
    let e = load_err("broken.yaml", text);
    assert_eq!(
        (e.kind.clone(), e.line, e.column),
        (SpecErrorKind::Syntax, 9, Some(9))
    );
    let shown = e.to_string();
    assert!(
        shown.starts_with("broken.yaml:9:9: not valid YAML: "),
        "{shown}"
    );
    assert!(shown.contains("; fix the YAML syntax"), "{shown}");
}

#[test]
fn malformed_json_is_reported_in_json_terms() {
    let text = "{\n  \"openapi\": \"3.1.0\",\n  \"paths\": {\n    \"/a\": {\"get\": {}}\n  ,}\n}\n";
    let e = load_err("broken.json", text);
    assert_eq!((e.kind.clone(), e.line), (SpecErrorKind::Syntax, 5));
    assert!(e.what.starts_with("not valid JSON"), "{}", e.what);
}

#[test]
fn swagger_2_is_refused_with_the_conversion_fix() {
    let text = "info:\n  title: Old\n  version: '1'\nswagger: '2.0'\npaths: {}\n";
    let e = load_err("old.yaml", text);
    assert_eq!((e.kind.clone(), e.line), (SpecErrorKind::Swagger2, 4));
    let shown = e.to_string();
    assert!(
        shown.contains("Swagger 2.0 (OpenAPI 2.0)") && shown.contains("not supported"),
        "{shown}"
    );
    assert!(e.fix.contains("convert it to OpenAPI 3"), "{}", e.fix);
}

#[test]
fn documents_without_openapi_3_are_refused() {
    let e = load_err("none.yaml", "info: {title: x}\npaths: {}\n");
    assert_eq!(e.kind, SpecErrorKind::NotOpenApi3);
    assert!(e.fix.contains("openapi: 3.0.3"), "{}", e.fix);
    let e = load_err("four.yaml", "info: {title: x}\nopenapi: 4.0.0\npaths: {}\n");
    assert_eq!((e.kind.clone(), e.line), (SpecErrorKind::NotOpenApi3, 2));
    let e = load_err("list.yaml", "- openapi: 3.0.0\n");
    assert_eq!(e.kind, SpecErrorKind::NotOpenApi3);
}

#[test]
fn a_missing_paths_mapping_is_refused() {
    let e = load_err(
        "nopaths.yaml",
        "openapi: 3.1.0\ninfo: {title: x, version: '1'}\n",
    );
    assert_eq!(e.kind, SpecErrorKind::MissingPaths);
    assert!(e.to_string().contains("no `paths`"), "{e}");
}

#[test]
fn a_dangling_ref_is_named_with_its_line() {
    let text = doc(
        "  /a:\n    get:\n      responses:\n        '200':\n          description: ok\n          \
         content:\n            application/json:\n              schema:\n                \
         $ref: '#/components/schemas/Acount'\n",
        "  schemas:\n    Account: {type: object}\n",
    );
    let e = load_err("dangling.yaml", &text);
    let reference = "#/components/schemas/Acount".to_owned();
    assert_eq!(e.kind, SpecErrorKind::DanglingRef { reference });
    assert_eq!(e.line, 14);
    assert!(e.what.contains("#/components/schemas/Acount"), "{}", e.what);
    assert!(
        e.what.contains("'#/components/schemas' exists"),
        "{}",
        e.what
    );
}

#[test]
fn a_ref_to_another_file_is_refused_as_unsupported() {
    let text = doc(
        "  /a:\n    get:\n      parameters:\n        - $ref: 'common.yaml#/parameters/Id'\n      \
         responses: {}\n",
        "  schemas: {}\n",
    );
    let e = load_err("external.yaml", &text);
    assert_eq!(
        e.kind,
        SpecErrorKind::ExternalRef {
            reference: "common.yaml#/parameters/Id".into()
        }
    );
    assert_eq!(e.line, 9);
    assert!(
        e.what.contains("not supported") && e.fix.contains("bundle"),
        "{e}"
    );
}

#[test]
fn an_oversized_document_is_refused_before_parsing() {
    let mut text = String::from("openapi: 3.0.0\npaths: {}\n#");
    text.push_str(&"x".repeat(MAX_SPEC_BYTES));
    let e = load_err("huge.yaml", &text);
    assert_eq!(e.kind, SpecErrorKind::TooLarge);
    assert!(e.what.contains("MAX_SPEC_BYTES"), "{}", e.what);
}

#[test]
fn more_operations_than_the_limit_are_refused() {
    let mut text = String::from("{\"openapi\": \"3.0.0\", \"paths\": {");
    for i in 0..=MAX_OPERATIONS {
        if i > 0 {
            text.push(',');
        }
        text.push_str(&format!("\"/p{i}\": {{\"get\": {{}}}}"));
    }
    text.push_str("}}");
    let e = load_err("many.json", &text);
    assert_eq!(e.kind, SpecErrorKind::TooManyOperations);
    // Exactly the limit is fine.
    let cut = text.rfind(",\"/p").unwrap();
    let at_limit = format!("{}}}}}", &text[..cut]);
    assert_eq!(
        load_spec("limit.json", &at_limit).unwrap().operations.len(),
        MAX_OPERATIONS
    );
}

#[test]
fn schemas_that_reuse_each_other_multiplicatively_are_refused() {
    // S0 has ten properties of type S1, S1 ten of S2, ... : 10^7 nodes fully expanded, no
    // cycle and no nesting beyond the depth limit, so only the node budget stops it.
    let mut components = String::from("  schemas:\n");
    for level in 0..7 {
        components.push_str(&format!("    S{level}:\n      properties:\n"));
        for p in 0..10 {
            components.push_str(&format!(
                "        p{p}: {{$ref: '#/components/schemas/S{}'}}\n",
                level + 1
            ));
        }
    }
    components.push_str("    S7: {type: string}\n");
    let paths = "  /a:\n    get:\n      parameters:\n        \
                 - {name: q, in: query, schema: {$ref: '#/components/schemas/S0'}}\n";
    let start = Instant::now();
    let e = load_err("wide.yaml", &doc(paths, &components));
    assert_eq!(e.kind, SpecErrorKind::TooManySchemaNodes);
    assert!(e.what.contains(&MAX_SCHEMA_NODES.to_string()), "{e}");
    assert!(start.elapsed() < Duration::from_secs(10));
    // Starting at S3 (four levels, about 11 000 nodes) is within the budget.
    let spec = load(&doc(&paths.replace("S0", "S3"), &components));
    let Schema::Object { properties, .. } = &spec.operations[0].parameters[0].schema else {
        panic!("S3 is an object");
    };
    assert_eq!(properties.len(), 10);
    assert_eq!(spec.operations[0].parameters.len(), 1);
}

#[test]
fn hostile_texts_are_errors_not_panics() {
    for text in ["", "\u{feff}", "{", "null", "\u{0}", "- openapi: 3.0.0\n"] {
        assert!(load_spec("hostile", text).is_err(), "{text:?}");
    }
    let e = load_err("hostile", "openapi: [3]\npaths: {}\n");
    assert!(e.what.contains("not a version"), "{e}");
    // Nesting past the parsers' limits is a syntax error, neither a stack overflow nor a
    // scan that takes minutes.
    let deep_yaml = format!(
        "openapi: 3.0.0\npaths: {{}}\nx: {}{}\n",
        "[".repeat(100_000),
        "]".repeat(100_000)
    );
    let deep_json = format!(
        "{{\"openapi\":\"3.0.0\",\"paths\":{{}},\"x\":{}{}}}",
        "[".repeat(100_000),
        "]".repeat(100_000)
    );
    // Nine aliases of nine aliases, eight levels deep: 9^8 = 43 million nodes if expanded.
    let mut laughs =
        String::from("openapi: 3.0.0\npaths: {}\nl0: &l0 [x, x, x, x, x, x, x, x, x]\n");
    for level in 1..8 {
        let prev = format!("*l{}", level - 1);
        laughs.push_str(&format!(
            "l{level}: &l{level} [{}]\n",
            vec![prev; 9].join(", ")
        ));
    }
    for (name, text) in [
        ("deep.yaml", &deep_yaml),
        ("deep.json", &deep_json),
        ("laughs.yaml", &laughs),
    ] {
        let start = Instant::now();
        let e = load_err(name, text);
        assert_eq!(e.kind, SpecErrorKind::Syntax, "{e}");
        assert!(
            e.what.contains("limit exceeded") || e.what.contains("MAX_YAML_NESTING"),
            "{e}"
        );
        assert!(start.elapsed() < Duration::from_secs(5), "{name}");
    }
}

// ---------------------------------------------------------------- resolution rules

#[test]
fn a_self_referencing_schema_terminates() {
    let text = doc(
        "  /tree:\n    get:\n      responses:\n        '200':\n          description: ok\n          \
         content:\n            application/json:\n              schema: {$ref: '#/components/schemas/Node'}\n",
        "  schemas:\n    Node:\n      type: object\n      properties:\n        \
         children: {type: array, items: {$ref: '#/components/schemas/Node'}}\n        \
         parent: {$ref: '#/components/schemas/Node'}\n        \
         name: {type: string}\n",
    );
    let start = Instant::now();
    let spec = load(&text);
    assert!(start.elapsed() < Duration::from_secs(2));
    let body = spec.operations[0].responses[0].body.as_ref().unwrap();
    let expected = Schema::Object {
        properties: vec![
            (
                "children".into(),
                Schema::Array {
                    items: Box::new(Schema::Any),
                    min_items: None,
                    max_items: None,
                },
            ),
            ("parent".into(), Schema::Any),
            ("name".into(), string()),
        ],
        required: vec![],
    };
    assert_eq!(body.schema, expected);
}

#[test]
fn mutually_recursive_and_wide_recursive_schemas_stay_small() {
    // Ten self-references per level would be 10^12 nodes if only the depth limit cut them.
    let props: String = (0..10)
        .map(|i| format!("        p{i}: {{$ref: '#/components/schemas/A'}}\n"))
        .collect();
    let text = doc(
        "  /a:\n    post:\n      requestBody:\n        content:\n          application/json:\n            \
         schema: {$ref: '#/components/schemas/A'}\n      responses: {}\n",
        &format!(
            "  schemas:\n    A:\n      type: object\n      properties:\n{props}        \
             b: {{$ref: '#/components/schemas/B'}}\n    B:\n      type: object\n      properties:\n        \
             a: {{$ref: '#/components/schemas/A'}}\n"
        ),
    );
    let spec = load(&text);
    let body = spec.operations[0].request_body.as_ref().unwrap();
    assert!(!body.required);
    let Schema::Object { properties, .. } = &body.schema else {
        panic!("{:?}", body.schema)
    };
    assert_eq!(properties.len(), 11);
    assert!(properties[..10].iter().all(|(_, s)| *s == Schema::Any));
    let b = Schema::Object {
        properties: vec![("a".into(), Schema::Any)],
        required: vec![],
    };
    assert_eq!(properties[10], ("b".to_owned(), b));
}

#[test]
fn deep_inline_nesting_is_cut_at_the_depth_limit() {
    let mut schema = String::from("{type: boolean}");
    for _ in 0..40 {
        schema = format!("{{type: object, properties: {{x: {schema}}}}}");
    }
    let text = doc(
        &format!("  /a:\n    get:\n      parameters:\n        - {{name: q, in: query, schema: {schema}}}\n      responses: {{}}\n"),
        "  schemas: {}\n",
    );
    let spec = load(&text);
    let mut s = &spec.operations[0].parameters[0].schema;
    let mut levels = 0;
    while let Schema::Object { properties, .. } = s {
        levels += 1;
        s = &properties[0].1;
    }
    assert_eq!((levels, s), (MAX_SCHEMA_DEPTH, &Schema::Any));
}

#[test]
fn path_level_parameters_merge_and_the_operation_wins() {
    let text = doc(
        "  /items/{id}:\n    parameters:\n      - {name: id, in: path, schema: {type: string}}\n      \
         - {name: lang, in: query, schema: {type: string}}\n      \
         - {name: lang, in: header, schema: {type: string}}\n    \
         get:\n      parameters:\n        - {name: lang, in: query, required: true, schema: {type: integer}}\n        \
         - $ref: '#/components/parameters/Trace'\n      responses: {}\n    \
         delete:\n      responses: {}\n",
        "  parameters:\n    Trace: {name: x-trace, in: header, schema: {type: string, format: uuid}}\n",
    );
    let spec = load(&text);
    let get = &spec.operations[0];
    let seen: Vec<(&str, ParamIn, bool)> = get
        .parameters
        .iter()
        .map(|p| (p.name.as_str(), p.location, p.required))
        .collect();
    assert_eq!(
        seen,
        vec![
            ("id", ParamIn::Path, true),
            ("lang", ParamIn::Query, true),
            ("lang", ParamIn::Header, false),
            ("x-trace", ParamIn::Header, false),
        ]
    );
    assert!(matches!(get.parameters[1].schema, Schema::Integer { .. }));
    let delete = &spec.operations[1];
    assert_eq!(
        (delete.method.as_str(), delete.parameters.len()),
        ("DELETE", 3)
    );
}

#[test]
fn every_method_is_read_in_document_order_and_other_keys_are_not() {
    let text = doc(
        "  /m:\n    summary: all\n    trace: {}\n    get: {}\n    put: {}\n    post: {}\n    \
         delete: {}\n    options: {}\n    head: {}\n    patch: {}\n    x-internal: {}\n    \
         servers: []\n  x-extension: {}\n",
        "  schemas: {}\n",
    );
    let methods: Vec<String> = load(&text)
        .operations
        .into_iter()
        .map(|o| o.method)
        .collect();
    assert_eq!(
        methods,
        vec!["TRACE", "GET", "PUT", "POST", "DELETE", "OPTIONS", "HEAD", "PATCH"]
    );
}

#[test]
fn document_security_applies_unless_the_operation_has_its_own() {
    let text = "openapi: 3.0.0\ninfo: {title: s, version: '1'}\nsecurity:\n  - oauth: [read]\n  \
                - apiKey: []\npaths:\n  /a:\n    get: {}\n    post:\n      security: [{mtls: []}]\n    \
                delete:\n      security: []\n      deprecated: true\n";
    let spec = load(text);
    let sec: Vec<(&str, Vec<String>, bool)> = spec
        .operations
        .iter()
        .map(|o| (o.method.as_str(), o.security.clone(), o.deprecated))
        .collect();
    assert_eq!(
        sec,
        vec![
            ("GET", vec!["oauth".to_owned(), "apiKey".to_owned()], false),
            ("POST", vec!["mtls".to_owned()], false),
            ("DELETE", vec![], true),
        ]
    );
}

#[test]
fn servers_give_base_paths_with_variables_substituted() {
    let text = "openapi: 3.0.0\ninfo: {title: s, version: '1'}\nservers:\n  \
                - url: 'https://{env}.bank.example:{port}/{base}/v{major}/'\n    variables:\n      \
                env: {default: api, enum: [api, sandbox]}\n      port: {default: '8443'}\n      \
                base: {default: open-banking}\n      major: {default: '4.0'}\n  \
                - url: /relative/path\n  - url: https://host.example\n  \
                - url: https://other.example/open-banking/v4.0/\npaths: {}\n";
    let spec = load(text);
    assert_eq!(
        spec.base_paths,
        vec!["/open-banking/v4.0", "/relative/path", ""]
    );
    assert_eq!(load("openapi: 3.1.0\npaths: {}\n").base_paths, vec![""]);
}

#[test]
fn all_of_one_of_type_lists_and_const_reduce_as_documented() {
    let text = doc(
        "  /p:\n    put:\n      requestBody:\n        required: true\n        $ref: '#/components/requestBodies/Put'\n      \
         responses:\n        '204': {description: none}\n        default: {$ref: '#/components/responses/Err'}\n",
        "  requestBodies:\n    Put:\n      content:\n        text/plain: {schema: {type: string}}\n        \
         application/vnd.example+json:\n          schema:\n            allOf:\n              \
         - $ref: '#/components/schemas/Base'\n              \
         - {type: object, required: [kind], properties: {kind: {const: card}, amount: {type: [number, 'null'], minimum: 0.5}}}\n  \
         responses:\n    Err:\n      description: error\n      content:\n        application/json:\n          \
         schema:\n            oneOf:\n              - {type: 'null'}\n              - {type: integer, enum: [1, 2]}\n              \
         - {type: array, items: {$ref: '#/components/schemas/a~1b'}, minItems: 1}\n  \
         schemas:\n    Base:\n      type: object\n      required: [id]\n      properties:\n        \
         id: {type: string, nullable: true, format: uuid}\n    a/b: {type: boolean}\n",
    );
    let spec = load(&text);
    let put = &spec.operations[0];
    let body = put.request_body.as_ref().unwrap();
    // `required` is read from the referenced request body, which does not set it.
    assert_eq!(
        (body.media_type.as_str(), body.required),
        ("application/vnd.example+json", false)
    );
    let expected = Schema::Object {
        properties: vec![
            (
                "id".into(),
                Schema::String {
                    format: Some("uuid".into()),
                    enumeration: vec![],
                    pattern: None,
                    min_length: None,
                    max_length: None,
                },
            ),
            (
                "kind".into(),
                Schema::String {
                    format: None,
                    enumeration: vec!["card".into()],
                    pattern: None,
                    min_length: None,
                    max_length: None,
                },
            ),
            (
                "amount".into(),
                Schema::Number {
                    minimum: Some(0.5),
                    maximum: None,
                },
            ),
        ],
        required: vec!["id".into(), "kind".into()],
    };
    assert_eq!(body.schema, expected);
    assert_eq!(put.responses[0].body, None);
    let err = put.responses[1].body.as_ref().unwrap();
    let expected = Schema::OneOf(vec![
        Schema::Integer {
            minimum: None,
            maximum: None,
            enumeration: vec![1, 2],
        },
        Schema::Array {
            items: Box::new(Schema::Boolean),
            min_items: Some(1),
            max_items: None,
        },
    ]);
    assert_eq!(
        (put.responses[1].status.as_str(), &err.schema),
        ("default", &expected)
    );
}

#[test]
fn yaml_number_status_keys_merge_keys_and_a_byte_order_mark_are_read() {
    let text =
        "\u{feff}openapi: 3.0.0\ninfo: {title: s, version: 2.0}\npaths:\n  /a:\n    get:\n      \
                responses:\n        200:\n          <<: {description: ok}\n          \
                content: {application/json: {schema: {type: boolean}}}\n";
    let spec = load(text);
    assert_eq!(spec.version, "2.0");
    let response = &spec.operations[0].responses[0];
    assert_eq!(response.status, "200");
    assert_eq!(
        response.body.as_ref().map(|b| &b.schema),
        Some(&Schema::Boolean)
    );
}
