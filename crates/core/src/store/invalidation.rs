//! How a committed write reaches the read caches of every node. Writes that end a session,
//! revoke a token or change what verification sees announce an [`Invalidation`] inside their
//! transaction; each node's listener evicts the same entries when the commit is delivered.
//!
//! - [`Invalidator::Local`]: one process (the embedded SQLite default): evicting locally is
//!   all there is to do.
//! - [`Invalidator::Postgres`]: `pg_notify` inside the transaction (so a rolled-back change
//!   announces nothing) and a `LISTEN`ing connection per node. While that connection is down
//!   the cache is off, and it comes back empty: notifications may have been missed (fail
//!   closed, SECURITY X2).
//!
//! Another bus (Redis pub/sub) is another variant here.

use std::sync::Arc;
use std::time::Duration;

use crate::cache::{Invalidation, ReadCache};
use crate::error::Result;

/// The PostgreSQL channel invalidations travel on.
pub const CHANNEL: &str = "protekt_invalidate";

#[derive(Debug, Clone)]
pub enum Invalidator {
    Local,
    Postgres { url: String },
}

impl Invalidator {
    /// Whether the cache may be used before the listener is up (single process only).
    pub fn cache_on_at_start(&self) -> bool {
        matches!(self, Invalidator::Local)
    }

    /// Inside a transaction: announce `what` to the other nodes on commit.
    pub async fn announce(
        &self,
        tx: &mut sqlx::Transaction<'_, sqlx::Any>,
        what: &Invalidation,
    ) -> Result<()> {
        self.announce_all(tx, std::slice::from_ref(what)).await
    }

    /// Inside a transaction: announce all of `what` on commit, in one notification (one line
    /// each; a batch of rotations is a few kilobytes, inside PostgreSQL's 8000-byte payload).
    pub async fn announce_all(
        &self,
        tx: &mut sqlx::Transaction<'_, sqlx::Any>,
        what: &[Invalidation],
    ) -> Result<()> {
        if let Invalidator::Postgres { .. } = self {
            for chunk in what.chunks(64) {
                let lines: Vec<String> = chunk.iter().map(Invalidation::encode).collect();
                sqlx::query("select pg_notify($1, $2)")
                    .bind(CHANNEL)
                    .bind(lines.join("\n"))
                    .execute(&mut **tx)
                    .await?;
            }
        }
        Ok(())
    }

    /// Keeps `cache` in step with other nodes' writes. Runs until the process ends.
    pub fn spawn_listener(&self, cache: Arc<ReadCache>) {
        let Invalidator::Postgres { url } = self else {
            return;
        };
        let url = url.clone();
        tokio::spawn(async move {
            loop {
                match sqlx::postgres::PgListener::connect(&url).await {
                    Ok(mut listener) => {
                        if listener.listen(CHANNEL).await.is_ok() {
                            cache.set_enabled(true);
                            tracing::info!("cache invalidation listener connected");
                            while let Ok(Some(note)) = listener.try_recv().await {
                                for line in note.payload().lines() {
                                    if let Some(what) = Invalidation::decode(line) {
                                        cache.evict(&what);
                                    }
                                }
                            }
                        }
                        // The connection dropped (`None`) or failed: notifications may be lost.
                        cache.set_enabled(false);
                        tracing::warn!(
                            "cache invalidation listener lost; cache off until it reconnects"
                        );
                    }
                    Err(e) => tracing::warn!(error = %e, "cannot connect invalidation listener"),
                }
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        });
    }
}
