//! Sending messages to people: email (SMTP, or the development outbox folder), SMS and
//! WhatsApp, with the templates they are written from. Nothing here decides *whether* to send:
//! the rules (account, sign-in, mfa) do, and hand over what to send.

pub mod mail;
pub mod sms;

use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

/// Work a request leaves to the background once it has answered: looking an address up and
/// sending to it, so that the answer's timing says nothing about the account (SECURITY L4,
/// L5). Counted, so shutdown and tests can wait for it to finish.
#[derive(Clone, Default)]
pub struct Background(Arc<AtomicUsize>);

/// Counts one task while it lives.
struct InFlight(Arc<AtomicUsize>);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

impl Background {
    /// Runs `work`; a failure is logged as `what` (nobody is waiting for it).
    pub fn spawn<F>(&self, what: &'static str, work: F)
    where
        F: Future<Output = crate::Result<()>> + Send + 'static,
    {
        self.0.fetch_add(1, Ordering::SeqCst);
        let in_flight = InFlight(Arc::clone(&self.0));
        tokio::spawn(async move {
            let _in_flight = in_flight;
            if let Err(e) = work.await {
                tracing::error!(error = ?e, what, "background send failed");
            }
        });
    }

    /// Tasks still running.
    pub fn in_flight(&self) -> usize {
        self.0.load(Ordering::SeqCst)
    }
}
