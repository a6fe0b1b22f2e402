//! Hosted HTML pages (DESIGN §6): server-rendered askama templates compiled into the binary
//! (`templates/`), escaped by default, usable without JavaScript.

use askama::Template;

pub mod i18n;
pub use i18n::Texts;

use crate::settings::TenantSettings;
use crate::tenants::Tenant;
use crate::types::settings::{is_colour, is_logo_url};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};

/// Pages load nothing but their own inline style, and no other site may frame them. There is no
/// `form-action`: browsers apply it to the redirect after a form post, which goes to the client.
/// Images only as data URLs (the enrolment page's QR code).
const PAGE_CSP: &str =
    "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; frame-ancestors 'none'";

/// A tenant's look on its hosted pages: the settings `display_name`, `logo_url` and
/// `primary_color`, each checked again here (a stored value that no longer passes is dropped).
#[derive(Debug, Clone, Default)]
pub struct Brand {
    /// The display name, else the tenant's name.
    pub name: String,
    pub logo_url: Option<String>,
    pub primary_color: Option<String>,
}

impl Brand {
    pub fn of(tenant: &Tenant, settings: &TenantSettings) -> Self {
        let name = settings.display_name.as_deref().map(str::trim).filter(|n| !n.is_empty());
        Self {
            name: name.unwrap_or(&tenant.name).to_string(),
            logo_url: settings.logo_url.clone().filter(|url| is_logo_url(url)),
            primary_color: settings.primary_color.clone().filter(|colour| is_colour(colour)),
        }
    }

    /// A name alone (no tenant settings at hand).
    pub fn named(name: &str) -> Self {
        Self { name: name.to_string(), ..Self::default() }
    }

    /// Where the logo comes from: the one image origin the page's policy allows besides data URLs.
    fn logo_origin(&self) -> Option<String> {
        let url = url::Url::parse(self.logo_url.as_deref()?).ok()?;
        Some(url.origin().ascii_serialization())
    }
}

/// A hosted page: a template, with the tenant's look when it has one.
pub trait Page: Template {
    fn brand(&self) -> Option<&Brand> {
        None
    }
}

macro_rules! branded {
    ($($page:ident),* $(,)?) => {
        $(impl Page for $page<'_> {
            fn brand(&self) -> Option<&Brand> {
                Some(&self.brand)
            }
        })*
    };
}

branded!(
    SignIn,
    SignUp,
    VerifyEmail,
    MfaCode,
    MfaEnrol,
    BackupCodes,
    Consent,
    ForgotPassword,
    ResetPassword,
    PasswordChanged,
    LinkAccount
);
impl Page for ErrorPage<'_> {}
impl Page for SignedOut {}
impl Page for LogoutConfirm {
    fn brand(&self) -> Option<&Brand> {
        Some(&self.brand)
    }
}

/// Hidden form fields: the authorization request's parameters, carried from page to page.
pub type Hidden = Vec<(String, String)>;

#[derive(Template)]
#[template(path = "sign_in.html")]
pub struct SignIn<'a> {
    pub t: &'static Texts,
    pub brand: Brand,
    pub client_name: &'a str,
    pub hidden: Hidden,
    pub csrf: String,
    pub email: &'a str,
    pub error: Option<&'a str>,
    /// News that is not an error (a verified address).
    pub notice: Option<&'a str>,
    pub reset_url: &'a str,
    /// "Create an account", when the tenant lets people register.
    pub sign_up_url: Option<String>,
    /// "Continue with …": the tenant's identity providers.
    pub providers: Vec<crate::federation::ProviderButton>,
}

#[derive(Template)]
#[template(path = "sign_up.html")]
pub struct SignUp<'a> {
    pub t: &'static Texts,
    pub brand: Brand,
    pub client_name: &'a str,
    pub hidden: Hidden,
    pub csrf: String,
    pub email: &'a str,
    pub name: &'a str,
    pub error: Option<&'a str>,
    /// Back to the sign-in of the same request.
    pub sign_in_url: String,
}

#[derive(Template)]
#[template(path = "verify_email.html")]
pub struct VerifyEmail<'a> {
    pub t: &'static Texts,
    pub brand: Brand,
    pub client_name: &'a str,
    pub hidden: Hidden,
    pub csrf: String,
    pub email: &'a str,
    pub error: Option<&'a str>,
}

#[derive(Template)]
#[template(path = "mfa.html")]
pub struct MfaCode<'a> {
    pub t: &'static Texts,
    pub brand: Brand,
    pub client_name: &'a str,
    pub hidden: Hidden,
    pub csrf: String,
    pub mfa_token: &'a str,
    pub error: Option<&'a str>,
}

#[derive(Template)]
#[template(path = "mfa_enrol.html")]
pub struct MfaEnrol<'a> {
    pub t: &'static Texts,
    pub brand: Brand,
    pub client_name: &'a str,
    pub hidden: Hidden,
    pub csrf: String,
    pub mfa_token: &'a str,
    pub secret: &'a str,
    /// A PNG data URL.
    pub qr_code: &'a str,
    pub error: Option<&'a str>,
}

#[derive(Template)]
#[template(path = "backup_codes.html")]
pub struct BackupCodes<'a> {
    pub t: &'static Texts,
    pub brand: Brand,
    pub client_name: &'a str,
    pub codes: Vec<String>,
    /// The authorization request, sent again by the Continue button.
    pub hidden: Hidden,
}

#[derive(Template)]
#[template(path = "consent.html")]
pub struct Consent<'a> {
    pub t: &'static Texts,
    pub brand: Brand,
    pub client_name: &'a str,
    pub email: &'a str,
    /// Where the answer goes: the redirect URI's scheme and host (and port).
    pub destination: &'a str,
    /// The same request with `prompt=login`: sign in as someone else.
    pub not_you: String,
    pub scopes: Vec<String>,
    pub hidden: Hidden,
    pub csrf: String,
}

#[derive(Template)]
#[template(path = "link_account.html")]
pub struct LinkAccount<'a> {
    pub t: &'static Texts,
    pub brand: Brand,
    /// The provider, as a person calls it.
    pub provider: &'a str,
    pub email: &'a str,
    /// The account has a second factor: its field is on the form.
    pub needs_code: bool,
    pub token: &'a str,
    pub csrf: String,
    pub error: Option<&'a str>,
}

#[derive(Template)]
#[template(path = "error.html")]
pub struct ErrorPage<'a> {
    pub t: &'static Texts,
    pub title: &'a str,
    pub message: &'a str,
}

#[derive(Template)]
#[template(path = "logout.html")]
pub struct LogoutConfirm {
    pub t: &'static Texts,
    pub brand: Brand,
    pub hidden: Hidden,
    pub csrf: String,
}

#[derive(Template)]
#[template(path = "forgot_password.html")]
pub struct ForgotPassword<'a> {
    pub t: &'static Texts,
    pub brand: Brand,
    pub tenant_slug: &'a str,
    /// The sign-in this page was reached from (see [`return_to`]).
    pub return_to: Option<&'a str>,
    pub csrf: String,
    /// The link was asked for: say so instead of showing the form.
    pub sent: bool,
    pub error: Option<&'a str>,
}

#[derive(Template)]
#[template(path = "reset_password.html")]
pub struct ResetPassword<'a> {
    pub t: &'static Texts,
    pub brand: Brand,
    pub tenant_slug: &'a str,
    pub return_to: Option<&'a str>,
    pub token: &'a str,
    pub csrf: String,
    pub error: Option<&'a str>,
}

#[derive(Template)]
#[template(path = "password_changed.html")]
pub struct PasswordChanged<'a> {
    pub t: &'static Texts,
    pub brand: Brand,
    /// Where "Sign in" leads: the authorization request the reset started from, if known.
    pub return_to: Option<&'a str>,
}

#[derive(Template)]
#[template(path = "signed_out.html")]
pub struct SignedOut {
    pub t: &'static Texts,
}

/// The way back to a sign-in from the pages it links to (forgot password, reset, password
/// changed): the path and query of an authorization request on this server, or nothing. Never
/// another site's URL, so the parameter cannot make ovlt's pages link anywhere else.
pub fn return_to(value: Option<&str>) -> Option<&str> {
    value.filter(|v| {
        v.starts_with("/oauth/authorize?")
            && v.len() <= 4096
            && !v.chars().any(|c| c.is_control() || c.is_whitespace() || c == '\\')
    })
}

/// `/oauth/authorize?…` with the authorization request's parameters (`hidden`), `extra` replacing
/// any of the same name.
pub fn authorize_path(hidden: &Hidden, extra: &[(&str, &str)]) -> String {
    let mut query = form_urlencoded::Serializer::new(String::new());
    for (name, value) in hidden.iter().filter(|(name, _)| !extra.iter().any(|(e, _)| e == name)) {
        query.append_pair(name, value);
    }
    query.extend_pairs(extra);
    format!("/oauth/authorize?{}", query.finish())
}

/// Adds a `Set-Cookie` (e.g. a fresh CSRF cookie) to a page, when there is one.
pub fn with_cookie(mut response: Response, cookie: Option<HeaderValue>) -> Response {
    if let Some(cookie) = cookie {
        response.headers_mut().append(header::SET_COOKIE, cookie);
    }
    response
}

/// Renders a page with its status and the pages' CSP.
pub fn render(status: StatusCode, page: &impl Page) -> Response {
    match page.render() {
        Ok(html) => {
            let mut response = (status, Html(html)).into_response();
            let policy = match page.brand().and_then(Brand::logo_origin) {
                // The origin is an ASCII serialisation of a checked https URL: a valid header value.
                Some(origin) => {
                    HeaderValue::from_str(&PAGE_CSP.replace("img-src data:", &format!("img-src data: {origin}")))
                        .unwrap_or(HeaderValue::from_static(PAGE_CSP))
                }
                None => HeaderValue::from_static(PAGE_CSP),
            };
            response.headers_mut().insert(header::CONTENT_SECURITY_POLICY, policy);
            response
        }
        Err(e) => {
            tracing::error!(error = %e, "cannot render a page");
            (StatusCode::INTERNAL_SERVER_ERROR, "internal error").into_response()
        }
    }
}

/// The error page, e.g. for an authorization request that names no valid client or redirect
/// URI: the one case where ovlt must not redirect (RFC 6749 §4.1.2.1).
pub fn error_page(t: &'static Texts, status: StatusCode, title: &str, message: &str) -> Response {
    render(status, &ErrorPage { t, title, message })
}

/// A hosted page that could not be served because something on our side failed (the
/// database, signing, a programming slip): the page counterpart of `ApiError::Internal`. Its
/// cause is logged once, when it becomes the response, and the person sees the generic error
/// page; the cause is never shown.
#[derive(Debug)]
pub struct PageError(anyhow::Error);

impl<E: Into<anyhow::Error>> From<E> for PageError {
    fn from(cause: E) -> Self {
        Self(cause.into())
    }
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        tracing::error!(error = format!("{:#}", self.0), "hosted page failed");
        // Said in English: the cause of a failure can be anywhere, even before the request's language is known.
        error_page(
            &i18n::EN,
            StatusCode::INTERNAL_SERVER_ERROR,
            "Something went wrong",
            "Please try again in a moment.",
        )
    }
}

/// The response for a page that failed with `cause` (see [`PageError`]).
pub fn failed(cause: impl Into<anyhow::Error>) -> Response {
    PageError::from(cause).into_response()
}
