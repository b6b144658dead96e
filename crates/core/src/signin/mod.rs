//! Signing in. Every first factor (a password today; passwordless, passkeys and federation
//! next) ends in [`SignInService::complete`], the one place that turns "this user passed this
//! first factor" into a session or an `mfa_required` challenge: disabled users and unverified
//! emails are refused there, the second-factor step is asked for there, the sign-in is audited
//! there, and the throttling hook belongs there. A new method is a new file beside
//! `password.rs` that ends by calling it.

mod password;
mod passwordless;

pub use password::SignupInput;
pub use passwordless::{mask_email, PendingLink, Recipient, EXCHANGE_TTL_MS, MAX_CODE_ATTEMPTS};

use std::sync::Arc;

use crate::account::AccountService;
use crate::audit;
use crate::auth::{AuthService, ClientInfo, Tokens};
use crate::clock::Clock;
use crate::crypto::MasterKey;
use crate::delivery::sms::SmsSender;
use crate::error::{Error, Result};
use crate::limits::Limiter;
use crate::mfa::MfaService;
use crate::model::{Aal, Amr, AuditKind, Project, User};
use crate::password::Hasher;
use crate::store::Store;

/// The first factor a user has just passed.
#[derive(Debug, Clone)]
pub enum FirstFactor {
    /// Their password; `rehashed` holds a new hash when the stored one used outdated
    /// parameters, saved with the sign-in.
    Password { rehashed: Option<String> },
    /// A magic link or a one-time passcode, which proved possession of the address or number
    /// it went to (`amr` names which).
    Passwordless { amr: Amr },
}

impl FirstFactor {
    /// The RFC 8176 `amr` value the session records.
    fn amr(&self) -> Amr {
        match self {
            FirstFactor::Password { .. } => Amr::Pwd,
            FirstFactor::Passwordless { amr } => *amr,
        }
    }
}

/// How a sign-in ends: with a session, or waiting for the second factor.
#[derive(Debug)]
pub enum SignInOutcome {
    Session(Box<User>, Tokens),
    /// Finish with `POST /v1/mfa/verify` and this token.
    MfaRequired {
        mfa_token: String,
    },
}

#[derive(Clone)]
pub struct SignInService {
    store: Store,
    hasher: Hasher,
    auth: AuthService,
    mfa: MfaService,
    account: AccountService,
    limiter: Limiter,
    /// Texts passwordless codes (emails go through the account service's mailer).
    sms: Arc<SmsSender>,
    /// Keys the hashes passwordless codes are stored as.
    code_key: [u8; 32],
    clock: Arc<Clock>,
}

impl SignInService {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        store: Store,
        hasher: Hasher,
        auth: AuthService,
        mfa: MfaService,
        account: AccountService,
        limiter: Limiter,
        sms: Arc<SmsSender>,
        master: &MasterKey,
        clock: Arc<Clock>,
    ) -> Self {
        Self {
            store,
            hasher,
            auth,
            mfa,
            account,
            limiter,
            sms,
            code_key: master.derive("protekt/passwordless-code/v1"),
            clock,
        }
    }

    /// Finishes a sign-in whose first factor `user` has passed (see the module docs).
    pub async fn complete(
        &self,
        project: &Project,
        user: User,
        first: FirstFactor,
        client: &ClientInfo,
        token_expiry: Option<u64>,
    ) -> Result<SignInOutcome> {
        if user.disabled {
            return Err(Error::UserDisabled);
        }
        // A phone-only user has no email to verify; their number was just proved.
        if project.settings.require_email_verification
            && user.email.is_some()
            && !user.email_verified
        {
            return Err(Error::EmailNotVerified);
        }
        let mut event = audit::event(&project.id, AuditKind::Login, true, Some(&user.id));
        event.ip = client.ip.clone();
        event.user_agent = client.user_agent.clone();
        event.detail = serde_json::json!({"method": first.amr().as_str()});
        if !user.mfa_methods.is_empty() {
            event.detail["mfa"] = "required".into();
            audit::record(&self.store, event, self.clock.now()).await;
            let mfa_token = self
                .mfa
                .challenge(project, &user, first.amr(), client)
                .await?;
            return Ok(SignInOutcome::MfaRequired { mfa_token });
        }
        let rehashed = match &first {
            FirstFactor::Password { rehashed } => rehashed.clone(),
            FirstFactor::Passwordless { .. } => None,
        };
        let amr = [first.amr()];
        let (user, tokens) = self
            .auth
            .finish_login(
                project,
                user,
                client,
                token_expiry,
                &amr,
                Aal::Aal1,
                rehashed.as_deref(),
            )
            .await?;
        audit::record(&self.store, event, self.clock.now()).await;
        Ok(SignInOutcome::Session(Box::new(user), tokens))
    }
}
