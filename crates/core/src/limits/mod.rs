//! Throttling: one [`Limiter`] for every limit (login attempts, other secret checks, sign-ups,
//! email and SMS sends), GCRA over one of three backends:
//!
//! - [`memory`]: in the process, for the embedded default (one node on SQLite);
//! - the database (`rate_limit` table, one statement per hit): nodes on PostgreSQL without
//!   Redis share their limits through it;
//! - [`redis`]: a Lua script run by `EVALSHA`, one round trip, for scale-out.
//!
//! GCRA keeps one number per key, the theoretical arrival time (`tat`) of the next hit. A rate
//! of `burst` hits per `period` lets `burst` hits through at once and then one every
//! `period / burst`: a soft lock that releases itself, never a hard one a stranger could keep
//! a victim in (SECURITY L1). Every hit is counted atomically by the backend (L3). Callers name
//! what they count with a [`RateKey`]; subjects are keyed with an HMAC (M8).

pub mod memory;
pub mod redis;

use serde::Serialize;
use std::net::IpAddr;
use std::sync::Arc;

use crate::audit;
use crate::clock::{Clock, Millis};
use crate::crypto::{hmac_sha256, MasterKey};
use crate::error::{Error, Result};
use crate::model::{AuditKind, Project, ProjectId};
use crate::store::Store;

/// The name of one counter: what is counted, in which project, for whom. The subject (an email
/// address, a phone number, an IP address, a user id) is keyed with an HMAC, so no address or
/// number can reach a counter in clear (SECURITY M8).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RateKey(String);

impl RateKey {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// At most `burst` hits at once, refilled evenly over `period_ms`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Rate {
    pub burst: u32,
    pub period_ms: Millis,
}

impl Rate {
    pub const fn per(burst: u32, period_ms: Millis) -> Self {
        Self { burst, period_ms }
    }

    fn interval(&self) -> Millis {
        (self.period_ms / self.burst.max(1) as Millis).max(1)
    }

    fn tolerance(&self) -> Millis {
        self.period_ms - self.interval()
    }
}

/// One GCRA step: `Ok(new tat)` if a hit at `now` is allowed, else `Err(ms until it would be)`.
pub fn gcra(tat: Option<Millis>, now: Millis, rate: Rate) -> std::result::Result<Millis, Millis> {
    let tat = tat.unwrap_or(now).max(now);
    if tat - now > rate.tolerance() {
        Err(tat - now - rate.tolerance())
    } else {
        Ok(tat + rate.interval())
    }
}

/// What a hit found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Counted; `exhausted` when it was the last one the rate allows for now (the lockout
    /// begins: the next hit would be refused).
    Allowed {
        exhausted: bool,
    },
    Limited {
        retry_after_ms: Millis,
    },
}

impl Decision {
    fn from_step(step: std::result::Result<Millis, Millis>, now: Millis, rate: Rate) -> Self {
        match step {
            Ok(tat) => Decision::Allowed {
                exhausted: tat - now > rate.tolerance(),
            },
            Err(wait) => Decision::Limited {
                retry_after_ms: wait,
            },
        }
    }
}

/// What a limit protects. Each has a default rate; the throttled answer is the same whoever
/// the subject is (an unknown account is throttled like a known one, SECURITY L4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Class {
    /// Password sign-ins of one account from one end-user address: the tightest, so a stranger
    /// exhausts their own pair long before the account.
    LoginPerAccountAndAddress,
    /// Password sign-ins of one account from anywhere.
    LoginPerAccount,
    /// Password sign-ins from one end-user address (an IPv6 address counts as its /64).
    LoginPerAddress,
    /// Every password sign-in of a project: a ceiling on credential stuffing.
    LoginPerProject,
    /// A signed-in user's current password (change-password).
    CurrentPassword,
    /// One-time tokens (reset, verification) from one end-user address, and unknown refresh
    /// tokens from one address or project.
    TokenGuesses,
    /// Sign-ups from one end-user address.
    SignupPerAddress,
    /// Tries at one-time passcodes of one email address or phone number, whatever the code.
    PasswordlessVerify,
    /// Emails and SMS (the send quotas, each with its own rate).
    Send,
}

const MINUTE: Millis = 60_000;

impl Class {
    /// The name in keys, logs and audit events.
    pub fn name(self) -> &'static str {
        match self {
            Class::LoginPerAccountAndAddress => "loginPerAccountAndAddress",
            Class::LoginPerAccount => "loginPerAccount",
            Class::LoginPerAddress => "loginPerAddress",
            Class::LoginPerProject => "loginPerProject",
            Class::CurrentPassword => "currentPassword",
            Class::TokenGuesses => "tokenGuesses",
            Class::SignupPerAddress => "signupPerAddress",
            Class::PasswordlessVerify => "passwordlessVerify",
            Class::Send => "send",
        }
    }

    /// Whether the action may go on when the limiter's store cannot be reached. Only sign-up
    /// checks no secret and costs nothing to send; everything else fails closed.
    fn fails_open(self) -> bool {
        matches!(self, Class::SignupPerAddress)
    }
}

/// Where the counters live.
pub enum Backend {
    Memory(memory::MemoryLimits),
    Database,
    Redis(Box<redis::RedisLimits>),
}

impl Backend {
    /// The default: in the process on SQLite (one node), in the database on PostgreSQL, in
    /// Redis when a URL is given.
    pub fn choose(
        store: &Store,
        redis_url: Option<&str>,
        redis_prefix: &str,
    ) -> anyhow::Result<Self> {
        Ok(match redis_url {
            Some(url) => Backend::Redis(Box::new(redis::RedisLimits::new(url, redis_prefix)?)),
            None if store.is_single_node() => Backend::Memory(memory::MemoryLimits::default()),
            None => Backend::Database,
        })
    }

    pub fn name(&self) -> &'static str {
        match self {
            Backend::Memory(_) => "memory",
            Backend::Database => "database",
            Backend::Redis(_) => "redis",
        }
    }
}

/// The rate of `class` in `project` (its `rateLimits` setting).
pub fn rate_for(project: &Project, class: Class) -> Rate {
    let limits = &project.settings.rate_limits;
    let set = match class {
        Class::LoginPerAccountAndAddress => limits.login_per_account_and_address,
        Class::LoginPerAccount => limits.login_per_account,
        Class::LoginPerAddress => limits.login_per_address,
        Class::LoginPerProject => limits.login_per_project,
        Class::CurrentPassword => limits.current_password,
        Class::TokenGuesses => limits.token_guesses,
        Class::SignupPerAddress => limits.signup_per_address,
        Class::PasswordlessVerify => limits.passwordless_verify,
        Class::Send => return Rate::per(10, 60 * MINUTE),
    };
    Rate::per(set.limit, set.window_seconds as Millis * 1000)
}

/// An end user's address as a throttling subject: an IPv6 address counts as its /64, the
/// block one subscriber usually holds; an IPv4-mapped one as its IPv4 address (SECURITY L1).
pub fn address_subject(ip: &str) -> String {
    match ip.parse::<IpAddr>() {
        Ok(IpAddr::V6(v6)) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.to_string(),
            None => {
                let s = v6.segments();
                format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
            }
        },
        Ok(IpAddr::V4(v4)) => v4.to_string(),
        Err(_) => ip.to_owned(),
    }
}

/// One quota of a send: at most `limit` per `window_ms` on `key`.
#[derive(Debug, Clone)]
pub struct Quota {
    pub key: RateKey,
    pub limit: i64,
    pub window_ms: Millis,
}

#[derive(Clone)]
pub struct Limiter {
    store: Store,
    backend: Arc<Backend>,
    subject_key: [u8; 32],
    clock: Arc<Clock>,
}

impl Limiter {
    pub fn new(store: Store, backend: Backend, master: &MasterKey, clock: Arc<Clock>) -> Self {
        Self {
            store,
            backend: Arc::new(backend),
            subject_key: master.derive("protekt/rate-key/v1"),
            clock,
        }
    }

    pub fn backend_name(&self) -> &'static str {
        self.backend.name()
    }

    /// The key counting `what` (e.g. `sms:number`) for `subject` in a project.
    pub fn key(&self, what: &str, project_id: &ProjectId, subject: &str) -> RateKey {
        let hashed = hmac_sha256(&self.subject_key, subject.as_bytes());
        RateKey(format!(
            "{what}:{project_id}:{}",
            data_encoding::HEXLOWER.encode(&hashed[..16])
        ))
    }

    /// Counts one hit of `class` on `key` at the project's rate for it. Over the rate:
    /// `RateLimited` with the seconds until the next hit would pass. The hit that exhausts a
    /// rate is logged and audited (the lockout begins). A backend that cannot be reached
    /// refuses the hit with `ServerBusy`, except for classes that fail open.
    pub async fn check_and_count(
        &self,
        project: &Project,
        class: Class,
        key: &RateKey,
    ) -> Result<()> {
        self.count_at(&project.id, class, key, rate_for(project, class))
            .await
    }

    /// [`Self::check_and_count`] at a given rate.
    async fn count_at(
        &self,
        project_id: &ProjectId,
        class: Class,
        key: &RateKey,
        rate: Rate,
    ) -> Result<()> {
        let decision = match self.hit(key, rate).await {
            Ok(decision) => decision,
            Err(e) if class.fails_open() => {
                tracing::warn!(error = %e, limit = class.name(), "rate limiter unreachable; allowed");
                return Ok(());
            }
            Err(e) => {
                tracing::warn!(error = %e, limit = class.name(), "rate limiter unreachable; refused");
                return Err(Error::ServerBusy);
            }
        };
        match decision {
            Decision::Allowed { exhausted: false } => Ok(()),
            Decision::Allowed { exhausted: true } => {
                tracing::info!(limit = class.name(), project_id = %project_id, "rate limit reached");
                let mut event = audit::event(project_id, AuditKind::RateLimitReached, true, None);
                event.detail = serde_json::json!({
                    "limit": class.name(),
                    "burst": rate.burst,
                    "periodSeconds": rate.period_ms / 1000,
                });
                audit::record(&self.store, event, self.clock.now()).await;
                Ok(())
            }
            Decision::Limited { retry_after_ms } => {
                tracing::debug!(limit = class.name(), "rate limited");
                Err(Error::RateLimited {
                    retry_after: ((retry_after_ms + 999) / 1000).max(1) as u64,
                })
            }
        }
    }

    /// Forgets `key`: a success clears the failures counted before it.
    pub async fn reset(&self, key: &RateKey) -> Result<()> {
        let done = match &*self.backend {
            Backend::Memory(m) => {
                m.reset(key.as_str());
                Ok(())
            }
            Backend::Database => self.store.ops().gcra_reset(key.as_str()).await,
            Backend::Redis(r) => r.reset(key.as_str()).await,
        };
        if let Err(e) = done {
            // The counter then runs out by itself; the success stands.
            tracing::warn!(error = %e, "rate limit not reset");
        }
        Ok(())
    }

    /// Counts one send against every quota (SECURITY L7); any over its limit answers
    /// `RateLimited`. Call before changing anything.
    pub async fn charge(&self, project_id: &ProjectId, quotas: &[Quota]) -> Result<()> {
        for q in quotas {
            let rate = Rate::per(q.limit.clamp(1, u32::MAX as i64) as u32, q.window_ms);
            self.count_at(project_id, Class::Send, &q.key, rate).await?;
        }
        Ok(())
    }

    async fn hit(&self, key: &RateKey, rate: Rate) -> Result<Decision> {
        match &*self.backend {
            Backend::Memory(m) => {
                let now = self.clock.now();
                Ok(Decision::from_step(
                    m.step(key.as_str(), now, rate)?,
                    now,
                    rate,
                ))
            }
            Backend::Database => {
                let now = self.clock.now();
                let ops = self.store.ops();
                let key = key.as_str();
                match ops
                    .gcra_hit(key, now, rate.interval(), rate.tolerance())
                    .await?
                {
                    Some(tat) => Ok(Decision::from_step(Ok(tat), now, rate)),
                    None => {
                        // Refused at the update; read how long until the next hit passes (if
                        // the row moved since, a second is the honest guess).
                        let tat = ops.gcra_tat(key).await?;
                        let retry_after_ms = gcra(tat, now, rate).err().unwrap_or(1000);
                        Ok(Decision::Limited { retry_after_ms })
                    }
                }
            }
            Backend::Redis(r) => r.hit(key.as_str(), rate).await,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gcra_lets_a_burst_through_then_one_per_interval_l1() {
        let rate = Rate::per(10, 900_000);
        let mut tat = None;
        for _ in 0..10 {
            tat = Some(gcra(tat, 0, rate).expect("inside the burst"));
        }
        assert_eq!(
            gcra(tat, 0, rate),
            Err(90_000),
            "the 11th waits one interval"
        );
        assert!(gcra(tat, 89_999, rate).is_err());
        assert!(
            gcra(tat, 90_000, rate).is_ok(),
            "then one more is let through"
        );
        assert!(gcra(tat, 900_000, rate).is_ok());
    }

    #[test]
    fn an_ipv6_address_counts_as_its_64_l1() {
        let a = address_subject("2001:db8:1:2:aaaa::1");
        assert_eq!(a, address_subject("2001:db8:1:2:bbbb::9"));
        assert_eq!(a, "2001:db8:1:2::/64");
        assert_ne!(a, address_subject("2001:db8:1:3::1"));
        assert_eq!(address_subject("::ffff:192.0.2.7"), "192.0.2.7");
        assert_eq!(address_subject("192.0.2.7"), "192.0.2.7");
    }

    #[test]
    fn the_hit_that_fills_the_burst_is_the_one_that_exhausts_it() {
        let rate = Rate::per(2, 1000);
        let first = gcra(None, 0, rate);
        assert_eq!(
            Decision::from_step(first, 0, rate),
            Decision::Allowed { exhausted: false }
        );
        let second = gcra(first.ok(), 0, rate);
        assert_eq!(
            Decision::from_step(second, 0, rate),
            Decision::Allowed { exhausted: true }
        );
    }
}
