//! Storage: the only place SQL lives. One [`Store`] over a `sqlx::AnyPool` serves SQLite and
//! PostgreSQL with the same SQL (portable subset: `$1` binds, `returning`, no dialect functions);
//! only the migrations differ per backend. One module per aggregate. Every function that touches
//! user data takes the project id and filters by it, so another project's rows cannot be reached.

mod keys;
pub mod mfa;
pub mod ops;
mod projects;
pub mod sessions;
pub mod tokens;
pub mod users;

pub use sessions::RefreshRow;

use sqlx::any::{AnyPoolOptions, AnyRow};
use sqlx::{AnyPool, Executor, Row};
use std::sync::Arc;
use std::time::Duration;

use crate::cache::{Invalidation, ReadCache};
use crate::error::Result;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

static SQLITE_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");
static POSTGRES_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

/// The invalidation channel name used with PostgreSQL LISTEN/NOTIFY.
pub const INVALIDATE_CHANNEL: &str = "protekt_invalidate";

#[derive(Clone)]
pub struct Store {
    pool: AnyPool,
    backend: Backend,
    url: String,
    cache: Arc<ReadCache>,
}

impl Store {
    /// Connects to `url` (`sqlite://…` or `postgres://…`). SQLite runs in WAL mode with foreign
    /// keys on and a busy timeout, so concurrent writers queue instead of failing.
    pub async fn connect(url: &str) -> anyhow::Result<Self> {
        sqlx::any::install_default_drivers();
        let backend = if url.starts_with("sqlite:") {
            Backend::Sqlite
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            Backend::Postgres
        } else {
            anyhow::bail!("DATABASE_URL must start with sqlite: or postgres:");
        };
        let options = AnyPoolOptions::new()
            .acquire_timeout(Duration::from_secs(10))
            .max_connections(match backend {
                Backend::Sqlite => 8,
                Backend::Postgres => 16,
            });
        let options = match backend {
            Backend::Sqlite => options.after_connect(|conn, _| {
                Box::pin(async move {
                    conn.execute(
                        "pragma journal_mode = wal; pragma foreign_keys = on; \
                         pragma busy_timeout = 10000; pragma synchronous = normal;",
                    )
                    .await?;
                    Ok(())
                })
            }),
            Backend::Postgres => options,
        };
        let pool = options.connect(url).await?;
        Ok(Self {
            pool,
            backend,
            url: url.to_owned(),
            // Multi-node PostgreSQL starts with the cache off until the listener is up.
            cache: Arc::new(ReadCache::new(100_000, backend == Backend::Sqlite)),
        })
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    pub fn cache(&self) -> &Arc<ReadCache> {
        &self.cache
    }

    /// Applies pending migrations for this backend.
    pub async fn migrate(&self) -> anyhow::Result<()> {
        match self.backend {
            Backend::Sqlite => SQLITE_MIGRATIONS.run(&self.pool).await?,
            Backend::Postgres => POSTGRES_MIGRATIONS.run(&self.pool).await?,
        }
        Ok(())
    }

    /// `select 1`, for readiness checks.
    pub async fn ping(&self) -> Result<()> {
        sqlx::query("select 1").execute(&self.pool).await?;
        Ok(())
    }

    pub async fn close(&self) {
        self.pool.close().await;
    }

    /// Inside a transaction: announce `what` to the other nodes on commit (PostgreSQL only;
    /// NOTIFY is transactional, so a rolled-back change announces nothing).
    async fn announce(
        &self,
        tx: &mut sqlx::Transaction<'_, sqlx::Any>,
        what: &Invalidation,
    ) -> Result<()> {
        if self.backend == Backend::Postgres {
            sqlx::query("select pg_notify($1, $2)")
                .bind(INVALIDATE_CHANNEL)
                .bind(what.encode())
                .execute(&mut **tx)
                .await?;
        }
        Ok(())
    }

    /// Keeps the cache in step with other nodes' writes (PostgreSQL). Runs until the process
    /// ends; while the listener is disconnected the cache stays off.
    pub fn spawn_invalidation_listener(&self) {
        if self.backend != Backend::Postgres {
            return;
        }
        let url = self.url.clone();
        let cache = Arc::clone(&self.cache);
        tokio::spawn(async move {
            loop {
                match sqlx::postgres::PgListener::connect(&url).await {
                    Ok(mut listener) => {
                        if listener.listen(INVALIDATE_CHANNEL).await.is_ok() {
                            cache.set_enabled(true);
                            tracing::info!("cache invalidation listener connected");
                            while let Ok(note) = listener.try_recv().await {
                                match note {
                                    Some(n) => {
                                        if let Some(what) = Invalidation::decode(n.payload()) {
                                            cache.evict(&what);
                                        }
                                    }
                                    // The connection dropped; notifications may be lost.
                                    None => break,
                                }
                            }
                        }
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

    /// Commits `tx`, announcing `what` to the other nodes inside it, then evicts it locally.
    /// Every write that can end a session, revoke a token or change what verification sees
    /// goes through here.
    async fn commit_announcing(
        &self,
        mut tx: sqlx::Transaction<'_, sqlx::Any>,
        what: Invalidation,
    ) -> Result<()> {
        self.announce(&mut tx, &what).await?;
        tx.commit().await?;
        self.evicted(what);
        Ok(())
    }

    /// Evicts locally after a commit.
    fn evicted(&self, what: Invalidation) {
        self.cache.evict(&what);
    }
}

/// Reads a 0/1 flag column.
fn flag(row: &AnyRow, column: &str) -> Result<bool> {
    Ok(row.try_get::<i64, _>(column)? != 0)
}
