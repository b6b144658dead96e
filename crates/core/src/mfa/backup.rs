//! Backup codes (SECURITY M6): ten of 120 bits, stored as SHA-256, single use, shown once; a
//! new set voids the old. They stand in for a factor, and unlock codes after `mfa_locked`.

use super::MfaService;
use crate::audit;
use crate::error::{Error, Result};
use crate::ids::{random_bytes, secret_hash};
use crate::model::{Aal, AuditKind, Project, UserId};

/// Ten backup codes of 120 bits, as `xxxx-xxxx-xxxx-xxxx-xxxx-xxxx`.
pub(super) fn new_codes() -> Vec<String> {
    (0..10)
        .map(|_| {
            let raw = data_encoding::BASE32_NOPAD
                .encode(&random_bytes::<15>())
                .to_ascii_lowercase();
            raw.as_bytes()
                .chunks(4)
                .map(|c| String::from_utf8_lossy(c).into_owned())
                .collect::<Vec<_>>()
                .join("-")
        })
        .collect()
}

/// What is stored of each code.
pub(super) fn hashes(codes: &[String]) -> Vec<String> {
    codes.iter().map(|c| secret_hash(&normalize(c))).collect()
}

/// A code as typed (any case, dashes or spaces) to its canonical form.
fn normalize(code: &str) -> String {
    code.chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .collect::<String>()
        .to_ascii_lowercase()
}

impl MfaService {
    /// Uses up one of the user's backup codes; true if `code` was one.
    pub(super) async fn use_backup_code(
        &self,
        project: &Project,
        user_id: &UserId,
        code: &str,
    ) -> Result<bool> {
        let normalized = normalize(code);
        if normalized.len() != 24 {
            return Ok(false);
        }
        self.store
            .mfa()
            .use_backup_code(
                &project.id,
                user_id,
                &secret_hash(&normalized),
                self.clock.now(),
            )
            .await
    }

    /// Ten new backup codes (shown once); the previous set stops working. A user with a factor
    /// needs an aal2 session.
    pub async fn backup_codes(&self, project: &Project, access_token: &str) -> Result<Vec<String>> {
        let (user, claims) = self.auth.verify(project, access_token).await?;
        if !user.mfa_methods.is_empty() && claims.aal != Aal::Aal2 {
            return Err(Error::MfaStepUpRequired);
        }
        let codes = new_codes();
        let now = self.clock.now();
        self.store
            .mfa()
            .replace_backup_codes(&project.id, &user.id, &hashes(&codes), now)
            .await?;
        audit::record(
            &self.store,
            audit::event(&project.id, AuditKind::MfaBackupCodes, true, Some(&user.id)),
            now,
        )
        .await;
        Ok(codes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_normalise_and_carry_120_bits_m6() {
        assert_eq!(
            normalize("ABCD-efgh ijkl-mnop-qrst-uvwx"),
            "abcdefghijklmnopqrstuvwx"
        );
        let codes = new_codes();
        assert_eq!(codes.len(), 10);
        assert!(codes.iter().all(|c| normalize(c).len() * 5 >= 120));
    }
}
