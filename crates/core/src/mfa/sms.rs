//! SMS factors (SECURITY M7, M8, L7): the number is sealed with the master key (only its last
//! two digits are kept for display); a 6-digit code is bound to its challenge by a keyed hash;
//! every send is counted per number, per user, per end-user address and per project.

use super::{Enrolment, MfaService, CHALLENGE_TTL_MS};
use crate::auth::ClientInfo;
use crate::clock::Millis;
use crate::delivery::sms::is_e164;
use crate::error::{Error, Result};
use crate::limits::{Limiter, Quota};
use crate::model::{
    ChallengeId, ChallengePurpose, Channel, Factor, FactorId, FactorKind, NewChallenge, NewFactor,
    Project, User, UserId,
};

/// SMS per number per 10 minutes.
pub const SMS_PER_NUMBER: i64 = 3;
const SMS_NUMBER_WINDOW_MS: Millis = 10 * 60 * 1000;
/// SMS per user per hour, whatever the number (enrolling number after number is SMS pumping).
pub const SMS_PER_USER: i64 = 6;
/// SMS asked for from one end-user address per hour (when the backend passes it).
pub const SMS_PER_IP: i64 = 10;
const HOUR_MS: Millis = 3600 * 1000;

fn phone_aad(factor_id: &FactorId) -> String {
    format!("mfa_factor:{factor_id}:phone")
}

/// The quotas every SMS or WhatsApp message counts against, whatever it is for (SECURITY L7):
/// its number (shared by MFA and passwordless codes), the project's hourly ceiling, and the end
/// user's address when the backend gives it.
pub(crate) fn text_quotas(
    limiter: &Limiter,
    project: &Project,
    phone: &str,
    client: &ClientInfo,
) -> Vec<Quota> {
    let mut quotas = vec![
        Quota {
            key: limiter.key("sms:number", &project.id, phone),
            limit: SMS_PER_NUMBER,
            window_ms: SMS_NUMBER_WINDOW_MS,
        },
        Quota {
            key: limiter.key("sms:project", &project.id, ""),
            limit: project.settings.sms_per_hour,
            window_ms: HOUR_MS,
        },
    ];
    if let (Some(ip), true) = (&client.ip, client.ip_is_end_user) {
        quotas.push(Quota {
            key: limiter.key("sms:ip", &project.id, ip),
            limit: SMS_PER_IP,
            window_ms: HOUR_MS,
        });
    }
    quotas
}

impl MfaService {
    /// Starts an SMS enrolment: the number is stored sealed and a code is texted to it.
    pub(super) async fn start_sms(
        &self,
        project: &Project,
        user: &User,
        phone: Option<&str>,
        client: &ClientInfo,
    ) -> Result<Enrolment> {
        let phone = phone.filter(|p| is_e164(p)).ok_or_else(|| {
            Error::invalid(
                "phone",
                "phone must be an E.164 number such as +14155550123",
            )
        })?;
        self.count_sms(project, &user.id, phone, client).await?;
        let id = crate::ids::new::<FactorId>();
        let sealed = self.master.seal(phone.as_bytes(), &phone_aad(&id));
        let now = self.clock.now();
        let factor = NewFactor {
            id: &id,
            user_id: &user.id,
            kind: FactorKind::Sms,
            secret: None,
            phone: Some(&sealed),
            phone_hint: Some(&phone[phone.len() - 2..]),
        };
        self.store
            .mfa()
            .put_pending_factor(&project.id, &factor, now)
            .await?;
        let challenge = crate::ids::new::<ChallengeId>();
        let enrol = NewChallenge {
            id: &challenge,
            user_id: &user.id,
            purpose: ChallengePurpose::Enrol,
            first_factor: None,
            token_hash: None,
            ip: client.ip.as_deref(),
            user_agent: client.user_agent.as_deref(),
            expires_at: now + CHALLENGE_TTL_MS,
        };
        self.store
            .mfa()
            .insert_challenge(&project.id, &enrol, now)
            .await?;
        self.send_code(project, phone, &challenge).await?;
        Ok(Enrolment::default())
    }

    /// The number of an SMS factor, unsealed.
    pub(super) fn phone_of(&self, factor: &Factor) -> Result<String> {
        let bytes = self.open(factor.phone.as_deref(), &phone_aad(&factor.id))?;
        String::from_utf8(bytes).map_err(|_| {
            Error::Internal(anyhow::anyhow!(
                "the number of factor {} is not text",
                factor.id
            ))
        })
    }

    /// Counts one SMS against every quota it falls under: those of every text
    /// ([`text_quotas`]) and the user's. Call before changing anything.
    pub(super) async fn count_sms(
        &self,
        project: &Project,
        user_id: &UserId,
        phone: &str,
        client: &ClientInfo,
    ) -> Result<()> {
        let q = &self.limiter;
        let mut quotas = text_quotas(q, project, phone, client);
        quotas.push(Quota {
            key: q.key("sms:user", &project.id, user_id),
            limit: SMS_PER_USER,
            window_ms: HOUR_MS,
        });
        q.charge(&project.id, &quotas).await
    }

    /// Gives the challenge a new code and texts it (the caller counted the quota).
    pub(super) async fn send_code(
        &self,
        project: &Project,
        phone: &str,
        challenge_id: &ChallengeId,
    ) -> Result<()> {
        let code = crate::ids::new_numeric_code();
        self.store
            .mfa()
            .set_challenge_sms_code(
                &project.id,
                challenge_id,
                &self.sms_code_hash(challenge_id, &code),
            )
            .await?;
        let text = format!(
            "{} is your {} verification code. It expires in 5 minutes.",
            code, project.name
        );
        self.sms
            .send(Channel::Sms, "mfa_code", phone, &text, Some(&code))
            .await
            .map_err(|e| Error::Internal(anyhow::anyhow!("SMS delivery failed: {e}")))
    }

    fn sms_code_hash(&self, challenge_id: &ChallengeId, code: &str) -> String {
        let key = self.master.derive("protekt/sms-code/v1");
        data_encoding::HEXLOWER.encode(&crate::crypto::hmac_sha256(
            &key,
            format!("{challenge_id}:{code}").as_bytes(),
        ))
    }

    /// Whether `code` is the one texted for the challenge (compared in constant time).
    pub(super) fn sms_code_matches(
        &self,
        stored: Option<&str>,
        challenge_id: &ChallengeId,
        code: &str,
    ) -> bool {
        stored.is_some_and(|h| {
            subtle::ConstantTimeEq::ct_eq(
                h.as_bytes(),
                self.sms_code_hash(challenge_id, code.trim()).as_bytes(),
            )
            .into()
        })
    }
}
