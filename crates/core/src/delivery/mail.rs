//! Email: templates, the outbox worker and delivery.
//!
//! Requests never talk to a mail server. They queue a message in the `email_outbox` table (in
//! the transaction that creates the token it carries), and a worker delivers it: over SMTP
//! (lettre) when the server or the project configures a server, otherwise to the dev outbox, one
//! JSON file per message in `<data-dir>/outbox/`. Failed sends are logged and retried with
//! exponential back-off, then given up after [`MAX_ATTEMPTS`] and logged as an error. Message
//! bodies carry one-time links, so they are sealed with the master key in the table and erased
//! once delivered (SECURITY K2).
//!
//! Templates are minijinja with HTML auto-escaping; their context holds only what we control
//! (project name, link, code, lifetime), never user input (SECURITY O4).

use minijinja::{AutoEscape, Environment};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use crate::clock::Clock;
use crate::crypto::MasterKey;
use crate::error::{Error, Result};
use crate::model::{EmailKind, OutboxMessage, Project, SmtpSettings, TemplateOverride, TlsMode};
use crate::store::Store;

/// Delivery attempts before a message is given up.
pub const MAX_ATTEMPTS: i64 = 8;
/// An SMTP conversation longer than this counts as failed (and is retried).
const SEND_TIMEOUT: Duration = Duration::from_secs(15);

/// Checks an SMTP server's settings; errors name `field`.
pub fn validate_smtp(smtp: &SmtpSettings, field: &str) -> Result<()> {
    if smtp.host.trim().is_empty()
        || smtp.host.len() > 255
        || smtp.host.contains(|c: char| c.is_whitespace() || c == '/')
    {
        return Err(Error::invalid(
            &format!("{field}.host"),
            "not a valid host name",
        ));
    }
    if smtp.port == 0 {
        return Err(Error::invalid(
            &format!("{field}.port"),
            "port must be 1 to 65535",
        ));
    }
    Ok(())
}

fn default_template(kind: EmailKind) -> (&'static str, &'static str, &'static str) {
    match kind {
        EmailKind::VerifyEmail => (
            "Confirm your email for {{ project }}",
            "Confirm your email address for {{ project }} by opening this link:\n\n{{ link }}\n\n\
             The link works once and expires in {{ expires_minutes }} minutes. If you did not sign up, ignore this email.\n",
            "<p>Confirm your email address for <strong>{{ project }}</strong>.</p>\
             <p><a href=\"{{ link }}\">Confirm my email</a></p>\
             <p>The link works once and expires in {{ expires_minutes }} minutes. If you did not sign up, ignore this email.</p>",
        ),
        EmailKind::PasswordReset => (
            "Reset your {{ project }} password",
            "Someone asked to reset the password of your {{ project }} account. To choose a new one, open:\n\n{{ link }}\n\n\
             The link works once and expires in {{ expires_minutes }} minutes. If it was not you, ignore this email: your password stays as it is.\n",
            "<p>Someone asked to reset the password of your <strong>{{ project }}</strong> account.</p>\
             <p><a href=\"{{ link }}\">Choose a new password</a></p>\
             <p>The link works once and expires in {{ expires_minutes }} minutes. If it was not you, ignore this email: your password stays as it is.</p>",
        ),
        EmailKind::MfaLocked => (
            "Sign-in codes for {{ project }} are blocked",
            "Someone entered the right password of your {{ project }} account, followed by too many wrong verification codes. \
             Codes from your authenticator app or by SMS no longer work for this account.\n\n\
             To sign in, use one of your backup codes, or contact the {{ project }} team. If this was not you, change your password as soon as you can.\n",
            "<p>Someone entered the right password of your <strong>{{ project }}</strong> account, followed by too many wrong verification codes. \
             Codes from your authenticator app or by SMS no longer work for this account.</p>\
             <p>To sign in, use one of your backup codes, or contact the {{ project }} team. If this was not you, change your password as soon as you can.</p>",
        ),
        EmailKind::MagicLink => (
            "Sign in to {{ project }}",
            "To sign in to {{ project }}, open this link:\n\n{{ link }}\n\n\
             Or enter this code: {{ code }}\n\n\
             The link works once and expires in {{ expires_minutes }} minutes, the code in {{ code_minutes }}. If you did not ask to sign in, ignore this email.\n",
            "<p>To sign in to <strong>{{ project }}</strong>, use the button below.</p>\
             <p><a href=\"{{ link }}\">Sign in</a></p>\
             <p>Or enter this code: <strong>{{ code }}</strong></p>\
             <p>The link works once and expires in {{ expires_minutes }} minutes, the code in {{ code_minutes }}. If you did not ask to sign in, ignore this email.</p>",
        ),
        EmailKind::SignInCode => (
            "{{ code }} is your {{ project }} sign-in code",
            "Your {{ project }} sign-in code is {{ code }}\n\n\
             It works once and expires in {{ expires_minutes }} minutes. If you did not ask to sign in, ignore this email.\n",
            "<p>Your <strong>{{ project }}</strong> sign-in code is</p>\
             <p style=\"font-size:24px;letter-spacing:4px\"><strong>{{ code }}</strong></p>\
             <p>It works once and expires in {{ expires_minutes }} minutes. If you did not ask to sign in, ignore this email.</p>",
        ),
        EmailKind::PasswordChanged => (
            "Your {{ project }} password was changed",
            "The password of your {{ project }} account was just changed, and your other sessions were signed out.\n\n\
             If this was not you, reset your password at once and contact the {{ project }} team.\n",
            "<p>The password of your <strong>{{ project }}</strong> account was just changed, and your other sessions were signed out.</p>\
             <p>If this was not you, reset your password at once and contact the {{ project }} team.</p>",
        ),
    }
}

fn environment() -> Environment<'static> {
    let mut env = Environment::new();
    env.set_auto_escape_callback(|name| {
        if name.ends_with(".html") {
            AutoEscape::Html
        } else {
            AutoEscape::None
        }
    });
    env
}

/// Checks a template override compiles and is of a known kind.
pub fn validate_override(kind: &str, t: &TemplateOverride) -> std::result::Result<(), String> {
    if EmailKind::parse(kind).is_none() {
        let known: Vec<&str> = EmailKind::ALL.iter().map(|k| k.as_str()).collect();
        return Err(format!(
            "unknown email kind {kind}; known: {}",
            known.join(", ")
        ));
    }
    let env = environment();
    for (part, source) in [
        ("subject", &t.subject),
        ("text", &t.text),
        ("html", &t.html),
    ] {
        if let Some(src) = source {
            if src.chars().count() > 32 * 1024 {
                return Err(format!("{part} template is longer than 32768 characters"));
            }
            env.template_from_named_str(if part == "html" { "t.html" } else { "t.txt" }, src)
                .map_err(|e| format!("{part} template: {e}"))?;
        }
    }
    Ok(())
}

/// Parses a sender such as `Acme <no-reply@acme.test>`.
pub fn parse_mailbox(text: &str) -> std::result::Result<lettre::message::Mailbox, String> {
    text.parse::<lettre::message::Mailbox>()
        .map_err(|e| e.to_string())
}

/// A rendered email.
#[derive(Debug, Clone, PartialEq)]
pub struct Rendered {
    pub subject: String,
    pub text: String,
    pub html: String,
}

/// Renders `kind` for `project`, with the project's overrides where it has them.
pub fn render(
    project: &Project,
    kind: EmailKind,
    link: Option<&str>,
    code: Option<&str>,
    expires_minutes: u64,
) -> Result<Rendered> {
    let (subject, text, html) = default_template(kind);
    let over = project
        .settings
        .email_templates
        .get(kind.as_str())
        .cloned()
        .unwrap_or_default();
    let env = environment();
    let ctx = minijinja::context! {
        project => project.name,
        link => link.unwrap_or(""),
        code => code.unwrap_or(""),
        expires_minutes => expires_minutes,
        code_minutes => expires_minutes.min(crate::model::OTP_TTL_MINUTES),
    };
    let r = |name: &str, src: &str| {
        env.render_named_str(name, src, &ctx).map_err(|e| {
            Error::Internal(anyhow::anyhow!(
                "email template {}/{name}: {e}",
                kind.as_str()
            ))
        })
    };
    Ok(Rendered {
        subject: r("subject.txt", over.subject.as_deref().unwrap_or(subject))?
            .replace(['\r', '\n'], " "),
        text: r("body.txt", over.text.as_deref().unwrap_or(text))?,
        html: r("body.html", over.html.as_deref().unwrap_or(html))?,
    })
}

/// Server-wide mail configuration.
#[derive(Debug, Clone)]
pub struct MailConfig {
    /// Default sender.
    pub from: String,
    /// The server's SMTP relay; `None` means the dev outbox unless a project has its own.
    pub smtp: Option<SmtpSettings>,
    /// `<data-dir>/outbox`
    pub outbox_dir: PathBuf,
}

pub struct Mailer {
    store: Store,
    master: MasterKey,
    config: MailConfig,
    clock: Arc<Clock>,
    wake: tokio::sync::Notify,
}

impl Mailer {
    pub fn new(
        store: Store,
        master: MasterKey,
        config: MailConfig,
        clock: Arc<Clock>,
    ) -> Arc<Self> {
        Arc::new(Self {
            store,
            master,
            config,
            clock,
            wake: tokio::sync::Notify::new(),
        })
    }

    /// Renders an email and seals it for the outbox table.
    pub fn compose(
        &self,
        project: &Project,
        kind: EmailKind,
        to: &str,
        link: Option<&str>,
        code: Option<&str>,
        expires_minutes: u64,
    ) -> Result<OutboxMessage> {
        let rendered = render(project, kind, link, code, expires_minutes)?;
        let id = crate::ids::new_id("msg");
        let aad = format!("email_outbox:{id}");
        Ok(OutboxMessage {
            project_id: project.id.clone(),
            kind: kind.as_str().to_owned(),
            recipient: to.to_owned(),
            subject: rendered.subject,
            text_body: self.master.seal(rendered.text.as_bytes(), &aad),
            html_body: self.master.seal(rendered.html.as_bytes(), &aad),
            link: link.map(|l| self.master.seal(l.as_bytes(), &aad)),
            code: code.map(|c| self.master.seal(c.as_bytes(), &aad)),
            attempts: 0,
            id,
        })
    }

    /// Tells the worker there is something to send.
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    /// Delivers due messages until `stop` turns true; a pass under way (an SMTP send) finishes
    /// first, so stopping never cuts a message in half.
    pub fn spawn_worker(
        self: &Arc<Self>,
        mut stop: tokio::sync::watch::Receiver<bool>,
    ) -> tokio::task::JoinHandle<()> {
        let me = Arc::clone(self);
        tokio::spawn(async move {
            while !*stop.borrow() {
                if let Err(e) = me.deliver_due().await {
                    tracing::warn!(error = ?e, "email outbox pass failed");
                }
                tokio::select! {
                    _ = tokio::time::timeout(Duration::from_secs(2), me.wake.notified()) => {}
                    _ = stop.changed() => {}
                }
            }
        })
    }

    /// One pass over the due messages; returns how many were delivered.
    pub async fn deliver_due(&self) -> Result<usize> {
        let now = self.clock.now();
        let mut delivered = 0;
        for message in self.store.outbox().due(now, 50).await? {
            let backoff = 5_000i64 << message.attempts.clamp(0, 12);
            if !self
                .store
                .outbox()
                .claim(&message.id, message.attempts, now + backoff)
                .await?
            {
                continue;
            }
            let attempt = message.attempts + 1;
            match self.deliver(&message).await {
                Ok(()) => {
                    self.store
                        .outbox()
                        .sent(&message.id, self.clock.now())
                        .await?;
                    delivered += 1;
                }
                Err(e) => {
                    let give_up = attempt >= MAX_ATTEMPTS;
                    if give_up {
                        tracing::error!(message_id = %message.id, kind = %message.kind, error = %e, "email given up after {attempt} attempts");
                    } else {
                        tracing::warn!(message_id = %message.id, kind = %message.kind, attempt, error = %e, "email delivery failed; will retry");
                    }
                    self.store
                        .outbox()
                        .failed(&message.id, &e, give_up, self.clock.now())
                        .await?;
                }
            }
        }
        Ok(delivered)
    }

    async fn deliver(&self, m: &OutboxMessage) -> std::result::Result<(), String> {
        let aad = format!("email_outbox:{}", m.id);
        let open = |sealed: &str| {
            self.master
                .open(sealed, &aad)
                .and_then(|b| String::from_utf8(b).ok())
                .ok_or_else(|| "cannot open the sealed message (wrong master key?)".to_owned())
        };
        let text = open(&m.text_body)?;
        let html = open(&m.html_body)?;
        let link = m.link.as_deref().map(open).transpose()?;
        let code = m.code.as_deref().map(open).transpose()?;
        let project = self
            .store
            .projects()
            .by_id(&m.project_id)
            .await
            .map_err(|e| e.to_string())?;
        let project_smtp = project.as_ref().and_then(|p| p.settings.smtp.clone());
        let from = project
            .as_ref()
            .and_then(|p| p.settings.email_from.clone())
            .unwrap_or_else(|| self.config.from.clone());
        match project_smtp.or_else(|| self.config.smtp.clone()) {
            Some(smtp) => {
                let password = match &smtp.password_sealed {
                    Some(sealed) => Some(
                        self.master
                            .open(sealed, &format!("smtp:{}", m.project_id))
                            .and_then(|b| String::from_utf8(b).ok())
                            .ok_or("cannot open the project's SMTP password")?,
                    ),
                    None => smtp.password.clone(),
                };
                send_smtp(
                    &smtp,
                    password,
                    &from,
                    &m.recipient,
                    &m.subject,
                    &text,
                    &html,
                )
                .await
            }
            None => {
                self.write_outbox_file(m, &text, &html, link.as_deref(), code.as_deref())
                    .await
            }
        }
    }

    async fn write_outbox_file(
        &self,
        m: &OutboxMessage,
        text: &str,
        html: &str,
        link: Option<&str>,
        code: Option<&str>,
    ) -> std::result::Result<(), String> {
        let token = link.and_then(|l| url::Url::parse(l).ok()).and_then(|u| {
            u.query_pairs()
                .find(|(k, _)| k == "token")
                .map(|(_, v)| v.into_owned())
        });
        let file = serde_json::json!({
            "id": m.id, "kind": m.kind, "to": m.recipient, "subject": m.subject,
            "text": text, "html": html, "link": link, "token": token, "code": code,
            "createdAt": crate::clock::rfc3339(self.clock.now()),
        });
        tokio::fs::create_dir_all(&self.config.outbox_dir)
            .await
            .map_err(|e| e.to_string())?;
        let name = format!("{}-{}.json", self.clock.now(), m.id);
        let tmp = self.config.outbox_dir.join(format!(".{name}.tmp"));
        let body = serde_json::to_vec_pretty(&file).map_err(|e| e.to_string())?;
        tokio::fs::write(&tmp, body)
            .await
            .map_err(|e| e.to_string())?;
        tokio::fs::rename(&tmp, self.config.outbox_dir.join(&name))
            .await
            .map_err(|e| e.to_string())?;
        tracing::info!(kind = %m.kind, to = %m.recipient, file = %name, "email written to the dev outbox");
        Ok(())
    }
}

async fn send_smtp(
    smtp: &SmtpSettings,
    password: Option<String>,
    from: &str,
    to: &str,
    subject: &str,
    text: &str,
    html: &str,
) -> std::result::Result<(), String> {
    use lettre::message::MultiPart;
    use lettre::transport::smtp::authentication::Credentials;
    use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
    let message = Message::builder()
        .from(parse_mailbox(from)?)
        .to(parse_mailbox(to)?)
        .subject(subject)
        .multipart(MultiPart::alternative_plain_html(
            text.to_owned(),
            html.to_owned(),
        ))
        .map_err(|e| e.to_string())?;
    let builder = match smtp.tls {
        TlsMode::None => AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&smtp.host),
        TlsMode::Starttls => AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(&smtp.host)
            .map_err(|e| e.to_string())?,
        TlsMode::Tls => {
            AsyncSmtpTransport::<Tokio1Executor>::relay(&smtp.host).map_err(|e| e.to_string())?
        }
    };
    let mut builder = builder.port(smtp.port).timeout(Some(SEND_TIMEOUT));
    if let (Some(user), Some(pass)) = (smtp.username.clone(), password) {
        builder = builder.credentials(Credentials::new(user, pass));
    }
    let transport = builder.build();
    match tokio::time::timeout(SEND_TIMEOUT, transport.send(message)).await {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err("SMTP send timed out".to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::ProjectSettings;

    fn project(name: &str) -> Project {
        Project {
            id: "prj_x".into(),
            login_id: "lp_x".into(),
            name: name.into(),
            settings: ProjectSettings::default(),
            created_at: 0,
            updated_at: 0,
        }
    }

    #[test]
    fn html_is_escaped_o4_u6() {
        let r = render(
            &project("Acme <script>alert(1)</script>"),
            EmailKind::PasswordReset,
            Some("https://x.test/r?token=a&b=<c>"),
            None,
            60,
        )
        .unwrap();
        assert!(!r.html.contains("<script>"), "{}", r.html);
        assert!(r.html.contains("&lt;script&gt;"));
        assert!(!r.html.contains("b=<c>"));
        // Plain text keeps the link usable as is.
        assert!(r.text.contains("https://x.test/r?token=a&b=<c>"));
    }

    #[test]
    fn passwordless_emails_escape_what_they_carry_o4() {
        // The project name is the only text from outside that reaches these emails; the
        // address they go to never appears in them.
        for kind in [EmailKind::MagicLink, EmailKind::SignInCode] {
            let r = render(
                &project("a@b.c <a href=x>"),
                kind,
                Some("https://x.test/p/lp/magic-link?token=t&x=<b>"),
                Some("123456"),
                15,
            )
            .unwrap();
            assert!(!r.html.contains("<a href=x>"), "{}", r.html);
            assert!(r.html.contains("&lt;a href=x&gt;"), "{}", r.html);
            assert!(r.html.contains("123456") && r.text.contains("123456"));
            assert!(!r.html.contains("x=<b>"));
        }
    }

    #[test]
    fn subjects_cannot_inject_headers() {
        let r = render(
            &project("Acme\r\nBcc: attacker@example.com"),
            EmailKind::VerifyEmail,
            Some("https://x"),
            None,
            60,
        )
        .unwrap();
        assert!(!r.subject.contains('\n') && !r.subject.contains('\r'));
    }

    #[test]
    fn overrides_replace_defaults_and_are_validated() {
        let mut p = project("Acme");
        p.settings.email_templates.insert(
            "verify_email".into(),
            TemplateOverride {
                subject: Some("Welcome to {{ project }}".into()),
                ..Default::default()
            },
        );
        let r = render(&p, EmailKind::VerifyEmail, Some("https://x"), None, 60).unwrap();
        assert_eq!(r.subject, "Welcome to Acme");
        assert!(r.text.contains("https://x"));
        assert!(validate_override(
            "verify_email",
            &TemplateOverride {
                html: Some("{% if %}".into()),
                ..Default::default()
            }
        )
        .is_err());
        assert!(validate_override("nope", &TemplateOverride::default()).is_err());
    }
}
