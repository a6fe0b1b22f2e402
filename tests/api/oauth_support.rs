//! Shared steps of the OAuth tests: clients, PKCE pairs, and a cookie-keeping HTTP client that
//! walks the hosted pages the way a browser without JavaScript would.

use std::collections::HashMap;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use reqwest::{Method, Response};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::helpers::{PASSWORD, TestApp};

pub const REDIRECT_URI: &str = "http://127.0.0.1:9/callback";

/// Creates a client in `slug` through the admin API; `fields` override the defaults.
pub async fn create_client(app: &TestApp, slug: &str, fields: Value) -> Value {
    let mut body = json!({ "name": "Acme App", "redirect_uris": [REDIRECT_URI], "first_party": true });
    for (key, value) in fields.as_object().expect("fields object") {
        body[key] = value.clone();
    }
    let response =
        app.admin(Method::POST, "/clients").header("x-ovlt-tenant-slug", slug).json(&body).send().await.unwrap();
    assert_eq!(response.status(), 201, "creating a client");
    response.json().await.unwrap()
}

/// A PKCE verifier and its S256 challenge.
pub fn pkce() -> (String, String) {
    let verifier = URL_SAFE_NO_PAD.encode(rand_bytes());
    let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
    (verifier, challenge)
}

fn rand_bytes() -> [u8; 32] {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).unwrap();
    bytes
}

/// The query parameters of a redirect's `Location`.
pub fn redirect_params(response: &Response) -> HashMap<String, String> {
    let location = response.headers().get("location").expect("a redirect").to_str().unwrap();
    let url = url::Url::parse(location).unwrap();
    url.query_pairs().into_owned().collect()
}

pub fn location(response: &Response) -> String {
    response.headers().get("location").expect("a redirect").to_str().unwrap().to_string()
}

/// A cookie-keeping client that follows no redirects: a browser, minus JavaScript.
pub struct Browser {
    pub client: reqwest::Client,
    base: String,
}

impl Browser {
    pub fn new(app: &TestApp) -> Self {
        let client =
            reqwest::Client::builder().cookie_store(true).redirect(reqwest::redirect::Policy::none()).build().unwrap();
        Self { client, base: app.address.clone() }
    }

    pub async fn authorize(&self, params: &[(&str, &str)]) -> Response {
        self.client.get(format!("{}/oauth/authorize", self.base)).query(params).send().await.unwrap()
    }

    /// Submits the page's form (its hidden fields, overridden or completed by `fields`) to `action`.
    pub async fn submit(&self, page: &str, action: &str, fields: &[(&str, &str)]) -> Response {
        let mut form = hidden_fields(page);
        form.retain(|(name, _)| !fields.iter().any(|(field, _)| field == name));
        form.extend(fields.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        self.client.post(format!("{}{action}", self.base)).form(&form).send().await.unwrap()
    }

    pub async fn sign_in(&self, page: &str, email: &str) -> Response {
        self.submit(page, "/oauth/sign-in", &[("email", email), ("password", PASSWORD)]).await
    }

    /// Authorize → sign in (if asked) → consent (if asked) → the redirect's parameters.
    pub async fn code_flow(&self, params: &[(&str, &str)], email: &str) -> HashMap<String, String> {
        let mut response = self.authorize(params).await;
        if response.status() == 200 {
            let page = response.text().await.unwrap();
            assert!(page.contains("action=\"/oauth/sign-in\""), "expected the sign-in page: {page}");
            response = self.sign_in(&page, email).await;
        }
        if response.status() == 200 {
            let page = response.text().await.unwrap();
            assert!(page.contains("action=\"/oauth/consent\""), "expected the consent page: {page}");
            response = self.submit(&page, "/oauth/consent", &[("decision", "allow")]).await;
        }
        assert_eq!(response.status(), 303, "expected a redirect back to the client");
        redirect_params(&response)
    }
}

/// `name` → `value` of the page's hidden inputs, unescaped.
pub fn hidden_fields(page: &str) -> Vec<(String, String)> {
    page.split("<input type=\"hidden\" ")
        .skip(1)
        .filter_map(|rest| {
            let name = rest.strip_prefix("name=\"")?.split('"').next()?;
            let value = rest.split("value=\"").nth(1)?.split('"').next()?;
            Some((unescape(name), unescape(value)))
        })
        .collect()
}

fn unescape(text: &str) -> String {
    text.replace("&#34;", "\"")
        .replace("&#39;", "'")
        .replace("&#60;", "<")
        .replace("&#62;", ">")
        .replace("&quot;", "\"")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&#38;", "&")
        .replace("&amp;", "&")
}

/// POSTs a form to the token endpoint with HTTP Basic client authentication.
pub async fn token_request(app: &TestApp, client: &Value, form: &[(&str, &str)]) -> Response {
    let id = client["client_id"].as_str().unwrap();
    let secret = client["client_secret"].as_str();
    let mut request = app.request(Method::POST, "/oauth/token").form(form);
    if let Some(secret) = secret {
        request = request.basic_auth(id, Some(secret));
    }
    request.send().await.unwrap()
}

/// The standard authorization request of `client` with PKCE; returns (params, verifier).
pub fn authorization_params(client: &Value, scope: &str) -> (Vec<(String, String)>, String) {
    let (verifier, challenge) = pkce();
    let params = vec![
        ("response_type".to_string(), "code".to_string()),
        ("client_id".into(), client["client_id"].as_str().unwrap().to_string()),
        ("redirect_uri".into(), REDIRECT_URI.into()),
        ("scope".into(), scope.into()),
        ("state".into(), "state-123".into()),
        ("nonce".into(), "nonce-456".into()),
        ("code_challenge".into(), challenge),
        ("code_challenge_method".into(), "S256".into()),
    ];
    (params, verifier)
}

pub fn as_refs(params: &[(String, String)]) -> Vec<(&str, &str)> {
    params.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect()
}

/// The `href` of the link with `id` in `page`, HTML entities decoded.
pub fn link_with_id(page: &str, id: &str) -> String {
    let tag = page
        .split("<a ")
        .find(|tag| tag.contains(&format!("id=\"{id}\"")))
        .unwrap_or_else(|| panic!("no #{id}:\n{page}"));
    let href = tag.split("href=\"").nth(1).and_then(|rest| rest.split('"').next()).unwrap();
    decode_entities(href)
}

/// `&amp;` and numeric character references (`&#38;`, `&#x2f;`), as askama writes them.
pub fn decode_entities(text: &str) -> String {
    let mut decoded = String::new();
    let mut rest = text;
    while let Some(start) = rest.find('&') {
        decoded.push_str(&rest[..start]);
        let entity = &rest[start + 1..];
        let end = entity.find(';').expect("an entity ends with ;");
        let name = &entity[..end];
        let code = match name.strip_prefix("#x").or_else(|| name.strip_prefix("#X")) {
            Some(hex) => u32::from_str_radix(hex, 16).ok(),
            None => name.strip_prefix('#').and_then(|dec| dec.parse().ok()),
        };
        decoded.push(match (name, code) {
            ("amp", _) => '&',
            ("quot", _) => '"',
            ("lt", _) => '<',
            ("gt", _) => '>',
            (_, Some(code)) => char::from_u32(code).expect("a character"),
            _ => panic!("unknown entity &{name};"),
        });
        rest = &entity[end + 1..];
    }
    decoded.push_str(rest);
    decoded
}
