//! The document level: version check, servers, paths, operations, parameters, bodies,
//! responses and security requirements.

use serde_norway::Value;

use super::access::{
    as_map, as_seq, entries, get, get_bool, get_str, get_text, scalar_text, untag,
};
use super::error::{SpecError, SpecErrorKind};
use super::model::{Body, Operation, ParamIn, Parameter, Response, Schema, Spec};
use super::refs::Ctx;
use super::text::{key_line, text_line};
use super::MAX_OPERATIONS;

/// The HTTP methods a path item may hold, as OpenAPI 3.0/3.1 spells them.
const METHODS: [&str; 8] = [
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

impl<'a> Ctx<'a> {
    /// Refuses anything that is not an OpenAPI 3.x document, naming what it is instead.
    pub(crate) fn check_version(&self) -> Result<(), SpecError> {
        if as_map(self.root).is_none() {
            return Err(SpecError::new(
                self.source,
                1,
                SpecErrorKind::NotOpenApi3,
                "the document is not a mapping of fields, so it is not an OpenAPI document",
                "give the OpenAPI 3.x document itself (it starts with `openapi: 3.x.y`)",
            ));
        }
        if let Some(version) = get_text(self.root, "swagger") {
            return Err(SpecError::new(
                self.source,
                key_line(self.text, "swagger").unwrap_or(1),
                SpecErrorKind::Swagger2,
                format!(
                    "this is a Swagger {version} (OpenAPI 2.0) document, which is not supported"
                ),
                "convert it to OpenAPI 3 first (for example with swagger2openapi or the \
                 converter at converter.swagger.io)",
            ));
        }
        match get(self.root, "openapi").map(scalar_text) {
            Some(None) => Err(SpecError::new(
                self.source,
                key_line(self.text, "openapi").unwrap_or(1),
                SpecErrorKind::NotOpenApi3,
                "`openapi` is not a version string",
                "write the version the document follows, e.g. `openapi: 3.0.3`",
            )),
            None => Err(SpecError::new(
                self.source,
                1,
                SpecErrorKind::NotOpenApi3,
                "there is no top-level `openapi` field, so this is not an OpenAPI 3 document",
                "add `openapi: 3.0.3` (or the 3.1 version the document follows) at the top",
            )),
            Some(Some(version)) if !version.starts_with('3') => Err(SpecError::new(
                self.source,
                key_line(self.text, "openapi").unwrap_or(1),
                SpecErrorKind::NotOpenApi3,
                format!("`openapi: {version}` is not a 3.x version; only OpenAPI 3.0 and 3.1 are supported"),
                "give an OpenAPI 3.0 or 3.1 document",
            )),
            Some(Some(_)) => Ok(()),
        }
    }

    /// Builds the model; [`Ctx::check_version`] must have passed.
    pub(crate) fn spec(&mut self) -> Result<Spec, SpecError> {
        let root = self.root;
        let Some(paths) = get(root, "paths").and_then(as_map) else {
            return Err(SpecError::new(
                self.source,
                key_line(self.text, "paths").unwrap_or(1),
                SpecErrorKind::MissingPaths,
                "the document has no `paths` mapping, so it describes no operations",
                "add a `paths` mapping with the API's operations (`paths: {}` if it has none)",
            ));
        };
        let info = get(root, "info");
        let document_security = get(root, "security").map(security_names);
        let mut operations = Vec::new();
        for (path, item) in entries(paths) {
            if path.starts_with("x-") {
                continue;
            }
            let item = self.deref(item)?;
            let shared = self.parameters(item, &path)?;
            for (key, op) in as_map(item).map(entries).into_iter().flatten() {
                if !METHODS.contains(&key.as_str()) || untag(op).is_null() {
                    continue;
                }
                if operations.len() >= MAX_OPERATIONS {
                    return Err(SpecError::new(
                        self.source,
                        text_line(self.text, &path).unwrap_or(1),
                        SpecErrorKind::TooManyOperations,
                        format!("the document has more than {MAX_OPERATIONS} operations (MAX_OPERATIONS)"),
                        "split the specification into smaller documents",
                    ));
                }
                let operation =
                    self.operation(&path, &key, op, &shared, document_security.as_deref())?;
                operations.push(operation);
            }
        }
        Ok(Spec {
            source: self.source.to_owned(),
            title: info.and_then(|i| get_text(i, "title")).unwrap_or_default(),
            version: info
                .and_then(|i| get_text(i, "version"))
                .unwrap_or_default(),
            base_paths: base_paths(root),
            operations,
        })
    }

    fn operation(
        &mut self,
        path: &str,
        method: &str,
        op: &'a Value,
        shared: &[Parameter],
        document_security: Option<&[String]>,
    ) -> Result<Operation, SpecError> {
        if as_map(op).is_none() {
            return Err(self.error_at(
                path,
                SpecErrorKind::Invalid,
                format!("`{method}` under `{path}` is not a mapping"),
                "describe the operation as a mapping (summary, parameters, responses, ...)",
            ));
        }
        let mut parameters = shared.to_vec();
        for parameter in self.parameters(op, path)? {
            let same =
                |p: &&mut Parameter| p.name == parameter.name && p.location == parameter.location;
            match parameters.iter_mut().find(same) {
                Some(existing) => *existing = parameter,
                None => parameters.push(parameter),
            }
        }
        let request_body = match get(op, "requestBody") {
            Some(body) => {
                let body = self.deref(body)?;
                let required = get_bool(body, "required").unwrap_or(false);
                self.body(body, required)?
            }
            None => None,
        };
        let mut responses = Vec::new();
        for (status, response) in get(op, "responses")
            .and_then(as_map)
            .map(entries)
            .into_iter()
            .flatten()
        {
            if status.starts_with("x-") {
                continue;
            }
            let response = self.deref(response)?;
            // A documented response body is always sent, so it is required.
            let body = self.body(response, true)?;
            responses.push(Response { status, body });
        }
        let security = match get(op, "security") {
            Some(own) => security_names(own),
            None => document_security
                .map(<[String]>::to_vec)
                .unwrap_or_default(),
        };
        Ok(Operation {
            method: method.to_ascii_uppercase(),
            path: path.to_owned(),
            operation_id: get_text(op, "operationId"),
            deprecated: get_bool(op, "deprecated").unwrap_or(false),
            tags: get(op, "tags")
                .and_then(as_seq)
                .map(|t| t.iter().filter_map(scalar_text).collect())
                .unwrap_or_default(),
            parameters,
            request_body,
            responses,
            security,
        })
    }

    /// The `parameters` list of a path item or operation, each resolved.
    fn parameters(&mut self, owner: &'a Value, path: &str) -> Result<Vec<Parameter>, SpecError> {
        let mut out = Vec::new();
        for parameter in get(owner, "parameters")
            .and_then(as_seq)
            .into_iter()
            .flatten()
        {
            let parameter = self.deref(parameter)?;
            let Some(name) = get_text(parameter, "name") else {
                return Err(self.error_at(
                    path,
                    SpecErrorKind::Invalid,
                    format!("a parameter of `{path}` has no `name`"),
                    "give every parameter a `name` and an `in`",
                ));
            };
            let location = match get_str(parameter, "in") {
                Some("path") => ParamIn::Path,
                Some("query") => ParamIn::Query,
                Some("header") => ParamIn::Header,
                Some("cookie") => ParamIn::Cookie,
                other => {
                    return Err(self.error_at(
                        path,
                        SpecErrorKind::Invalid,
                        format!(
                            "parameter `{name}` of `{path}` has `in: {}`",
                            other.unwrap_or("(missing)")
                        ),
                        "set `in` to path, query, header or cookie",
                    ))
                }
            };
            // OpenAPI 3 allows `content` instead of `schema`, with exactly one media type.
            let schema_value = get(parameter, "schema").or_else(|| {
                let content = get(parameter, "content").and_then(as_map)?;
                content
                    .values()
                    .next()
                    .and_then(|media| get(media, "schema"))
            });
            let schema = match schema_value {
                Some(schema) => self.schema(schema)?,
                None => Schema::Any,
            };
            out.push(Parameter {
                name,
                location,
                required: location == ParamIn::Path
                    || get_bool(parameter, "required").unwrap_or(false),
                schema,
            });
        }
        Ok(out)
    }

    /// The body of a request body or response object: the JSON media type if there is one.
    fn body(&mut self, owner: &'a Value, required: bool) -> Result<Option<Body>, SpecError> {
        let Some(content) = get(owner, "content").and_then(as_map) else {
            return Ok(None);
        };
        let media: Vec<(String, &Value)> = entries(content).collect();
        let chosen = media
            .iter()
            .find(|(t, _)| t.eq_ignore_ascii_case("application/json"))
            .or_else(|| {
                media
                    .iter()
                    .find(|(t, _)| t.to_ascii_lowercase().contains("json"))
            })
            .or_else(|| media.first());
        let Some((media_type, media)) = chosen else {
            return Ok(None);
        };
        let schema = match get(media, "schema") {
            Some(schema) => self.schema(schema)?,
            None => Schema::Any,
        };
        Ok(Some(Body {
            media_type: media_type.clone(),
            schema,
            required,
        }))
    }
}

/// Scheme names of a security requirement list, in order, without repeats.
fn security_names(requirements: &Value) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    let maps = as_seq(requirements)
        .into_iter()
        .flatten()
        .filter_map(as_map);
    for (name, _) in maps.flat_map(entries) {
        if !names.contains(&name) {
            names.push(name);
        }
    }
    names
}

/// The path part of every `servers[].url`, in document order without repeats; `[""]` when
/// there are none.
fn base_paths(root: &Value) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for server in get(root, "servers").and_then(as_seq).into_iter().flatten() {
        let Some(url) = get_text(server, "url") else {
            continue;
        };
        let path = url_path(&substitute_variables(&url, server));
        if !out.contains(&path) {
            out.push(path);
        }
    }
    if out.is_empty() {
        out.push(String::new());
    }
    out
}

/// Replaces `{name}` with the server variable's `default` (empty when it has none).
fn substitute_variables(url: &str, server: &Value) -> String {
    let variables = get(server, "variables");
    let mut out = String::with_capacity(url.len());
    let mut rest = url;
    while let Some((before, after)) = rest.split_once('{') {
        out.push_str(before);
        let Some((name, tail)) = after.split_once('}') else {
            out.push('{');
            rest = after;
            continue;
        };
        let default = variables
            .and_then(|v| get(v, name))
            .and_then(|v| get_text(v, "default"));
        out.push_str(&default.unwrap_or_default());
        rest = tail;
    }
    out.push_str(rest);
    out
}

/// The path of a URL: no scheme, host, query or fragment, no trailing `/`, and a leading
/// `/` when there is a path at all (a relative `v1` is served at `/v1`).
fn url_path(url: &str) -> String {
    let without_authority = match url.split_once("://") {
        Some((_, rest)) => rest.find('/').and_then(|at| rest.get(at..)).unwrap_or(""),
        None => match url.strip_prefix("//") {
            Some(rest) => rest.find('/').and_then(|at| rest.get(at..)).unwrap_or(""),
            None => url,
        },
    };
    let path = without_authority
        .split(['?', '#'])
        .next()
        .unwrap_or("")
        .trim_end_matches('/');
    if path.is_empty() || path.starts_with('/') {
        path.to_owned()
    } else {
        format!("/{path}")
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]
    use super::*;

    #[test]
    fn url_path_strips_scheme_host_query_and_trailing_slash() {
        let cases = [
            (
                "https://api.example.com/open-banking/v4.0/aisp",
                "/open-banking/v4.0/aisp",
            ),
            ("https://api.example.com", ""),
            ("https://api.example.com/", ""),
            ("//cdn.example.com/v2/?x=1", "/v2"),
            ("/relative/base/", "/relative/base"),
            ("v1", "/v1"),
            ("", ""),
        ];
        for (url, expected) in cases {
            assert_eq!(url_path(url), expected, "{url}");
        }
    }

    #[test]
    fn server_variables_take_their_defaults() {
        let server: Value = serde_norway::from_str(
            "url: 'https://{host}/{basePath}/v{major}'\nvariables:\n  host: {default: h.example}\n  \
             basePath: {default: open-banking}\n  major: {default: 3}\n",
        )
        .unwrap();
        let url = substitute_variables("https://{host}/{basePath}/v{major}", &server);
        assert_eq!(url, "https://h.example/open-banking/v3");
        assert_eq!(substitute_variables("/a/{unknown}/b{", &server), "/a//b{");
    }

    #[test]
    fn security_names_are_united_in_order() {
        let v: Value =
            serde_norway::from_str("- {a: [], b: [x]}\n- {b: [], c: []}\n- {}\n").unwrap();
        assert_eq!(security_names(&v), vec!["a", "b", "c"]);
    }
}
