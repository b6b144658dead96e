//! SMS and WhatsApp delivery: a Twilio-compatible HTTP API (WhatsApp as `whatsapp:` addresses),
//! a generic signed webhook, or the dev outbox (`<data-dir>/outbox`, the same folder and format
//! as email, `kind: "sms"` or `"whatsapp"`). Sends are bounded by a timeout; the caller decides
//! what a failure means. Texts come from templates a project may override (`smsTemplates`).

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use crate::clock::Clock;
use crate::model::{Channel, Project};

const SEND_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Debug, Clone)]
pub enum SmsConfig {
    /// Dev default: write a JSON file per message.
    Outbox { dir: PathBuf },
    /// Twilio's Messages API, or anything that speaks it (`base_url` is configurable).
    Twilio {
        base_url: String,
        account_sid: String,
        auth_token: String,
        from: String,
        /// The WhatsApp sender; `None`: `from`.
        whatsapp_from: Option<String>,
    },
    /// POST `{id, kind, channel, to, text}` as JSON, signed: `Protekt-Signature: t=<unix>,v1=<hex
    /// HMAC-SHA256(secret, "<t>.<body>")>`.
    Webhook { url: String, secret: String },
}

pub struct SmsSender {
    config: SmsConfig,
    http: reqwest::Client,
    clock: Arc<Clock>,
}

/// Whether `phone` is an E.164 number: `+`, a non-zero digit, 7 to 15 digits in all.
pub fn is_e164(phone: &str) -> bool {
    let Some(digits) = phone.strip_prefix('+') else {
        return false;
    };
    (7..=15).contains(&digits.len())
        && digits.chars().all(|c| c.is_ascii_digit())
        && !digits.starts_with('0')
}

/// The kinds of text Protekt sends, with their built-in templates.
const TEMPLATES: [(&str, &str); 1] = [(
    "sign_in_code",
    "{{ code }} is your {{ project }} sign-in code. It expires in {{ expires_minutes }} minutes.",
)];

/// Checks a project's override of a text template: a known kind that compiles, at most 1000
/// characters.
pub fn validate_template(kind: &str, source: &str) -> std::result::Result<(), String> {
    if !TEMPLATES.iter().any(|(k, _)| *k == kind) {
        let known: Vec<&str> = TEMPLATES.iter().map(|(k, _)| *k).collect();
        return Err(format!(
            "unknown SMS kind {kind}; known: {}",
            known.join(", ")
        ));
    }
    if source.chars().count() > 1000 {
        return Err("an SMS template is at most 1000 characters".to_owned());
    }
    minijinja::Environment::new()
        .template_from_str(source)
        .map(|_| ())
        .map_err(|e| e.to_string())
}

/// Renders the text of `kind` for `project`, from its override if it has one.
pub fn render(
    project: &Project,
    kind: &str,
    code: &str,
    expires_minutes: u64,
) -> crate::Result<String> {
    let source = project
        .settings
        .sms_templates
        .get(kind)
        .map(String::as_str)
        .or_else(|| TEMPLATES.iter().find(|(k, _)| *k == kind).map(|(_, t)| *t))
        .ok_or_else(|| crate::Error::Internal(anyhow::anyhow!("no SMS template {kind}")))?;
    minijinja::Environment::new()
        .render_str(
            source,
            minijinja::context! { code => code, project => project.name, expires_minutes => expires_minutes },
        )
        .map_err(|e| crate::Error::Internal(anyhow::anyhow!("SMS template {kind}: {e}")))
}

impl SmsSender {
    /// Fails only if no HTTP client can be built (no TLS roots): a default client would have
    /// no timeout and follow redirects, so it is not an option.
    pub fn new(config: SmsConfig, clock: Arc<Clock>) -> anyhow::Result<Arc<Self>> {
        let http = reqwest::Client::builder()
            .timeout(SEND_TIMEOUT)
            .redirect(reqwest::redirect::Policy::none())
            .build()?;
        Ok(Arc::new(Self {
            config,
            http,
            clock,
        }))
    }

    /// Sends `text` to `to` by SMS or WhatsApp (`channel`; email is not sent from here). `code`
    /// is recorded in the dev outbox only (for tests and local use).
    pub async fn send(
        &self,
        channel: Channel,
        kind: &str,
        to: &str,
        text: &str,
        code: Option<&str>,
    ) -> Result<(), String> {
        let id = crate::ids::new_id("sms");
        match &self.config {
            SmsConfig::Outbox { dir } => {
                self.to_outbox(dir, &id, channel, kind, to, text, code)
                    .await
            }
            SmsConfig::Twilio {
                base_url,
                account_sid,
                auth_token,
                from,
                whatsapp_from,
            } => {
                let (to, from) = match channel {
                    Channel::Whatsapp => (
                        format!("whatsapp:{to}"),
                        format!("whatsapp:{}", whatsapp_from.as_deref().unwrap_or(from)),
                    ),
                    _ => (to.to_owned(), from.clone()),
                };
                let url = format!(
                    "{}/2010-04-01/Accounts/{account_sid}/Messages.json",
                    base_url.trim_end_matches('/')
                );
                let request = self
                    .http
                    .post(url)
                    .basic_auth(account_sid, Some(auth_token))
                    .form(&[("To", to.as_str()), ("From", from.as_str()), ("Body", text)]);
                answered_ok(request, "SMS provider").await
            }
            SmsConfig::Webhook { url, secret } => {
                let body = serde_json::json!({
                    "id": id, "kind": kind, "channel": channel.as_str(), "to": to, "text": text,
                })
                .to_string();
                let t = self.clock.now() / 1000;
                let mac =
                    crate::crypto::hmac_sha256(secret.as_bytes(), format!("{t}.{body}").as_bytes());
                let request = self
                    .http
                    .post(url)
                    .header("content-type", "application/json")
                    .header(
                        "protekt-signature",
                        format!("t={t},v1={}", data_encoding::HEXLOWER.encode(&mac)),
                    )
                    .body(body);
                answered_ok(request, "SMS webhook").await
            }
        }
    }

    /// One JSON file per message in the dev outbox, written whole (temp file, then rename).
    #[allow(clippy::too_many_arguments)]
    async fn to_outbox(
        &self,
        dir: &std::path::Path,
        id: &str,
        channel: Channel,
        kind: &str,
        to: &str,
        text: &str,
        code: Option<&str>,
    ) -> Result<(), String> {
        let file = serde_json::json!({
            "id": id, "kind": channel.as_str(), "purpose": kind, "to": to, "text": text, "code": code,
            "createdAt": crate::clock::rfc3339(self.clock.now()),
        });
        let bytes = serde_json::to_vec_pretty(&file).map_err(|e| e.to_string())?;
        tokio::fs::create_dir_all(dir)
            .await
            .map_err(|e| e.to_string())?;
        let name = format!("{}-{id}.json", self.clock.now());
        let tmp = dir.join(format!(".{name}.tmp"));
        tokio::fs::write(&tmp, bytes)
            .await
            .map_err(|e| e.to_string())?;
        tokio::fs::rename(&tmp, dir.join(&name))
            .await
            .map_err(|e| e.to_string())?;
        tracing::info!(kind, channel = channel.as_str(), file = %name, "text written to the dev outbox");
        Ok(())
    }
}

/// Sends `request`; anything but a 2xx answer is a failure named after `who`.
async fn answered_ok(request: reqwest::RequestBuilder, who: &str) -> Result<(), String> {
    let resp = request.send().await.map_err(|e| e.to_string())?;
    if resp.status().is_success() {
        Ok(())
    } else {
        Err(format!("{who} answered {}", resp.status()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn e164_numbers_only() {
        for ok in ["+14155550123", "+447700900123", "+4930123456"] {
            assert!(is_e164(ok), "{ok}");
        }
        for bad in [
            "14155550123",
            "+0123456789",
            "+1 415 555 0123",
            "+1",
            "+1234567890123456",
            "+1415555012a",
            "",
        ] {
            assert!(!is_e164(bad), "{bad}");
        }
    }
}
