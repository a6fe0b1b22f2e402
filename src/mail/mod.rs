//! Outgoing email through lettre/SMTP.
//!
//! Messages are sent in the background, so the time an endpoint takes never depends on
//! whether an email went out (no account enumeration through timing) and a slow relay never
//! holds a request. Without SMTP, development writes each message to the log so a developer
//! can follow a verification or reset flow; production logs only that a message was dropped.

use lettre::message::Mailbox;
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

use crate::config::{Config, SmtpConfig, SmtpTls};

pub struct OutgoingEmail {
    pub to: String,
    pub subject: String,
    pub body: String,
}

#[derive(Clone)]
pub struct Mailer {
    transport: Option<AsyncSmtpTransport<Tokio1Executor>>,
    from: Mailbox,
    log_when_unconfigured: bool,
}

impl Mailer {
    pub fn from_config(config: &Config) -> anyhow::Result<Self> {
        let transport = match &config.smtp {
            None => None,
            Some(SmtpConfig::Url(url)) => Some(AsyncSmtpTransport::<Tokio1Executor>::from_url(url.expose())?.build()),
            Some(SmtpConfig::Host { host, port, username, password, tls }) => {
                let mut builder = match tls {
                    SmtpTls::Required => AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(host)?,
                    SmtpTls::Implicit => AsyncSmtpTransport::<Tokio1Executor>::relay(host)?,
                    SmtpTls::None => AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host),
                }
                .port(*port);
                if let Some(user) = username {
                    let pass = password.as_ref().map(|p| p.expose().to_string()).unwrap_or_default();
                    builder = builder.credentials(Credentials::new(user.clone(), pass));
                }
                Some(builder.build())
            }
        };
        Ok(Self { transport, from: config.mail_from.parse()?, log_when_unconfigured: !config.is_production() })
    }

    /// Sends without making the caller wait; failures are logged without the message body.
    pub fn send_in_background(&self, email: OutgoingEmail) {
        let mailer = self.clone();
        tokio::spawn(async move {
            if let Err(e) = mailer.send(email).await {
                tracing::error!(error = format!("{e:#}"), "email not sent");
            }
        });
    }

    pub async fn send(&self, email: OutgoingEmail) -> anyhow::Result<()> {
        let Some(transport) = &self.transport else {
            if self.log_when_unconfigured {
                // Development only: the message, code included, so the flow can be followed.
                tracing::warn!(to = %email.to, subject = %email.subject, body = %email.body, "SMTP is not configured; email written to the log instead");
            } else {
                tracing::error!(subject = %email.subject, "SMTP is not configured; email dropped");
            }
            return Ok(());
        };
        let message =
            Message::builder().from(self.from.clone()).to(email.to.parse()?).subject(email.subject).body(email.body)?;
        transport.send(message).await?;
        Ok(())
    }
}
