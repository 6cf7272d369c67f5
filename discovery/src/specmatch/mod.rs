//! Matching requests against the operations of loaded OpenAPI specs and operator templates.
