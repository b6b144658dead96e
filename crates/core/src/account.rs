//! Recovering and maintaining an account: email verification, password reset, password change.
//!
//! Emailed links point at the hosted pages under the configured public URL only, never at a
//! host taken from the request (SECURITY F1). Their tokens are 256-bit, stored as SHA-256,
//! single-use, bound to their purpose and to the address they were sent to, and expire
//! (SECURITY O1, O5, F2). Asking for a reset or a verification email answers the same whatever
//! the account's state, and the lookup and sending happen after the answer, in the background,
//! so timing says nothing either (SECURITY L4, L5, F6). Senders are held to per-recipient and
//! per-IP quotas (SECURITY L7).

use std::sync::Arc;

use crate::audit;
use crate::auth::{AuthService, ClientInfo};
use crate::clock::Clock;
use crate::delivery::mail::Mailer;
use crate::delivery::Background;
use crate::email::Email;
use crate::error::{Error, Result};
use crate::ids::{new_refresh_token, secret_hash};
use crate::limits::{Class, Limiter, Quota};
use crate::model::{Aal, AuditKind, EmailKind, Project, Purpose, User};
use crate::password::{self, Hasher, Verified};
use crate::store::Store;

/// Emails of one kind to one address per hour.
pub const PER_RECIPIENT_PER_HOUR: i64 = 5;
/// Emails asked for from one end-user IP address per hour (when the backend passes it).
pub const PER_IP_PER_HOUR: i64 = 30;
/// Emails asked for by one project per hour when the end user's address is unknown: calls come
/// from the project's backend (they need its API key), so its own address says nothing.
pub const PER_PROJECT_PER_HOUR: i64 = 1000;
const HOUR_MS: i64 = 3600 * 1000;

#[derive(Clone)]
pub struct AccountService {
    store: Store,
    hasher: Hasher,
    auth: AuthService,
    mailer: Arc<Mailer>,
    limiter: Limiter,
    clock: Arc<Clock>,
    public_url: String,
    /// Emailed-link requests still being handled after their answer (shared with sign-in's
    /// passwordless sends).
    background: Background,
}

impl AccountService {
    pub fn new(
        store: Store,
        hasher: Hasher,
        auth: AuthService,
        mailer: Arc<Mailer>,
        limiter: Limiter,
        clock: Arc<Clock>,
        public_url: &str,
    ) -> Self {
        Self {
            store,
            hasher,
            auth,
            mailer,
            limiter,
            clock,
            public_url: public_url.trim_end_matches('/').to_owned(),
            background: Background::default(),
        }
    }

    /// How many requests to email or text somebody are still being looked up and sent in the
    /// background (answers go out before that work, so that they say nothing about the address).
    pub fn sends_in_flight(&self) -> usize {
        self.background.in_flight()
    }

    /// The background the sends run in, for the other services that send.
    pub fn background(&self) -> &Background {
        &self.background
    }

    /// The mailer, for the other services that email.
    pub fn mailer(&self) -> &Arc<Mailer> {
        &self.mailer
    }

    /// The public base URL emailed links point at (no trailing slash).
    pub fn public_url(&self) -> &str {
        &self.public_url
    }

    /// The redirect URL in the form it is stored and later sent, if the project allows it: one
    /// without the documented shape is `invalid_request`, any other outside the allow-list
    /// `value_not_allowed` (SECURITY U1).
    pub fn check_redirect(project: &Project, redirect_url: Option<&str>) -> Result<Option<String>> {
        redirect_url
            .map(|u| {
                if !crate::model::redirect_shaped(u) {
                    return Err(Error::invalid(
                        "redirectUrl",
                        "redirectUrl must be an absolute http(s) URL",
                    ));
                }
                project.settings.allowed_redirect(u).ok_or_else(|| {
                    Error::not_allowed(
                        "redirectUrl",
                        "redirectUrl is not one of the project's allowed redirect URLs",
                    )
                })
            })
            .transpose()
    }

    /// Counts a send against the recipient's quota and the caller's: per end-user address when
    /// the backend passes it, else per project (SECURITY L7).
    pub(crate) async fn check_quota(
        &self,
        project: &Project,
        kind: &str,
        recipient: &str,
        client: &ClientInfo,
    ) -> Result<()> {
        let q = &self.limiter;
        let caller = match (&client.ip, client.ip_is_end_user) {
            (Some(ip), true) => Quota {
                key: q.key("send:ip", &project.id, ip),
                limit: PER_IP_PER_HOUR,
                window_ms: HOUR_MS,
            },
            _ => Quota {
                key: q.key("send:project", &project.id, ""),
                limit: PER_PROJECT_PER_HOUR,
                window_ms: HOUR_MS,
            },
        };
        let recipient = Quota {
            key: q.key(&format!("send:{kind}:to"), &project.id, recipient),
            limit: PER_RECIPIENT_PER_HOUR,
            window_ms: HOUR_MS,
        };
        q.charge(&project.id, &[recipient, caller]).await
    }

    /// Counts a try at a one-time token from the end user's address, before it is looked up
    /// (SECURITY L2). Without an end-user address (a hosted page, or a backend that does not
    /// send `X-Client-Ip`) there is nothing to key on: the tokens' 256 bits are the defence.
    pub(crate) async fn count_token_guess(
        &self,
        project: &Project,
        client: &ClientInfo,
    ) -> Result<()> {
        let Some(address) = client.end_user_address() else {
            return Ok(());
        };
        let key = self.limiter.key("guess:address", &project.id, &address);
        self.limiter
            .check_and_count(project, Class::TokenGuesses, &key)
            .await
    }

    /// Issues a one-time token for `user` and queues the email carrying its link.
    async fn send_link(
        &self,
        project: &Project,
        user: &User,
        purpose: Purpose,
        redirect_url: Option<&str>,
    ) -> Result<()> {
        // A user who signed up with a phone number has no mailbox to send to.
        let Some(email) = user.email.as_deref() else {
            return Ok(());
        };
        let now = self.clock.now();
        let token = new_refresh_token();
        let (page, kind, ttl) = match purpose {
            Purpose::VerifyEmail => (
                "verify-email",
                EmailKind::VerifyEmail,
                project.settings.verification_token_ttl,
            ),
            Purpose::PasswordReset => (
                "reset-password",
                EmailKind::PasswordReset,
                project.settings.reset_token_ttl,
            ),
        };
        let link = format!(
            "{}/p/{}/{page}?token={token}",
            self.public_url, project.login_id
        );
        let message = self
            .mailer
            .compose(project, kind, email, Some(&link), None, ttl / 60)?;
        self.store
            .codes()
            .issue(
                &project.id,
                &user.id,
                purpose,
                &secret_hash(&token),
                email,
                redirect_url,
                now + (ttl as i64) * 1000,
                &message,
                now,
            )
            .await?;
        self.mailer.wake();
        Ok(())
    }

    /// Sends a verification email to a user just created (sign-up with `sendVerification`).
    pub async fn send_verification_to(
        &self,
        project: &Project,
        user: &User,
        client: &ClientInfo,
    ) -> Result<()> {
        let Some(email) = user.email.as_deref() else {
            return Ok(());
        };
        self.check_quota(project, "verify_email", &crate::email::key(email), client)
            .await?;
        self.send_link(project, user, Purpose::VerifyEmail, None)
            .await
    }

    /// Resends a verification email. Same answer whether the address exists or not.
    pub async fn request_verification(
        &self,
        project: &Project,
        email: &str,
        redirect_url: Option<&str>,
        client: &ClientInfo,
    ) -> Result<()> {
        self.request_link(project, email, redirect_url, client, Purpose::VerifyEmail)
            .await
    }

    /// The shared front half of "email me a link": parse, check the redirect and the quotas,
    /// answer, and only then, in the background, look the address up and send (SECURITY L4, L5,
    /// F3, F6). The link goes only to the account's stored address.
    async fn request_link(
        &self,
        project: &Project,
        email: &str,
        redirect_url: Option<&str>,
        client: &ClientInfo,
        purpose: Purpose,
    ) -> Result<()> {
        let email = Email::parse(email)?;
        let redirect = Self::check_redirect(project, redirect_url)?;
        self.check_quota(project, purpose.as_str(), email.normalized(), client)
            .await?;
        let me = self.clone();
        let project = project.clone();
        let client = client.clone();
        self.background.spawn("emailed link", async move {
            let found = me
                .store
                .users()
                .by_email(&project.id, email.normalized())
                .await?;
            let kind = match purpose {
                Purpose::VerifyEmail => AuditKind::EmailVerificationRequested,
                Purpose::PasswordReset => AuditKind::PasswordResetRequested,
            };
            let mut event = audit::event(&project.id, kind, found.is_some(), None);
            event.ip = client.ip.clone();
            if let Some((user, _)) = found {
                event.subject = Some(user.id.to_string());
                let wanted = match purpose {
                    Purpose::VerifyEmail => !user.email_verified,
                    Purpose::PasswordReset => true,
                };
                if wanted && !user.disabled {
                    me.send_link(&project, &user, purpose, redirect.as_deref())
                        .await?;
                }
            }
            audit::record(&me.store, event, me.clock.now()).await;
            Ok(())
        });
        Ok(())
    }

    /// Consumes a verification token; the address it was sent to becomes verified, in one
    /// transaction (SECURITY X1). Returns the user and where the browser may go next.
    pub async fn verify_email(
        &self,
        project: &Project,
        token: &str,
        client: &ClientInfo,
    ) -> Result<(User, Option<String>)> {
        self.count_token_guess(project, client).await?;
        let now = self.clock.now();
        let found = self
            .store
            .codes()
            .find(&project.id, Purpose::VerifyEmail, &secret_hash(token), now)
            .await?
            .ok_or(Error::InvalidToken)?;
        if !self
            .store
            .users()
            .redeem_emailed_token(&project.id, &found, None, now)
            .await?
        {
            return Err(Error::InvalidToken);
        }
        audit::record(
            &self.store,
            audit::event(
                &project.id,
                AuditKind::EmailVerified,
                true,
                Some(&found.user_id),
            ),
            now,
        )
        .await;
        let user = self
            .store
            .users()
            .by_id(&project.id, &found.user_id)
            .await?
            .ok_or(Error::InvalidToken)?;
        Ok((user, found.redirect_url))
    }

    /// Where the browser may go after the verification of this (still unused) token, for the
    /// hosted page (its CSP must allow the form to lead there).
    pub async fn verification_redirect(
        &self,
        project: &Project,
        token: &str,
    ) -> Result<Option<String>> {
        self.pending_redirect(project, Purpose::VerifyEmail, token)
            .await
    }

    /// Starts a password reset. Same answer for every address (SECURITY L4, F6); the reset link
    /// goes only to the account's stored address, never to one taken from the request (F3).
    pub async fn request_password_reset(
        &self,
        project: &Project,
        email: &str,
        redirect_url: Option<&str>,
        client: &ClientInfo,
    ) -> Result<()> {
        self.request_link(project, email, redirect_url, client, Purpose::PasswordReset)
            .await
    }

    /// Where the browser may go after the reset of this (still unused) token, for the hosted page.
    pub async fn reset_redirect(&self, project: &Project, token: &str) -> Result<Option<String>> {
        self.pending_redirect(project, Purpose::PasswordReset, token)
            .await
    }

    async fn pending_redirect(
        &self,
        project: &Project,
        purpose: Purpose,
        token: &str,
    ) -> Result<Option<String>> {
        let found = self
            .store
            .codes()
            .find(&project.id, purpose, &secret_hash(token), self.clock.now())
            .await?
            .ok_or(Error::InvalidToken)?;
        Ok(found.redirect_url)
    }

    /// Completes a reset: the new password must meet the policy (a weak one does not use up the
    /// token); then, in one transaction, the token is used up, the password replaced, every
    /// session ended and the address counted as verified, since the reset proves control of the
    /// mailbox (SECURITY F2, S5, X1). The user is told by email (P5).
    pub async fn confirm_password_reset(
        &self,
        project: &Project,
        token: &str,
        new_password: &str,
        client: &ClientInfo,
    ) -> Result<Option<String>> {
        self.count_token_guess(project, client).await?;
        let found = self
            .store
            .codes()
            .find(
                &project.id,
                Purpose::PasswordReset,
                &secret_hash(token),
                self.clock.now(),
            )
            .await?
            .ok_or(Error::InvalidToken)?;
        let user = self
            .store
            .users()
            .by_id(&project.id, &found.user_id)
            .await?
            .ok_or(Error::InvalidToken)?;
        if user.email.as_deref() != Some(found.email.as_str()) {
            return Err(Error::InvalidToken);
        }
        password::check_policy(
            new_password,
            project.settings.password_min_length,
            &policy_context(project, &user),
        )
        .map_err(|e| e.in_field("newPassword"))?;
        let hash = self.hasher.hash(new_password).await?;
        let now = self.clock.now();
        if !self
            .store
            .users()
            .redeem_emailed_token(&project.id, &found, Some(&hash), now)
            .await?
        {
            return Err(Error::InvalidToken);
        }
        self.notify_password_changed(project, &user).await;
        audit::record(
            &self.store,
            audit::event(&project.id, AuditKind::PasswordReset, true, Some(&user.id)),
            now,
        )
        .await;
        Ok(found.redirect_url)
    }

    /// Changes the password of the access token's user, who must give the current one. Other
    /// sessions end; this one stays (SECURITY P5, S5).
    pub async fn change_password(
        &self,
        project: &Project,
        access_token: &str,
        current: &str,
        new_password: &str,
    ) -> Result<()> {
        let (user, claims) = self.auth.verify(project, access_token).await?;
        // With a second factor, a password-only session cannot change the password (S6).
        if !user.mfa_methods.is_empty() && claims.aal != Aal::Aal2 {
            return Err(Error::MfaStepUpRequired);
        }
        // Each guess at the current password counts before it is checked: a stolen access
        // token does not give unlimited guesses (SECURITY L2).
        let throttle = self.limiter.key("password:current", &project.id, &user.id);
        self.limiter
            .check_and_count(project, Class::CurrentPassword, &throttle)
            .await?;
        let stored = self
            .store
            .users()
            .password_hash(&project.id, &user.id)
            .await?;
        let checked = if current.chars().count() <= password::MAX_PASSWORD_CHARS {
            current
        } else {
            ""
        };
        let verified = self.hasher.verify(checked, stored.as_deref()).await?;
        let now = self.clock.now();
        if verified == Verified::No {
            audit::record(
                &self.store,
                audit::event(
                    &project.id,
                    AuditKind::PasswordChange,
                    false,
                    Some(&user.id),
                ),
                now,
            )
            .await;
            return Err(Error::InvalidCredentials);
        }
        self.limiter.reset(&throttle).await?;
        password::check_policy(
            new_password,
            project.settings.password_min_length,
            &policy_context(project, &user),
        )
        .map_err(|e| e.in_field("newPassword"))?;
        let hash = self.hasher.hash(new_password).await?;
        let now = self.clock.now();
        self.store
            .users()
            .replace_password(&project.id, &user.id, &hash, Some(&claims.sid), now)
            .await?;
        self.notify_password_changed(project, &user).await;
        audit::record(
            &self.store,
            audit::event(&project.id, AuditKind::PasswordChange, true, Some(&user.id)),
            now,
        )
        .await;
        Ok(())
    }

    async fn notify_password_changed(&self, project: &Project, user: &User) {
        let Some(email) = user.email.as_deref() else {
            return;
        };
        let result = async {
            let message =
                self.mailer
                    .compose(project, EmailKind::PasswordChanged, email, None, None, 0)?;
            self.store
                .outbox()
                .enqueue(&message, self.clock.now())
                .await?;
            self.mailer.wake();
            Ok::<_, Error>(())
        };
        if let Err(e) = result.await {
            tracing::error!(error = ?e, "cannot queue the password-changed email");
        }
    }
}

/// What a new password must not be built from: the user's email and the project's name.
fn policy_context<'a>(project: &'a Project, user: &'a User) -> Vec<&'a str> {
    user.email
        .as_deref()
        .into_iter()
        .chain([project.name.as_str()])
        .collect()
}
