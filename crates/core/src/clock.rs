//! The time source. Production reads the system clock; tests shift it forward to cross expiry
//! boundaries without sleeping (kanidm passes the time in for the same reason).

use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

pub use crate::model::Millis;

#[derive(Debug, Default)]
pub struct Clock {
    offset_ms: AtomicI64,
}

impl Clock {
    pub fn new() -> Self {
        Self::default()
    }

    /// Now, in unix milliseconds.
    pub fn now(&self) -> Millis {
        let system = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis() as i64)
            .unwrap_or(0);
        system + self.offset_ms.load(Ordering::Relaxed)
    }

    /// Sets this clock to `at`, forward or back (tests that replay recorded data).
    pub fn set_now(&self, at: Millis) {
        let system = self.now() - self.offset_ms.load(Ordering::Relaxed);
        self.offset_ms.store(at - system, Ordering::Relaxed);
    }

    /// Moves this clock forward (tests only use this; production never shifts time).
    pub fn advance(&self, by: std::time::Duration) {
        self.offset_ms
            .fetch_add(by.as_millis() as i64, Ordering::Relaxed);
    }
}

/// RFC 3339 rendering of unix milliseconds, in UTC.
pub fn rfc3339(ms: Millis) -> String {
    let nanos = i128::from(ms) * 1_000_000;
    time::OffsetDateTime::from_unix_timestamp_nanos(nanos)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_rfc3339_in_utc() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(1_700_000_000_123), "2023-11-14T22:13:20.123Z");
    }

    #[test]
    fn advance_moves_now_forward() {
        let clock = Clock::new();
        let before = clock.now();
        clock.advance(std::time::Duration::from_secs(3600));
        assert!(clock.now() - before >= 3_600_000);
    }
}
