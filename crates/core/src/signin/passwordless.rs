//! Passwordless first factors: magic links, and one-time passcodes by email, SMS and WhatsApp.
//!
//! - **Sending** answers the same for every address or number, after the same work: parse,
//!   check the redirect and the country, count the quotas (SECURITY L7), answer; the lookup and
//!   the send happen afterwards in the background (L4, L5). An unknown identifier gets a secret
//!   only if the project lets passwordless sign-ins create accounts; a disabled user gets none.
//! - **Secrets** are bound to the project, their purpose and the identifier they went to, never
//!   to what a later request says (O2, O5). Link tokens are 256 bits and stored as SHA-256;
//!   codes are 6 digits, stored as an HMAC keyed per row, live 10 minutes and die after 5
//!   wrong tries (O1). Tries per identifier are also throttled across codes.
//! - **Link scanners** (Outlook Safe Links, Barracuda) open emailed links first: the link leads
//!   to a hosted page whose GET consumes nothing; its button's POST uses the link up and hands
//!   the app a fresh 60-second token in the redirect (O6). Either token signs in through
//!   `POST /v1/auth/magic-link/verify`.
//! - **Signing in** marks the email or phone verified (the secret proved possession) and ends
//!   in [`SignInService::complete`], so disabled users, MFA and auditing work as for passwords.

use super::{FirstFactor, SignInOutcome, SignInService};
use crate::account::AccountService;
use crate::audit;
use crate::auth::{token_ttl, ClientInfo};
use crate::delivery::sms::is_e164;
use crate::email::Email;
use crate::error::{Error, Result};
use crate::ids::{new_numeric_code, new_refresh_token, secret_hash};
use crate::limits::Class;
use crate::model::{
    Amr, AuditKind, Channel, EmailKind, PasswordlessCode, PasswordlessPurpose, Project, User,
    UserId, OTP_TTL_MINUTES,
};
use crate::store::passwordless::NewCode;

/// Wrong tries that kill a code, even before it expires.
pub const MAX_CODE_ATTEMPTS: i64 = 5;
/// Lifetime of the token a confirmed magic link hands to the app.
pub const EXCHANGE_TTL_MS: i64 = 60_000;
const OTP_TTL_MS: i64 = OTP_TTL_MINUTES as i64 * 60_000;

/// Where a one-time passcode goes: a channel and the identifier in its canonical form (the
/// normalised email, or the E.164 number).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recipient {
    pub channel: Channel,
    pub identifier: String,
    /// The email as typed (domain lowercased), for a new account; the number otherwise.
    pub address: String,
}

impl Recipient {
    /// Exactly one of `email` and `phone`, strictly parsed (SECURITY O3); `channel` must fit
    /// (email for an email, SMS or WhatsApp for a phone) and defaults to the obvious one.
    pub fn parse(
        email: Option<&str>,
        phone: Option<&str>,
        channel: Option<Channel>,
    ) -> Result<Self> {
        match (email, phone) {
            (Some(email), None) => {
                let email = Email::parse(email)?;
                if channel.is_some_and(|c| c != Channel::Email) {
                    return Err(Error::invalid(
                        "channel",
                        "an email address takes channel email",
                    ));
                }
                Ok(Self {
                    channel: Channel::Email,
                    identifier: email.normalized().to_owned(),
                    address: email.as_str().to_owned(),
                })
            }
            (None, Some(phone)) => {
                if !is_e164(phone) {
                    return Err(Error::invalid(
                        "phone",
                        "phone must be an E.164 number such as +14155550123",
                    ));
                }
                let channel = match channel {
                    None | Some(Channel::Sms) => Channel::Sms,
                    Some(Channel::Whatsapp) => Channel::Whatsapp,
                    Some(Channel::Email) => {
                        return Err(Error::invalid(
                            "channel",
                            "a phone number takes channel sms or whatsapp",
                        ))
                    }
                };
                Ok(Self {
                    channel,
                    identifier: phone.to_owned(),
                    address: phone.to_owned(),
                })
            }
            (Some(_), Some(_)) => Err(Error::invalid(
                "phone",
                "give either email or phone, not both",
            )),
            (None, None) => Err(Error::invalid("email", "give an email or a phone number")),
        }
    }
}

/// What the hosted magic-link page shows before anything is used.
#[derive(Debug, Clone)]
pub struct PendingLink {
    /// The address, masked (`a***@example.com`).
    pub masked_email: String,
    /// Where the browser goes after the button.
    pub redirect_url: String,
}

/// `ann@example.com` → `a***@example.com`: enough to recognise one's own address on a page
/// anyone holding the link can open.
pub fn mask_email(address: &str) -> String {
    match address.split_once('@') {
        Some((local, domain)) => {
            let first: String = local.chars().take(1).collect();
            format!("{first}***@{domain}")
        }
        None => "***".to_owned(),
    }
}

impl SignInService {
    /// The keyed hash a code is stored as: bound to its row, so a code is worth nothing for
    /// another identifier or send, and the table alone does not give it away.
    fn code_hash(&self, row_id: &str, code: &str) -> String {
        data_encoding::HEXLOWER.encode(&crate::crypto::hmac_sha256(
            &self.code_key,
            format!("{row_id}:{code}").as_bytes(),
        ))
    }

    /// Counts a send against its quotas (SECURITY L7): per recipient and caller for email, per
    /// number, project and caller for texts. Before the answer, so unknown recipients count too.
    async fn charge_send(
        &self,
        project: &Project,
        to: &Recipient,
        kind: &str,
        client: &ClientInfo,
    ) -> Result<()> {
        match to.channel {
            Channel::Email => {
                self.account
                    .check_quota(project, kind, &to.identifier, client)
                    .await
            }
            Channel::Sms | Channel::Whatsapp => {
                let quotas =
                    crate::mfa::text_quotas(&self.limiter, project, &to.identifier, client);
                self.limiter.charge(&project.id, &quotas).await
            }
        }
    }

    /// The user an identifier belongs to.
    async fn user_of(&self, project: &Project, to: &Recipient) -> Result<Option<User>> {
        let users = self.store.users();
        Ok(match to.channel {
            Channel::Email => users
                .by_email(&project.id, &to.identifier)
                .await?
                .map(|(user, _)| user),
            Channel::Sms | Channel::Whatsapp => users.by_phone(&project.id, &to.identifier).await?,
        })
    }

    /// Where a secret for `to` goes, if anywhere: an enabled user's stored address or number, or
    /// the typed one when passwordless sign-ins may create the account. Audited either way.
    async fn destination(
        &self,
        project: &Project,
        to: &Recipient,
        signup: bool,
        client: &ClientInfo,
    ) -> Result<Option<String>> {
        let user = self.user_of(project, to).await?;
        let destination = match &user {
            Some(u) if u.disabled => None,
            Some(u) => match to.channel {
                Channel::Email => u.email.clone(),
                Channel::Sms | Channel::Whatsapp => u.phone.clone(),
            },
            None if project.settings.passwordless_signup || signup => Some(to.address.clone()),
            None => None,
        };
        let mut event = audit::event(
            &project.id,
            AuditKind::PasswordlessRequested,
            destination.is_some(),
            user.as_ref().map(|u| u.id.as_str()),
        );
        event.ip = client.ip.clone();
        event.detail = serde_json::json!({"channel": to.channel.as_str()});
        audit::record(&self.store, event, self.clock.now()).await;
        Ok(destination)
    }

    /// Emails a magic link (with a code beside it, for when a scanner ate the link). The
    /// redirect must be allowed; without one the project's first allowed URL is used, and a
    /// project without any cannot send links (the browser would have nowhere to go).
    pub async fn send_magic_link(
        &self,
        project: &Project,
        email: &str,
        redirect_url: Option<&str>,
        client: &ClientInfo,
    ) -> Result<()> {
        let to = Recipient::parse(Some(email), None, None)?;
        let redirect = AccountService::check_redirect(project, redirect_url)?
            .or_else(|| project.settings.default_redirect().map(str::to_owned))
            .ok_or_else(|| {
                Error::not_allowed(
                    "redirectUrl",
                    "the project has no allowed redirect URL for magic links to lead to: add one to settings.allowedRedirectUrls",
                )
            })?;
        self.charge_send(project, &to, EmailKind::MagicLink.as_str(), client)
            .await?;
        let me = self.clone();
        let project = project.clone();
        let client = client.clone();
        self.account.background().spawn("magic link", async move {
            if let Some(address) = me.destination(&project, &to, false, &client).await? {
                me.issue(&project, &to, &address, Some(&redirect)).await?;
            }
            Ok(())
        });
        Ok(())
    }

    /// Sends a one-time passcode by email, SMS or WhatsApp. A number outside the project's
    /// countries is refused with `value_not_allowed` (SMS pumping defence).
    pub async fn send_otp(
        &self,
        project: &Project,
        email: Option<&str>,
        phone: Option<&str>,
        channel: Option<Channel>,
        client: &ClientInfo,
    ) -> Result<()> {
        let to = Recipient::parse(email, phone, channel)?;
        self.send_code(project, to, false, client).await
    }

    /// Sends a code to `to`. `signup`: the code may create the account even when the project's
    /// `passwordlessSignup` is off (a hosted sign-up, which has its password).
    pub(crate) async fn send_code(
        &self,
        project: &Project,
        to: Recipient,
        signup: bool,
        client: &ClientInfo,
    ) -> Result<()> {
        if to.channel != Channel::Email && !project.settings.sms_country_allowed(&to.identifier) {
            return Err(Error::not_allowed(
                "phone",
                "this project does not send codes to numbers of this country (settings.smsAllowedCountries)",
            ));
        }
        self.charge_send(project, &to, EmailKind::SignInCode.as_str(), client)
            .await?;
        let me = self.clone();
        let project = project.clone();
        let client = client.clone();
        self.account
            .background()
            .spawn("one-time passcode", async move {
                if let Some(address) = me.destination(&project, &to, signup, &client).await? {
                    me.issue(&project, &to, &address, None).await?;
                }
                Ok(())
            });
        Ok(())
    }

    /// Stores a new secret for `to` (voiding the identifier's earlier ones) and sends it to
    /// `address`: a magic link (with a code beside it) when there is a redirect, else a code.
    async fn issue(
        &self,
        project: &Project,
        to: &Recipient,
        address: &str,
        redirect: Option<&str>,
    ) -> Result<()> {
        let now = self.clock.now();
        let id = crate::ids::new_id("pwl");
        let code = new_numeric_code();
        let code_hash = self.code_hash(&id, &code);
        let token = new_refresh_token();
        let link_hash = secret_hash(&token);
        let link_ttl_ms = project.settings.magic_link_ttl as i64 * 1000;
        let mut row = NewCode {
            id: &id,
            purpose: PasswordlessPurpose::Otp,
            channel: to.channel,
            identifier: &to.identifier,
            link_hash: None,
            code_hash: Some(&code_hash),
            redirect_url: None,
            expires_at: now + OTP_TTL_MS,
            code_expires_at: Some(now + OTP_TTL_MS),
        };
        if let Some(redirect) = redirect {
            row.purpose = PasswordlessPurpose::MagicLink;
            row.link_hash = Some(&link_hash);
            row.redirect_url = Some(redirect);
            row.expires_at = now + link_ttl_ms;
            row.code_expires_at = Some(now + OTP_TTL_MS.min(link_ttl_ms));
        }
        let mailer = self.account.mailer();
        let email = match (to.channel, redirect) {
            (Channel::Email, Some(_)) => {
                let link = format!(
                    "{}/p/{}/magic-link?token={token}",
                    self.account.public_url(),
                    project.login_id
                );
                let minutes = project.settings.magic_link_ttl / 60;
                Some(mailer.compose(
                    project,
                    EmailKind::MagicLink,
                    address,
                    Some(&link),
                    Some(&code),
                    minutes,
                )?)
            }
            (Channel::Email, None) => Some(mailer.compose(
                project,
                EmailKind::SignInCode,
                address,
                None,
                Some(&code),
                OTP_TTL_MINUTES,
            )?),
            (Channel::Sms | Channel::Whatsapp, _) => None,
        };
        self.store
            .passwordless()
            .issue(&project.id, &row, email.as_ref(), now)
            .await?;
        if email.is_some() {
            mailer.wake();
            return Ok(());
        }
        let text = crate::delivery::sms::render(project, "sign_in_code", &code, OTP_TTL_MINUTES)?;
        self.sms
            .send(to.channel, "sign_in_code", address, &text, Some(&code))
            .await
            .map_err(|e| Error::Internal(anyhow::anyhow!("text delivery failed: {e}")))
    }

    /// The emailed link behind `token`, still unused, for the hosted page's GET (which uses
    /// nothing, SECURITY O6).
    pub async fn pending_magic_link(&self, project: &Project, token: &str) -> Result<PendingLink> {
        let found = self
            .store
            .passwordless()
            .by_link(&project.id, &secret_hash(token), self.clock.now())
            .await?
            .filter(|c| c.purpose == PasswordlessPurpose::MagicLink)
            .ok_or(Error::InvalidToken)?;
        Ok(PendingLink {
            masked_email: mask_email(&found.identifier),
            redirect_url: found.redirect_url.ok_or(Error::InvalidToken)?,
        })
    }

    /// The hosted page's POST: uses the emailed link up and returns the redirect URL carrying a
    /// fresh single-use token, valid [`EXCHANGE_TTL_MS`], for `verify_magic_link`.
    pub async fn confirm_magic_link(&self, project: &Project, token: &str) -> Result<String> {
        let now = self.clock.now();
        let link = self
            .store
            .passwordless()
            .by_link(&project.id, &secret_hash(token), now)
            .await?
            .filter(|c| c.purpose == PasswordlessPurpose::MagicLink)
            .ok_or(Error::InvalidToken)?;
        let redirect = link.redirect_url.clone().ok_or(Error::InvalidToken)?;
        let mut url = url::Url::parse(&redirect)
            .map_err(|e| Error::Internal(anyhow::anyhow!("stored redirect URL: {e}")))?;
        let exchange = new_refresh_token();
        let exchange_hash = secret_hash(&exchange);
        let id = crate::ids::new_id("pwl");
        let row = NewCode {
            id: &id,
            purpose: PasswordlessPurpose::Exchange,
            channel: Channel::Email,
            identifier: &link.identifier,
            link_hash: Some(&exchange_hash),
            code_hash: None,
            redirect_url: None,
            expires_at: now + EXCHANGE_TTL_MS,
            code_expires_at: None,
        };
        if !self
            .store
            .passwordless()
            .exchange(&project.id, &link.id, &row, now)
            .await?
        {
            return Err(Error::InvalidToken);
        }
        url.query_pairs_mut().append_pair("token", &exchange);
        Ok(url.to_string())
    }

    /// Signs in with a magic link's token: the emailed one or the one the hosted page handed
    /// over. Unknown, used or expired: `invalid_token`.
    pub async fn verify_magic_link(
        &self,
        project: &Project,
        token: &str,
        token_expiry: Option<u64>,
        client: &ClientInfo,
    ) -> Result<SignInOutcome> {
        token_ttl(project, token_expiry)?;
        self.account.count_token_guess(project, client).await?;
        let now = self.clock.now();
        let store = self.store.passwordless();
        let found = store
            .by_link(&project.id, &secret_hash(token), now)
            .await?
            .ok_or(Error::InvalidToken)?;
        if !store.consume(&project.id, &found.id, now).await? {
            return Err(Error::InvalidToken);
        }
        self.proven(project, &found, Amr::EmailLink, None, token_expiry, client)
            .await
    }

    /// Signs in with a one-time passcode sent to `email` or `phone` (the identifier decides
    /// which code is checked: a code sent to A never works for B). Wrong, used, expired or
    /// dead after [`MAX_CODE_ATTEMPTS`] wrong tries: `invalid_code`.
    pub async fn verify_otp(
        &self,
        project: &Project,
        email: Option<&str>,
        phone: Option<&str>,
        otp: &str,
        token_expiry: Option<u64>,
        client: &ClientInfo,
    ) -> Result<SignInOutcome> {
        token_ttl(project, token_expiry)?;
        let to = Recipient::parse(email, phone, None)?;
        self.verify_code(project, &to, otp, None, token_expiry, client)
            .await
    }

    /// Checks a code sent to `to` and signs in. `new_password_hash`: a hosted sign-up's
    /// password, set on the account if the code creates it (which it then may, whatever
    /// `passwordlessSignup` says).
    pub(crate) async fn verify_code(
        &self,
        project: &Project,
        to: &Recipient,
        otp: &str,
        new_password_hash: Option<&str>,
        token_expiry: Option<u64>,
        client: &ClientInfo,
    ) -> Result<SignInOutcome> {
        // Every try counts against the identifier, before anything is looked up (SECURITY L2).
        let key = self
            .limiter
            .key("passwordless:verify", &project.id, &to.identifier);
        self.limiter
            .check_and_count(project, Class::PasswordlessVerify, &key)
            .await?;
        let now = self.clock.now();
        let store = self.store.passwordless();
        let Some((found, stored_hash)) = store
            .live_code(&project.id, &to.identifier, MAX_CODE_ATTEMPTS, now)
            .await?
        else {
            return Err(self.refused(project, client).await);
        };
        let given = self.code_hash(&found.id, otp.trim());
        let matches: bool =
            subtle::ConstantTimeEq::ct_eq(given.as_bytes(), stored_hash.as_bytes()).into();
        if !matches {
            store
                .wrong_code(&project.id, &found.id, MAX_CODE_ATTEMPTS, now)
                .await?;
            return Err(self.refused(project, client).await);
        }
        if !store
            .consume_code(&project.id, &found.id, MAX_CODE_ATTEMPTS, now)
            .await?
        {
            return Err(self.refused(project, client).await);
        }
        self.limiter.reset(&key).await?;
        let amr = match found.channel {
            Channel::Email => Amr::EmailOtp,
            Channel::Sms => Amr::SmsOtp,
            Channel::Whatsapp => Amr::WhatsappOtp,
        };
        self.proven(
            project,
            &found,
            amr,
            new_password_hash,
            token_expiry,
            client,
        )
        .await
    }

    /// A refused code: audited as a failed sign-in, answered `invalid_code`.
    async fn refused(&self, project: &Project, client: &ClientInfo) -> Error {
        let mut event = audit::event(&project.id, AuditKind::Login, false, None);
        event.ip = client.ip.clone();
        event.user_agent = client.user_agent.clone();
        event.detail = serde_json::json!({"reason": "invalid_code"});
        audit::record(&self.store, event, self.clock.now()).await;
        Error::InvalidCode
    }

    /// A secret for `code.identifier` was just used up: find (or, if the project allows,
    /// create) its user, mark the address or number verified, and finish the sign-in.
    async fn proven(
        &self,
        project: &Project,
        code: &PasswordlessCode,
        amr: Amr,
        new_password_hash: Option<&str>,
        token_expiry: Option<u64>,
        client: &ClientInfo,
    ) -> Result<SignInOutcome> {
        let to = Recipient {
            channel: code.channel,
            identifier: code.identifier.clone(),
            address: code.identifier.clone(),
        };
        let now = self.clock.now();
        let user = match self.user_of(project, &to).await? {
            Some(user) => {
                self.store
                    .users()
                    .mark_verified(&project.id, &user.id, to.channel, &to.identifier, now)
                    .await?;
                self.store
                    .users()
                    .by_id(&project.id, &user.id)
                    .await?
                    .ok_or(Error::InvalidToken)?
            }
            None if project.settings.passwordless_signup || new_password_hash.is_some() => {
                self.create_user(project, &to, new_password_hash, client)
                    .await?
            }
            // The setting changed since the send, or the user was deleted.
            None => {
                return Err(match amr {
                    Amr::EmailLink => Error::InvalidToken,
                    _ => Error::InvalidCode,
                })
            }
        };
        self.complete(
            project,
            user,
            FirstFactor::Passwordless { amr },
            client,
            token_expiry,
        )
        .await
    }

    /// Creates the account of an identifier that has just proved possession (verified). Two
    /// first sign-ins at once create one account: the loser of the unique index reads it.
    async fn create_user(
        &self,
        project: &Project,
        to: &Recipient,
        password_hash: Option<&str>,
        client: &ClientInfo,
    ) -> Result<User> {
        let now = self.clock.now();
        let is_email = to.channel == Channel::Email;
        let user = User {
            id: crate::ids::new::<UserId>(),
            project_id: project.id.clone(),
            email: is_email.then(|| to.identifier.clone()),
            email_verified: is_email,
            phone: (!is_email).then(|| to.identifier.clone()),
            phone_verified: !is_email,
            metadata: serde_json::json!({}),
            disabled: false,
            created_at: now,
            updated_at: now,
            last_login_at: None,
            mfa_methods: Vec::new(),
        };
        let normalized = is_email.then_some(to.identifier.as_str());
        match self
            .store
            .users()
            .insert(&user, normalized, password_hash)
            .await
        {
            Ok(()) => {
                let mut event = audit::event(&project.id, AuditKind::Signup, true, Some(&user.id));
                event.ip = client.ip.clone();
                event.user_agent = client.user_agent.clone();
                event.detail = serde_json::json!({"method": to.channel.as_str()});
                audit::record(&self.store, event, now).await;
                Ok(user)
            }
            Err(Error::EmailTaken) => self.user_of(project, to).await?.ok_or(Error::InvalidCode),
            Err(e) => Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_all_but_the_first_letter() {
        assert_eq!(mask_email("ann.lee@example.com"), "a***@example.com");
        assert_eq!(mask_email("nope"), "***");
    }

    #[test]
    fn a_recipient_is_one_identifier_on_a_channel_that_fits_o3() {
        let r = Recipient::parse(Some("Ann@Example.com"), None, None).unwrap();
        assert_eq!(
            (r.channel, r.identifier.as_str()),
            (Channel::Email, "ann@example.com")
        );
        let r = Recipient::parse(None, Some("+14155550123"), Some(Channel::Whatsapp)).unwrap();
        assert_eq!(r.channel, Channel::Whatsapp);
        assert_eq!(
            Recipient::parse(None, Some("+14155550123"), None)
                .unwrap()
                .channel,
            Channel::Sms
        );
        for (email, phone, channel) in [
            (Some("a@b.co, c@d.co"), None, None),
            (Some("a@b.co"), Some("+14155550123"), None),
            (None, None, None),
            (None, Some("14155550123"), None),
            (None, Some("+1 415 555 0123"), None),
            (Some("a@b.co"), None, Some(Channel::Sms)),
            (None, Some("+14155550123"), Some(Channel::Email)),
        ] {
            assert!(
                Recipient::parse(email, phone, channel).is_err(),
                "{email:?} {phone:?} {channel:?}"
            );
        }
    }
}
