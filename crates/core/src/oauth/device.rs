//! The device authorization grant (RFC 8628): a device without a browser shows a user code;
//! the user types it on our device page, signs in there and approves; the device, polling the
//! token endpoint, gets its tokens.

use super::tokens::{TokenParams, TokenResponse};
use super::{ClientAuth, OAuthError, Provider};
use crate::clock::Millis;
use crate::crypto::hmac_sha256;
use crate::ids::{new_id, new_refresh_token, secret_hash};
use crate::model::{DeviceRequest, DeviceStatus, GrantType, OAuthClient, Project, SessionId};
use crate::store::Redeem;

/// How long a device request lives.
const DEVICE_TTL_MS: Millis = 10 * 60 * 1000;
/// How often a device may poll, in seconds.
pub const DEVICE_INTERVAL_SECS: u64 = 5;
/// User codes: 8 letters without vowels (no words) nor look-alikes, about 34.6 bits
/// (RFC 8628 §6.1).
const USER_CODE_ALPHABET: &[u8] = b"BCDFGHJKLMNPQRSTVWXZ";

/// What the device shows its user (RFC 8628 §3.2).
#[derive(Debug, Clone, serde::Serialize)]
pub struct DeviceAuthorization {
    pub device_code: String,
    pub user_code: String,
    pub verification_uri: String,
    pub verification_uri_complete: String,
    pub expires_in: u64,
    pub interval: u64,
}

/// A fresh user code, `XXXX-XXXX`, by rejection sampling (no modulo bias).
fn new_user_code() -> String {
    let mut code = String::with_capacity(9);
    while code.len() < 9 {
        for b in crate::ids::random_bytes::<16>() {
            // 240 = 12 × 20: bytes at or above it would favour the first letters.
            if b < 240 && code.len() < 9 {
                if code.len() == 4 {
                    code.push('-');
                }
                code.push(USER_CODE_ALPHABET[(b % 20) as usize] as char);
            }
        }
    }
    code
}

/// A typed user code in its stored form: letters only, upper case.
fn normalize_user_code(typed: &str) -> Option<String> {
    let code: String = typed
        .chars()
        .filter(|c| !matches!(c, '-' | ' '))
        .map(|c| c.to_ascii_uppercase())
        .collect();
    (code.len() == 8 && code.bytes().all(|b| USER_CODE_ALPHABET.contains(&b))).then_some(code)
}

impl Provider {
    fn user_code_hash(&self, code: &str) -> String {
        data_encoding::HEXLOWER.encode(&hmac_sha256(&self.user_code_key, code.as_bytes()))
    }

    /// Starts a device request (RFC 8628 §3.1) for a client with the device grant.
    pub async fn device_authorization(
        &self,
        project: &Project,
        auth: &ClientAuth,
        scope: Option<&str>,
    ) -> Result<DeviceAuthorization, OAuthError> {
        let client = self.authenticated(project, auth).await?;
        if !client.allows(GrantType::DeviceCode) {
            return Err(OAuthError::unauthorized_client(
                "this client may not use the device grant",
            ));
        }
        let scope = self.requested_scope(&client, scope)?;
        let device_code = new_refresh_token();
        let user_code = new_user_code();
        let now = self.clock.now();
        self.store
            .oauth()
            .insert_device(
                &project.id,
                &new_id("dev"),
                &client.id,
                &secret_hash(&device_code),
                &self.user_code_hash(&user_code.replace('-', "")),
                &scope,
                now + DEVICE_TTL_MS,
                now,
            )
            .await?;
        let page = format!("{}/device", self.issuer(project));
        Ok(DeviceAuthorization {
            device_code,
            verification_uri_complete: format!("{page}?user_code={user_code}"),
            verification_uri: page,
            user_code,
            expires_in: (DEVICE_TTL_MS / 1000) as u64,
            interval: DEVICE_INTERVAL_SECS,
        })
    }

    /// The pending, unexpired request a typed user code names, with its client.
    pub async fn device_request(
        &self,
        project: &Project,
        typed: &str,
    ) -> crate::Result<Option<(DeviceRequest, OAuthClient)>> {
        let Some(code) = normalize_user_code(typed) else {
            return Ok(None);
        };
        let found = self
            .store
            .oauth()
            .device(&project.id, true, &self.user_code_hash(&code))
            .await?
            .filter(|d| d.status == DeviceStatus::Pending && d.expires_at > self.clock.now());
        let Some(request) = found else {
            return Ok(None);
        };
        let client = self
            .store
            .oauth()
            .client(&project.id, &request.client_id)
            .await?;
        Ok(client.map(|c| (request, c)))
    }

    /// The user's answer for a request: approved with the browser's session, or denied.
    pub async fn device_decide(
        &self,
        project: &Project,
        request: &DeviceRequest,
        approved_by: Option<&SessionId>,
    ) -> crate::Result<bool> {
        if let Some(session_id) = approved_by {
            if let Some(view) = self.auth.live_view(project, session_id).await? {
                let client = self
                    .store
                    .oauth()
                    .client(&project.id, &request.client_id)
                    .await?;
                if client.is_some_and(|c| !c.first_party) {
                    let scopes: Vec<String> = request.scope.split(' ').map(str::to_owned).collect();
                    self.store
                        .oauth()
                        .put_grant(
                            &project.id,
                            &view.user.id,
                            &request.client_id,
                            &scopes,
                            self.clock.now(),
                        )
                        .await?;
                }
            }
        }
        self.store
            .oauth()
            .decide_device(&project.id, &request.id, approved_by, self.clock.now())
            .await
    }

    /// The device's poll (RFC 8628 §3.4, §3.5).
    pub(super) async fn device_grant(
        &self,
        project: &Project,
        client: &OAuthClient,
        p: TokenParams,
    ) -> Result<TokenResponse, OAuthError> {
        let code = p
            .device_code
            .filter(|c| (1..=512).contains(&c.len()))
            .ok_or_else(|| OAuthError::invalid_request("device_code is required"))?;
        let request = self
            .store
            .oauth()
            .device(&project.id, false, &secret_hash(&code))
            .await?
            .filter(|d| d.client_id == client.id)
            .ok_or_else(|| OAuthError::invalid_grant("unknown device_code"))?;
        let now = self.clock.now();
        if request.expires_at <= now {
            return Err(OAuthError::device(
                "expired_token",
                "the device code expired",
            ));
        }
        match request.status {
            DeviceStatus::Pending => {
                let too_soon = request
                    .last_polled_at
                    .is_some_and(|t| now - t < (DEVICE_INTERVAL_SECS as i64) * 1000);
                self.store
                    .oauth()
                    .polled(&project.id, &request.id, now)
                    .await?;
                Err(if too_soon {
                    OAuthError::device("slow_down", "poll less often")
                } else {
                    OAuthError::device("authorization_pending", "the user has not answered yet")
                })
            }
            DeviceStatus::Denied => Err(OAuthError::device("access_denied", "the user said no")),
            DeviceStatus::Used => Err(OAuthError::invalid_grant("the device code was used")),
            DeviceStatus::Approved => {
                let session_id = request
                    .session_id
                    .clone()
                    .ok_or_else(|| OAuthError::invalid_grant("no session"))?;
                let handed = self
                    .auth
                    .tokens_for_session(
                        project,
                        &session_id,
                        None,
                        Redeem::Device(&request.id),
                        Some((&client.id, &request.scope)),
                    )
                    .await?;
                let (view, tokens) =
                    handed.ok_or_else(|| OAuthError::invalid_grant("the device code was used"))?;
                self.respond(project, client, &view, tokens, &request.scope, None)
                    .await
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_codes_are_eight_letters_of_the_alphabet() {
        for _ in 0..200 {
            let code = new_user_code();
            assert_eq!(code.len(), 9);
            assert_eq!(&code[4..5], "-");
            assert_eq!(normalize_user_code(&code).unwrap().len(), 8);
        }
        assert_eq!(
            normalize_user_code("bcdf ghjk").as_deref(),
            Some("BCDFGHJK")
        );
        assert_eq!(normalize_user_code("BCDF-GHJA"), None);
        assert_eq!(normalize_user_code("BCDF"), None);
    }
}
