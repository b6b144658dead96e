//! SMS delivery: a Twilio-compatible HTTP API, a generic signed webhook, or the dev outbox
//! (`<data-dir>/outbox`, the same folder and format as email, `kind: "sms"`). Sends are bounded
//! by a timeout; the caller decides what a failure means.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use crate::clock::Clock;

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
    },
    /// POST `{id, kind, to, text}` as JSON, signed: `Protekt-Signature: t=<unix>,v1=<hex
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

    /// Sends `text` to `to`. `code` is recorded in the dev outbox only (for tests and local use).
    pub async fn send(
        &self,
        kind: &str,
        to: &str,
        text: &str,
        code: Option<&str>,
    ) -> Result<(), String> {
        let id = crate::ids::new_id("sms");
        match &self.config {
            SmsConfig::Outbox { dir } => self.to_outbox(dir, &id, kind, to, text, code).await,
            SmsConfig::Twilio {
                base_url,
                account_sid,
                auth_token,
                from,
            } => {
                let url = format!(
                    "{}/2010-04-01/Accounts/{account_sid}/Messages.json",
                    base_url.trim_end_matches('/')
                );
                let request = self
                    .http
                    .post(url)
                    .basic_auth(account_sid, Some(auth_token))
                    .form(&[("To", to), ("From", from.as_str()), ("Body", text)]);
                answered_ok(request, "SMS provider").await
            }
            SmsConfig::Webhook { url, secret } => {
                let body =
                    serde_json::json!({"id": id, "kind": kind, "to": to, "text": text}).to_string();
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
    async fn to_outbox(
        &self,
        dir: &std::path::Path,
        id: &str,
        kind: &str,
        to: &str,
        text: &str,
        code: Option<&str>,
    ) -> Result<(), String> {
        let file = serde_json::json!({
            "id": id, "kind": "sms", "purpose": kind, "to": to, "text": text, "code": code,
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
        tracing::info!(kind, file = %name, "SMS written to the dev outbox");
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
