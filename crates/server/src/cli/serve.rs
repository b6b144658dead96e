//! `protekt serve`: the HTTP server, with its mail and SMS settings.

use protekt_core::delivery::sms::SmsConfig;
use protekt_core::model::{SmtpSettings, TlsMode};

use super::{init_logging, Globals};
use crate::app::{self, App, ServeConfig};

/// Email delivery. Without `--smtp-host`, emails go to `<data-dir>/outbox` (and the log).
#[derive(Debug, clap::Args)]
pub struct MailArgs {
    /// Sender of emails, e.g. `Acme <no-reply@acme.test>`.
    #[arg(
        long,
        env = "PROTEKT_EMAIL_FROM",
        default_value = "Protekt <no-reply@localhost>"
    )]
    pub email_from: String,
    /// SMTP server host.
    #[arg(long, env = "PROTEKT_SMTP_HOST")]
    pub smtp_host: Option<String>,
    #[arg(long, env = "PROTEKT_SMTP_PORT", default_value_t = 587)]
    pub smtp_port: u16,
    #[arg(long, env = "PROTEKT_SMTP_USERNAME")]
    pub smtp_username: Option<String>,
    #[arg(long, env = "PROTEKT_SMTP_PASSWORD", hide_env_values = true)]
    pub smtp_password: Option<String>,
    /// `starttls` (default), `tls` (SMTPS) or `none`.
    #[arg(long, env = "PROTEKT_SMTP_TLS", default_value = "starttls")]
    pub smtp_tls: String,
    /// SMS delivery: `outbox` (default, `<data-dir>/outbox`), `twilio` or `webhook`.
    #[arg(long, env = "PROTEKT_SMS_PROVIDER", default_value = "outbox")]
    pub sms_provider: String,
    /// Twilio (or compatible) API base URL.
    #[arg(
        long,
        env = "PROTEKT_TWILIO_BASE_URL",
        default_value = "https://api.twilio.com"
    )]
    pub twilio_base_url: String,
    #[arg(long, env = "PROTEKT_TWILIO_ACCOUNT_SID")]
    pub twilio_account_sid: Option<String>,
    #[arg(long, env = "PROTEKT_TWILIO_AUTH_TOKEN", hide_env_values = true)]
    pub twilio_auth_token: Option<String>,
    /// The sender number for Twilio.
    #[arg(long, env = "PROTEKT_TWILIO_FROM")]
    pub twilio_from: Option<String>,
    /// The WhatsApp sender for Twilio (default: `--twilio-from`); sent as `whatsapp:<number>`.
    #[arg(long, env = "PROTEKT_TWILIO_WHATSAPP_FROM")]
    pub twilio_whatsapp_from: Option<String>,
    /// The URL the webhook sender POSTs to.
    #[arg(long, env = "PROTEKT_SMS_WEBHOOK_URL")]
    pub sms_webhook_url: Option<String>,
    /// The HMAC-SHA256 key that signs webhook deliveries.
    #[arg(long, env = "PROTEKT_SMS_WEBHOOK_SECRET", hide_env_values = true)]
    pub sms_webhook_secret: Option<String>,
}

impl MailArgs {
    fn sms(&self) -> anyhow::Result<Option<SmsConfig>> {
        let need = |v: &Option<String>, flag: &str| {
            v.clone()
                .ok_or_else(|| anyhow::anyhow!("--{flag} is required for this SMS provider"))
        };
        match self.sms_provider.as_str() {
            "outbox" => Ok(None),
            "twilio" => Ok(Some(SmsConfig::Twilio {
                base_url: self.twilio_base_url.clone(),
                account_sid: need(&self.twilio_account_sid, "twilio-account-sid")?,
                auth_token: need(&self.twilio_auth_token, "twilio-auth-token")?,
                from: need(&self.twilio_from, "twilio-from")?,
                whatsapp_from: self.twilio_whatsapp_from.clone(),
            })),
            "webhook" => {
                let secret = need(&self.sms_webhook_secret, "sms-webhook-secret")?;
                if secret.len() < 32 {
                    anyhow::bail!("--sms-webhook-secret must be at least 32 characters");
                }
                Ok(Some(SmsConfig::Webhook {
                    url: need(&self.sms_webhook_url, "sms-webhook-url")?,
                    secret,
                }))
            }
            other => anyhow::bail!("--sms-provider must be outbox, twilio or webhook, not {other}"),
        }
    }

    fn smtp(&self) -> anyhow::Result<Option<SmtpSettings>> {
        let Some(host) = &self.smtp_host else {
            return Ok(None);
        };
        let tls = match self.smtp_tls.as_str() {
            "starttls" => TlsMode::Starttls,
            "tls" => TlsMode::Tls,
            "none" => TlsMode::None,
            other => anyhow::bail!("--smtp-tls must be starttls, tls or none, not {other}"),
        };
        let smtp = SmtpSettings {
            host: host.clone(),
            port: self.smtp_port,
            username: self.smtp_username.clone(),
            password: self.smtp_password.clone(),
            password_sealed: None,
            tls,
        };
        protekt_core::delivery::mail::validate_smtp(&smtp, "smtp")
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        Ok(Some(smtp))
    }
}

/// How much the server takes in: the hash queue and where rate limits are counted.
pub struct Limits {
    pub hash_queue: usize,
    pub redis_url: Option<String>,
    pub redis_prefix: String,
}

/// Runs the server until SIGINT or SIGTERM; on first start makes (and prints once) a
/// development project and a management token.
pub async fn serve(
    g: &Globals,
    listen: String,
    public_url: Option<String>,
    limits: Limits,
    mail: &MailArgs,
) -> anyhow::Result<()> {
    init_logging();
    let shutdown = app::shutdown_signal()?;
    let config = ServeConfig {
        listen,
        data_dir: g.data_dir.clone(),
        database_url: g.database_url.clone(),
        public_url,
        bootstrap: true,
        email_from: mail.email_from.clone(),
        smtp: mail.smtp()?,
        sms: mail.sms()?,
        hash_queue: limits.hash_queue,
        redis_url: limits.redis_url,
        redis_prefix: limits.redis_prefix,
    };
    protekt_core::delivery::mail::parse_mailbox(&config.email_from)
        .map_err(|e| anyhow::anyhow!("--email-from: {e}"))?;
    let app = App::build(&config).await?;
    if let Some(created) = &app.bootstrapped {
        println!("Protekt created a development project. Keep the API key: it is shown only once.");
        println!("  Base URL:  {}", app.public_url);
        println!("  Login ID:  {}", created.project.login_id);
        println!("  API key:   {}", created.api_key);
    }
    if let Some(token) = &app.bootstrapped_management_token {
        println!("  Management token (projects API, shown once, valid 24 hours): {token}");
    }
    tracing::info!(addr = %app.local_addr(), public_url = %app.public_url, "protekt listening");
    app.run_until(shutdown).await
}
