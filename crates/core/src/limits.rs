//! Quotas on what costs money or invites abuse (emails, SMS): fixed-window counters shared by
//! every node through the database. The throttling work will put its limiter behind
//! [`Quotas::charge`]; callers name what they count with a [`RateKey`].

use std::sync::Arc;

use crate::clock::{Clock, Millis};
use crate::crypto::{hmac_sha256, MasterKey};
use crate::error::{Error, Result};
use crate::model::ProjectId;
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

/// One quota: at most `limit` hits on `key` per window of `window_ms`.
#[derive(Debug, Clone)]
pub struct Quota {
    pub key: RateKey,
    pub limit: i64,
    pub window_ms: Millis,
}

#[derive(Clone)]
pub struct Quotas {
    store: Store,
    subject_key: [u8; 32],
    clock: Arc<Clock>,
}

impl Quotas {
    pub fn new(store: Store, master: &MasterKey, clock: Arc<Clock>) -> Self {
        Self {
            store,
            subject_key: master.derive("protekt/rate-key/v1"),
            clock,
        }
    }

    /// The key counting `what` (e.g. `sms:number`) for `subject` in a project.
    pub fn key(&self, what: &str, project_id: &ProjectId, subject: &str) -> RateKey {
        let hashed = hmac_sha256(&self.subject_key, subject.as_bytes());
        RateKey(format!(
            "{what}:{project_id}:{}",
            data_encoding::HEXLOWER.encode(&hashed[..16])
        ))
    }

    /// Counts one hit against every quota; if any is over its limit, answers `RateLimited`
    /// with the seconds until that quota's window ends. Call before changing anything.
    pub async fn charge(&self, quotas: &[Quota]) -> Result<()> {
        let now = self.clock.now();
        for q in quotas {
            if self
                .store
                .ops()
                .hit_counter(q.key.as_str(), q.window_ms, now)
                .await?
                > q.limit
            {
                return Err(Error::RateLimited {
                    retry_after: seconds_until_window_end(now, q.window_ms),
                });
            }
        }
        Ok(())
    }
}

/// Whole seconds (at least 1) until the fixed window of `window_ms` containing `now` ends.
pub fn seconds_until_window_end(now: Millis, window_ms: Millis) -> u64 {
    ((window_ms - now.rem_euclid(window_ms)) / 1000).max(1) as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_end_on_their_boundary() {
        assert_eq!(seconds_until_window_end(0, 3_600_000), 3600);
        assert_eq!(seconds_until_window_end(3_599_500, 3_600_000), 1);
        assert_eq!(seconds_until_window_end(3_600_000, 600_000), 600);
    }
}
