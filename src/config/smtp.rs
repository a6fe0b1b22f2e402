//! How to reach the SMTP relay: `OVLT_SMTP_URL`, or `OVLT_SMTP_HOST` with its companions.

use super::Secret;

/// How to reach the SMTP relay.
#[derive(Debug, Clone)]
pub enum SmtpConfig {
    /// `smtp://…` (plain unless `?tls=required`) or `smtps://…` (implicit TLS), lettre's form.
    Url(Secret),
    Host {
        host: String,
        port: u16,
        username: Option<String>,
        password: Option<Secret>,
        tls: SmtpTls,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SmtpTls {
    /// STARTTLS, required (the default).
    Required,
    /// TLS from the first byte (port 465).
    Implicit,
    /// No encryption: only for a relay on the same host or network.
    None,
}

/// The SMTP settings, if any; `Err((variable, why))` names the variable at fault.
pub(super) fn parse_smtp(var: &dyn Fn(&str) -> Option<String>) -> Result<Option<SmtpConfig>, (&'static str, String)> {
    if let Some(url) = var("OVLT_SMTP_URL") {
        if !(url.starts_with("smtp://") || url.starts_with("smtps://")) {
            return Err(("OVLT_SMTP_URL", "expected an smtp:// or smtps:// URL".into()));
        }
        return Ok(Some(SmtpConfig::Url(Secret::new(url))));
    }
    let Some(host) = var("OVLT_SMTP_HOST") else { return Ok(None) };
    let tls = match var("OVLT_SMTP_TLS").as_deref() {
        None | Some("required") | Some("starttls") => SmtpTls::Required,
        Some("implicit") | Some("tls") => SmtpTls::Implicit,
        Some("none") => SmtpTls::None,
        Some(other) => return Err(("OVLT_SMTP_TLS", format!("expected required, implicit or none, got {other:?}"))),
    };
    let default_port = if tls == SmtpTls::Implicit { 465 } else { 587 };
    let port = match var("OVLT_SMTP_PORT") {
        None => default_port,
        Some(p) => p.parse().map_err(|_| ("OVLT_SMTP_PORT", format!("expected a port number, got {p:?}")))?,
    };
    Ok(Some(SmtpConfig::Host {
        host,
        port,
        username: var("OVLT_SMTP_USERNAME"),
        password: var("OVLT_SMTP_PASSWORD").map(Secret::new),
        tls,
    }))
}
