//! Email and password: sign-up, and sign-in as a first factor.

use super::{FirstFactor, SignInOutcome, SignInService};
use crate::audit;
use crate::auth::{token_ttl, ClientInfo, Tokens};
use crate::email::Email;
use crate::error::{Error, Result};
use crate::limits::{Class, RateKey};
use crate::model::{Aal, Amr, AuditKind, Project, User, UserId};
use crate::password::{self, Verified};

#[derive(Debug, Clone)]
pub struct SignupInput {
    pub email: String,
    pub password: String,
    pub metadata: Option<serde_json::Value>,
    pub token_expiry: Option<u64>,
    /// Email a verification link (always done when the project requires verified emails).
    pub send_verification: bool,
}

impl SignInService {
    /// Counts a password sign-in, before its password is checked, against the account from
    /// this address, the account, the address and the project (SECURITY L1-L3); returns the
    /// keys a success resets. Over any limit: `rate_limited`, even for the right password.
    async fn count_login(
        &self,
        project: &Project,
        email: &str,
        client: &ClientInfo,
    ) -> Result<Vec<RateKey>> {
        let l = &self.limiter;
        let pid = &project.id;
        let account = match Email::parse(email) {
            Ok(e) => e.normalized().to_owned(),
            Err(_) => email.trim().to_lowercase(),
        };
        let address = client.end_user_address();
        let mut counted = Vec::new();
        if let Some(address) = &address {
            counted.push((
                Class::LoginPerAccountAndAddress,
                l.key("login:pair", pid, &format!("{account}\n{address}")),
            ));
        }
        counted.push((
            Class::LoginPerAccount,
            l.key("login:account", pid, &account),
        ));
        let mut once = Vec::new();
        if let Some(address) = &address {
            once.push((Class::LoginPerAddress, l.key("login:address", pid, address)));
        }
        once.push((Class::LoginPerProject, l.key("login:project", pid, "")));
        for (class, key) in counted.iter().chain(&once) {
            l.check_and_count(project, *class, key).await?;
        }
        Ok(counted.into_iter().map(|(_, key)| key).collect())
    }

    /// Creates a user with a password and signs them in, unless the project requires a verified
    /// email: then there is no session until it is verified (otherwise sign-up would be a way
    /// around the login check), and the verification email goes out regardless of the request.
    pub async fn signup(
        &self,
        project: &Project,
        input: SignupInput,
        client: &ClientInfo,
    ) -> Result<(User, Option<Tokens>)> {
        let email = Email::parse(&input.email)?;
        let metadata = crate::metadata::parse(input.metadata)?;
        if let Some(address) = client.end_user_address() {
            let key = self.limiter.key("signup:address", &project.id, &address);
            self.limiter
                .check_and_count(project, Class::SignupPerAddress, &key)
                .await?;
        }
        let ttl = token_ttl(project, input.token_expiry)?;
        password::check_policy(
            &input.password,
            project.settings.password_min_length,
            &[email.as_str(), &project.name],
        )?;
        // Hash before touching the database: no connection is held while the pool works.
        let hash = self.hasher.hash(&input.password).await?;
        let now = self.clock.now();
        let user = User {
            id: crate::ids::new::<UserId>(),
            project_id: project.id.clone(),
            email: Some(email.as_str().to_owned()),
            email_verified: false,
            phone: None,
            phone_verified: false,
            metadata,
            disabled: false,
            created_at: now,
            updated_at: now,
            last_login_at: Some(now),
            mfa_methods: Vec::new(),
        };
        self.store
            .users()
            .insert(&user, Some(email.normalized()), Some(&hash))
            .await?;
        let tokens = if project.settings.require_email_verification {
            None
        } else {
            let amr = [Amr::Pwd];
            Some(
                self.auth
                    .start_session(project, &user, client, ttl, now, None, &amr, Aal::Aal1)
                    .await?,
            )
        };
        let mut event = audit::event(&project.id, AuditKind::Signup, true, Some(&user.id));
        event.ip = client.ip.clone();
        event.user_agent = client.user_agent.clone();
        audit::record(&self.store, event, now).await;
        if input.send_verification || project.settings.require_email_verification {
            // The account exists now; a failed send is logged, not turned into a failed sign-up.
            if let Err(e) = self
                .account
                .send_verification_to(project, &user, client)
                .await
            {
                tracing::warn!(error = ?e, "verification email not sent at sign-up");
            }
        }
        Ok((user, tokens))
    }

    /// The hash of a new password for `email`, if it meets the project's policy (for a hosted
    /// sign-up, whose account is created once the address is proved).
    pub async fn new_password_hash(
        &self,
        project: &Project,
        email: &str,
        password: &str,
    ) -> Result<String> {
        password::check_policy(
            password,
            project.settings.password_min_length,
            &[email, &project.name],
        )?;
        self.hasher.hash(password).await
    }

    /// Password sign-in. An unknown email, a wrong password and (for a wrong password) a
    /// disabled user give the same answer after the same work: a full argon2 verification
    /// (SECURITY L4/L5). A right password goes on to [`SignInService::complete`].
    pub async fn password(
        &self,
        project: &Project,
        email: &str,
        password: &str,
        token_expiry: Option<u64>,
        client: &ClientInfo,
    ) -> Result<SignInOutcome> {
        token_ttl(project, token_expiry)?;
        // Unparseable emails and oversized passwords cannot match anybody; they still cost a
        // dummy verification so that the answer's timing says nothing.
        let fits = password.chars().count() <= password::MAX_PASSWORD_CHARS;
        let found = match Email::parse(email) {
            Ok(e) if fits => {
                self.store
                    .users()
                    .by_email(&project.id, e.normalized())
                    .await?
            }
            _ => None,
        };
        // Throttled before any hash is computed, by the email as typed (an unknown account is
        // throttled exactly like a known one, SECURITY L4).
        let throttled = self.count_login(project, email, client).await?;
        let (user, stored_hash) = match found {
            Some((user, hash)) => (Some(user), hash),
            None => (None, None),
        };
        let verified = self
            .hasher
            .verify(if fits { password } else { "" }, stored_hash.as_deref())
            .await?;
        let (user, rehashed) = match (user, verified) {
            (Some(user), Verified::Yes) => (user, None),
            (Some(user), Verified::YesRehashed(h)) => (user, Some(h)),
            (user, _) => {
                let subject = user.as_ref().map(|u| u.id.as_str());
                let mut event = audit::event(&project.id, AuditKind::Login, false, subject);
                event.ip = client.ip.clone();
                event.user_agent = client.user_agent.clone();
                event.detail = serde_json::json!({"reason": "invalid_credentials"});
                audit::record(&self.store, event, self.clock.now()).await;
                return Err(Error::InvalidCredentials);
            }
        };
        // The right password clears the failures of this account (not of the address).
        for key in &throttled {
            self.limiter.reset(key).await?;
        }
        self.complete(
            project,
            user,
            FirstFactor::Password { rehashed },
            client,
            token_expiry,
        )
        .await
    }
}
