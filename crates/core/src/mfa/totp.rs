//! TOTP factors (RFC 6238, SECURITY M1, M2, M8): a 160-bit seed from the OS CSPRNG, sealed with
//! the master key and shown only at enrolment; a code is accepted for the current 30-second
//! step ±1 and only once (the factor's last used step only moves forward).

use base64::Engine;
use totp_rs::{Algorithm, TOTP};

use super::{Enrolment, MfaService};
use crate::error::{Error, Result};
use crate::ids::random_bytes;
use crate::model::{Factor, FactorId, FactorKind, NewFactor, Project, User};

const STEP_SECS: u64 = 30;

fn totp(secret: Vec<u8>, issuer: Option<String>, account: String) -> TOTP {
    TOTP::new_unchecked(Algorithm::SHA1, 6, 1, STEP_SECS, secret, issuer, account)
}

/// The step within ±1 of `now_secs` whose code is `code`, if any.
pub fn matching_step(secret: &[u8], code: &str, now_secs: u64) -> Option<u64> {
    let t = totp(secret.to_vec(), None, String::new());
    let current = now_secs / STEP_SECS;
    [current.saturating_sub(1), current, current + 1]
        .into_iter()
        .find(|step| {
            let expected = t.generate(step * STEP_SECS);
            subtle::ConstantTimeEq::ct_eq(expected.as_bytes(), code.as_bytes()).into()
        })
}

fn secret_aad(factor_id: &FactorId) -> String {
    format!("mfa_factor:{factor_id}:secret")
}

impl MfaService {
    /// Starts a TOTP enrolment: a new seed, its `otpauth://` URI and that URI as a QR code.
    pub(super) async fn start_totp(&self, project: &Project, user: &User) -> Result<Enrolment> {
        let id = crate::ids::new::<FactorId>();
        let secret = random_bytes::<20>().to_vec();
        let issuer = project.name.replace(':', " ");
        // The account name the authenticator app shows: the email, else the phone number.
        let account = user
            .email
            .clone()
            .or_else(|| user.phone.clone())
            .unwrap_or_else(|| user.id.to_string());
        let uri = totp(secret.clone(), Some(issuer), account).get_url();
        let sealed = self.master.seal(&secret, &secret_aad(&id));
        let factor = NewFactor {
            id: &id,
            user_id: &user.id,
            kind: FactorKind::Totp,
            secret: Some(&sealed),
            phone: None,
            phone_hint: None,
        };
        self.store
            .mfa()
            .put_pending_factor(&project.id, &factor, self.clock.now())
            .await?;
        let qr = qrcode::QrCode::new(uri.as_bytes())
            .map_err(|e| Error::Internal(anyhow::anyhow!("QR code: {e}")))?
            .render::<qrcode::render::svg::Color>()
            .min_dimensions(200, 200)
            .build();
        Ok(Enrolment {
            totp_uri: Some(uri),
            qr_code: Some(format!(
                "data:image/svg+xml;base64,{}",
                base64::engine::general_purpose::STANDARD.encode(qr)
            )),
        })
    }

    /// Whether `code` is the factor's code now; a code is accepted once.
    pub(super) async fn check_totp(
        &self,
        project: &Project,
        factor: &Factor,
        code: &str,
    ) -> Result<bool> {
        let secret = self.open(factor.secret.as_deref(), &secret_aad(&factor.id))?;
        let now_secs = (self.clock.now() / 1000).max(0) as u64;
        match matching_step(&secret, code.trim(), now_secs) {
            // Accepted once: a replay of the same (or an older) step fails here.
            Some(step) => {
                self.store
                    .mfa()
                    .use_totp_step(&project.id, &factor.id, step as i64)
                    .await
            }
            None => Ok(false),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 6238 Appendix B, SHA-1, 8 digits.
    #[test]
    fn rfc6238_test_vectors_m1() {
        let secret = b"12345678901234567890".to_vec();
        let t = TOTP::new_unchecked(Algorithm::SHA1, 8, 1, 30, secret, None, String::new());
        for (time, code) in [
            (59u64, "94287082"),
            (1111111109, "07081804"),
            (1111111111, "14050471"),
            (1234567890, "89005924"),
            (2000000000, "69279037"),
            (20000000000, "65353130"),
        ] {
            assert_eq!(t.generate(time), code, "T={time}");
        }
    }

    #[test]
    fn a_window_of_one_step_each_way_m1() {
        let secret = random_bytes::<20>().to_vec();
        let t = totp(secret.clone(), None, String::new());
        let now = 1_800_000_000u64;
        for offset in [-30i64, 0, 30] {
            let code = t.generate((now as i64 + offset) as u64);
            assert!(
                matching_step(&secret, &code, now).is_some(),
                "offset {offset}"
            );
        }
        // Two steps away is outside the window (barring a one-in-a-million digit collision).
        let old = t.generate(now - 60);
        let near: Vec<String> = [-30i64, 0, 30]
            .iter()
            .map(|o| t.generate((now as i64 + o) as u64))
            .collect();
        if !near.contains(&old) {
            assert!(matching_step(&secret, &old, now).is_none());
        }
    }
}
