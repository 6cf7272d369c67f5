//! The resolved model of an OpenAPI document: what the inventory matches traffic against and
//! what the traffic simulator generates requests from. Every `$ref` is resolved (local
//! references only), with recursion cut at [`MAX_SCHEMA_DEPTH`].

/// How deep schemas are expanded; deeper (or recursive) parts become [`Schema::Any`].
pub const MAX_SCHEMA_DEPTH: usize = 12;

/// One OpenAPI document.
#[derive(Debug, Clone, PartialEq)]
pub struct Spec {
    /// Where it came from (the file name given to the loader), for messages.
    pub source: String,
    /// `info.title`.
    pub title: String,
    /// `info.version`.
    pub version: String,
    /// Path parts of `servers[].url` (e.g. `/open-banking/v4.0/aisp`), in document order;
    /// empty string when a server has no path. At least one entry (`""` when none is given).
    pub base_paths: Vec<String>,
    /// Every operation, in document order.
    pub operations: Vec<Operation>,
}

/// One operation (a method on a path).
#[derive(Debug, Clone, PartialEq)]
pub struct Operation {
    /// Upper-case HTTP method.
    pub method: String,
    /// The path template as written under `paths`, e.g. `/accounts/{AccountId}`.
    pub path: String,
    /// `operationId`, if any.
    pub operation_id: Option<String>,
    /// `deprecated: true` on the operation.
    pub deprecated: bool,
    /// `tags`.
    pub tags: Vec<String>,
    /// Path-level and operation-level parameters merged (operation wins on name + location).
    pub parameters: Vec<Parameter>,
    /// The request body schema (the JSON media type if several), if any.
    pub request_body: Option<Body>,
    /// Responses by status code as written (`"200"`, `"4XX"`, `"default"`), in document order.
    pub responses: Vec<Response>,
    /// Names of the security schemes that apply (operation-level, else document-level).
    pub security: Vec<String>,
}

/// Where a parameter goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParamIn {
    /// A `{name}` segment of the path.
    Path,
    /// The query string.
    Query,
    /// A request header.
    Header,
    /// A cookie.
    Cookie,
}

/// One parameter.
#[derive(Debug, Clone, PartialEq)]
pub struct Parameter {
    /// Name as written.
    pub name: String,
    /// Location.
    pub location: ParamIn,
    /// `required` (always true for path parameters).
    pub required: bool,
    /// Its schema.
    pub schema: Schema,
}

/// A request or response body.
#[derive(Debug, Clone, PartialEq)]
pub struct Body {
    /// The media type chosen (JSON types preferred), e.g. `application/json`.
    pub media_type: String,
    /// Its schema.
    pub schema: Schema,
    /// `required` (request bodies; always true for a response's body, which is sent
    /// whenever that response is).
    pub required: bool,
}

/// One documented response.
#[derive(Debug, Clone, PartialEq)]
pub struct Response {
    /// Status as written: `"200"`, `"4XX"`, `"default"`.
    pub status: String,
    /// The body, if the response has content.
    pub body: Option<Body>,
}

/// A resolved schema, reduced to what generation and matching need.
#[derive(Debug, Clone, PartialEq)]
pub enum Schema {
    /// An object with named properties, in document order.
    Object {
        /// Properties.
        properties: Vec<(String, Schema)>,
        /// Names of the required properties.
        required: Vec<String>,
    },
    /// An array of items.
    Array {
        /// Item schema.
        items: Box<Schema>,
        /// `minItems`.
        min_items: Option<u64>,
        /// `maxItems`.
        max_items: Option<u64>,
    },
    /// A string.
    String {
        /// `format` (date, date-time, uuid, email, uri, byte, ...).
        format: Option<String>,
        /// `enum` values.
        enumeration: Vec<String>,
        /// `pattern`.
        pattern: Option<String>,
        /// `minLength`.
        min_length: Option<u64>,
        /// `maxLength`.
        max_length: Option<u64>,
    },
    /// An integer.
    Integer {
        /// `minimum`.
        minimum: Option<i64>,
        /// `maximum`.
        maximum: Option<i64>,
        /// `enum` values.
        enumeration: Vec<i64>,
    },
    /// A number.
    Number {
        /// `minimum`.
        minimum: Option<f64>,
        /// `maximum`.
        maximum: Option<f64>,
    },
    /// A boolean.
    Boolean,
    /// `oneOf` / `anyOf`: the alternatives (a generator picks one). `allOf` is merged into an
    /// object instead.
    OneOf(Vec<Schema>),
    /// Anything (no type, a recursion cut at [`MAX_SCHEMA_DEPTH`], or an unresolvable part).
    Any,
}
