//! A small builder for one OpenAPI operation, so that each endpoint in `paths.rs` reads as a
//! few lines: who may call it, what it takes, what it answers and how it fails.

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

/// A `$ref` to a component schema.
pub fn schema_ref(name: &str) -> Value {
    json!({ "$ref": format!("#/components/schemas/{name}") })
}

/// A paginated list of a component schema: the `Page` envelope with typed `data`.
pub fn page_of(item: Value) -> Value {
    json!({
        "allOf": [
            schema_ref("Page"),
            { "type": "object", "properties": { "data": { "type": "array", "items": item } } }
        ]
    })
}

/// An array of a component schema.
pub fn array_of(item: Value) -> Value {
    json!({ "type": "array", "items": item })
}

/// Who may call an operation.
pub enum Auth {
    /// Anyone: `security: []`.
    Public,
    /// The operator's `X-OVLT-Admin-Key`.
    AdminKey,
    /// Tenant administration: the admin key (with the tenant header), or a bearer token of a
    /// user of the tenant whose roles grant this permission.
    Manage(&'static str),
    /// An access token of a user of the tenant.
    Bearer,
    /// Explicit security requirements (alternatives), described in the operation.
    Custom(Vec<Value>),
}

/// How the operation answers failures, which decides the shape of its 500.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Style {
    /// `{error, message}` (the `Error` schema).
    Api,
    /// RFC 6749 `{error, error_description}` (the `OAuthError` schema).
    OAuth,
    /// HTML pages.
    Html,
}

pub struct Op {
    pub method: &'static str,
    pub path: &'static str,
    fields: Map<String, Value>,
    /// Paragraphs of the description.
    notes: Vec<String>,
    parameters: Vec<Value>,
    responses: BTreeMap<String, Value>,
    api_errors: BTreeMap<u16, Vec<&'static str>>,
    oauth_errors: BTreeMap<u16, Vec<&'static str>>,
    style: Style,
}

impl Op {
    pub fn new(method: &'static str, path: &'static str, id: &str, tag: &str, summary: &str) -> Self {
        let mut fields = Map::new();
        fields.insert("operationId".into(), json!(id));
        fields.insert("summary".into(), json!(summary));
        fields.insert("tags".into(), json!([tag]));
        Self {
            method,
            path,
            fields,
            notes: Vec::new(),
            parameters: Vec::new(),
            responses: BTreeMap::new(),
            api_errors: BTreeMap::new(),
            oauth_errors: BTreeMap::new(),
            style: Style::Api,
        }
    }

    /// Longer text under the summary.
    pub fn describe(mut self, text: &str) -> Self {
        self.notes.insert(0, text.to_string());
        self
    }

    /// Failures answer RFC 6749 `{error, error_description}` (OAuth endpoints).
    pub fn oauth(mut self) -> Self {
        self.style = Style::OAuth;
        self
    }

    /// The operation answers HTML pages (and redirects).
    pub fn html_pages(mut self) -> Self {
        self.style = Style::Html;
        self
    }

    pub fn security(mut self, auth: Auth) -> Self {
        let requirements = match auth {
            Auth::Public => json!([]),
            Auth::AdminKey => {
                self = self.error(401, &["unauthorized"]);
                json!([{ "adminKey": [] }])
            }
            Auth::Manage(permission) => {
                self.fields.insert("x-ovlt-permission".into(), json!(permission));
                self.notes.push(format!(
                    "Needs the admin key with the tenant header, or a bearer token of a user of the tenant \
                     whose roles grant `{permission}`."
                ));
                self = self.error(401, &["unauthorized", "invalid_token"]).error(403, &["forbidden"]);
                json!([{ "adminKey": [] }, { "bearer": [] }])
            }
            Auth::Bearer => {
                self = self.error(401, &["invalid_token"]);
                json!([{ "bearer": [] }])
            }
            Auth::Custom(alternatives) => Value::Array(alternatives),
        };
        self.fields.insert("security".into(), requirements);
        self
    }

    /// Tenant-scoped: the tenant headers, and the failures of resolving them.
    pub fn tenant(mut self) -> Self {
        self.parameters.push(json!({ "$ref": "#/components/parameters/TenantId" }));
        self.parameters.push(json!({ "$ref": "#/components/parameters/TenantSlug" }));
        self.error(400, &["tenant_required"]).error(403, &["tenant_disabled"]).error(404, &["tenant_not_found"])
    }

    /// The tenant headers alone, for an operation that reports their failures its own way.
    pub fn tenant_headers(mut self) -> Self {
        self.parameters.push(json!({ "$ref": "#/components/parameters/TenantId" }));
        self.parameters.push(json!({ "$ref": "#/components/parameters/TenantSlug" }));
        self
    }

    /// A UUID path parameter; a malformed one answers 400.
    pub fn path_param(mut self, name: &str, description: &str) -> Self {
        self.parameters.push(json!({
            "name": name,
            "in": "path",
            "required": true,
            "description": description,
            "schema": { "type": "string", "format": "uuid" }
        }));
        self.error(400, &["invalid_payload"])
    }

    /// An optional query parameter.
    pub fn query(mut self, name: &str, schema: Value, description: &str) -> Self {
        self.parameters.push(json!({
            "name": name,
            "in": "query",
            "required": false,
            "description": description,
            "schema": schema
        }));
        self
    }

    /// `?page=&per_page=`.
    pub fn paginated(mut self) -> Self {
        self.parameters.push(json!({ "$ref": "#/components/parameters/Page" }));
        self.parameters.push(json!({ "$ref": "#/components/parameters/PerPage" }));
        self.error(400, &["invalid_payload"])
    }

    /// A JSON request body; malformed JSON or a wrong content type answer 400, an oversized
    /// body 413.
    pub fn json_body(mut self, schema: Value, required: bool) -> Self {
        self.fields.insert(
            "requestBody".into(),
            json!({ "required": required, "content": { "application/json": { "schema": schema } } }),
        );
        match self.style {
            Style::Api => self.error(400, &["invalid_payload"]).error(413, &["payload_too_large"]),
            _ => self,
        }
    }

    /// An `application/x-www-form-urlencoded` request body.
    pub fn form_body(mut self, schema: Value) -> Self {
        self.fields.insert(
            "requestBody".into(),
            json!({ "required": true, "content": { "application/x-www-form-urlencoded": { "schema": schema } } }),
        );
        self
    }

    /// An `application/x-www-form-urlencoded` request body that may be left out.
    pub fn optional_form_body(mut self, schema: Value) -> Self {
        self.fields.insert(
            "requestBody".into(),
            json!({ "required": false, "content": { "application/x-www-form-urlencoded": { "schema": schema } } }),
        );
        self
    }

    /// A JSON answer.
    pub fn json(self, status: u16, description: &str, schema: Value) -> Self {
        self.content(status, description, "application/json", schema)
    }

    /// An answer with a body of another media type.
    pub fn content(mut self, status: u16, description: &str, media_type: &str, schema: Value) -> Self {
        self.responses.insert(
            status.to_string(),
            json!({ "description": description, "content": { media_type: { "schema": schema } } }),
        );
        self
    }

    /// An answer without a body.
    pub fn empty(mut self, status: u16, description: &str) -> Self {
        self.responses.insert(status.to_string(), json!({ "description": description }));
        self
    }

    /// An HTML page.
    pub fn html(self, status: u16, description: &str) -> Self {
        self.content(status, description, "text/html", json!({ "type": "string" }))
    }

    /// A 303 See Other to `Location`.
    pub fn redirect(mut self, description: &str) -> Self {
        self.responses.insert(
            "303".into(),
            json!({
                "description": description,
                "headers": {
                    "Location": {
                        "description": "Where the browser goes next.",
                        "schema": { "type": "string", "format": "uri" }
                    }
                }
            }),
        );
        self
    }

    /// A header on an answer declared before.
    pub fn response_header(mut self, status: u16, name: &str, description: &str) -> Self {
        if let Some(Value::Object(response)) = self.responses.get_mut(&status.to_string()) {
            let headers = response.entry("headers").or_insert_with(|| json!({}));
            headers[name] = json!({ "description": description, "schema": { "type": "string" } });
        }
        self
    }

    /// Failures in the `Error` shape with these codes.
    pub fn error(mut self, status: u16, codes: &[&'static str]) -> Self {
        let known = self.api_errors.entry(status).or_default();
        for code in codes {
            if !known.contains(code) {
                known.push(code);
            }
        }
        self
    }

    /// Failures in the RFC 6749 `OAuthError` shape with these codes.
    pub fn oauth_error(mut self, status: u16, codes: &[&'static str]) -> Self {
        let known = self.oauth_errors.entry(status).or_default();
        for code in codes {
            if !known.contains(code) {
                known.push(code);
            }
        }
        self
    }

    /// The per-IP limit of `/auth/*` (and the hosted sign-in steps): 429 with `Retry-After`.
    pub fn rate_limited(self) -> Self {
        self.error(429, &["rate_limited"])
    }

    /// A hosted form's 429: a page for a person, with `Retry-After`.
    pub fn page_rate_limited(self) -> Self {
        self.html(429, "A page: too many requests from this network; Retry-After says when to try again.")
    }

    /// The finished operation object.
    pub fn build(mut self) -> Value {
        // Every operation can fail on the server's side.
        match self.style {
            Style::Api => self = self.error(500, &["internal_error"]),
            Style::OAuth => self = self.oauth_error(500, &["server_error"]),
            Style::Html => {
                if !self.responses.contains_key("500") {
                    self = self.html(500, "Something went wrong (an HTML error page).");
                }
                // A NUL (`%00`) anywhere in the URL is refused before any page is reached, as JSON.
                let bad_request = self
                    .responses
                    .entry("400".into())
                    .or_insert_with(|| json!({ "description": "A malformed request.", "content": {} }));
                bad_request["content"]["application/json"] = json!({ "schema": schema_ref("Error") });
                let described = bad_request["description"].as_str().unwrap_or_default().to_string();
                bad_request["description"] = json!(format!(
                    "{described} A NUL character in the URL answers JSON `invalid_payload` instead of a page."
                ));
            }
        }
        for (status, codes) in &self.api_errors {
            let key = status.to_string();
            if self.responses.contains_key(&key) {
                continue;
            }
            let mut response = json!({
                "description": error_description(codes),
                "content": { "application/json": { "schema": schema_ref("Error") } }
            });
            if *status == 429 {
                response["headers"] = json!({
                    "Retry-After": {
                        "description": "Seconds until the window resets.",
                        "schema": { "type": "integer" }
                    }
                });
            }
            if *status == 401 && codes.contains(&"invalid_token") {
                response["headers"] = json!({
                    "WWW-Authenticate": {
                        "description": "`Bearer error=\"invalid_token\"` (RFC 6750 §3).",
                        "schema": { "type": "string" }
                    }
                });
            }
            self.responses.insert(key, response);
        }
        for (status, codes) in &self.oauth_errors {
            let key = status.to_string();
            if self.responses.contains_key(&key) {
                continue;
            }
            let mut response = json!({
                "description": error_description(codes),
                "content": { "application/json": { "schema": schema_ref("OAuthError") } }
            });
            if *status == 401 {
                response["headers"] = json!({
                    "WWW-Authenticate": { "description": "`Basic realm=\"ovlt\"`.", "schema": { "type": "string" } }
                });
            }
            self.responses.insert(key, response);
        }
        if !self.notes.is_empty() {
            self.fields.insert("description".into(), json!(self.notes.join("\n\n")));
        }
        if !self.parameters.is_empty() {
            self.fields.insert("parameters".into(), Value::Array(self.parameters));
        }
        self.fields.insert("responses".into(), Value::Object(self.responses.into_iter().collect()));
        Value::Object(self.fields)
    }
}

fn error_description(codes: &[&str]) -> String {
    let list: Vec<String> = codes.iter().map(|c| format!("`{c}`")).collect();
    format!("Error: {}.", list.join(", "))
}
