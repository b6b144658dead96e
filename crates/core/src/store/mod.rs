//! Storage: the only place SQL lives. One [`Store`] over a `sqlx::AnyPool` serves SQLite and
//! PostgreSQL with the same SQL (portable subset: `$1` binds, `returning`, no dialect functions);
//! only the migrations differ per backend. One module per aggregate, reached through a handle
//! (`store.users()`, `store.sessions()`, `store.mfa()`, `store.codes()` …). Every function that
//! touches user data takes the project id and filters by it, so another project's rows cannot be
//! reached.

/// A fail point between two steps of a transaction (SECURITY X1). Built with the `failpoints`
/// feature, a test can make the step fail there as a crash would; otherwise it is nothing.
macro_rules! step {
    ($name:literal) => {
        fail::fail_point!($name, |_| Err(crate::error::Error::Internal(
            anyhow::anyhow!(concat!("fail point ", $name))
        )))
    };
}

mod invalidation;
pub mod keys;
pub mod mfa;
pub mod oauth;
pub mod ops;
pub mod passwordless;
pub mod projects;
mod rotation;
pub mod sessions;
pub mod tokens;
pub mod universal;
pub mod users;

pub use invalidation::Invalidator;
pub use sessions::{Redeem, RefreshRow};

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

/// The pool options of a backend: `sqlite` or `postgres` connections at most.
fn pool_options(backend: Backend, sqlite: u32, postgres: u32) -> AnyPoolOptions {
    let options = AnyPoolOptions::new()
        .acquire_timeout(Duration::from_secs(10))
        // A ping before every checkout is a round trip (on SQLite a hand-off to the connection's
        // thread) on every query; a broken connection fails its query and is replaced anyway.
        .test_before_acquire(false)
        .max_connections(match backend {
            Backend::Sqlite => sqlite,
            Backend::Postgres => postgres,
        });
    match backend {
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
    }
}

#[derive(Clone)]
pub struct Store {
    /// Reads (and, on PostgreSQL, writes).
    pool: AnyPool,
    /// Every write: on SQLite a pool of one connection, on PostgreSQL the same pool.
    writer: AnyPool,
    backend: Backend,
    invalidator: Invalidator,
    cache: Arc<ReadCache>,
    /// Refresh rotations waiting for their group commit (see [`rotation`]).
    rotations: tokio::sync::mpsc::Sender<rotation::Rotation>,
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
        let pool = pool_options(backend, 8, 16).connect(url).await?;
        // SQLite takes one writer at a time. Writers that race for its lock sleep in its busy
        // handler (milliseconds each, whatever the wait): under load that was the p99 of every
        // write. One connection for every write instead queues them in our process, in order,
        // and readers (WAL) never wait for it. PostgreSQL has row locks: one pool serves both.
        let writer = match backend {
            Backend::Sqlite => pool_options(backend, 1, 1).connect(url).await?,
            Backend::Postgres => pool.clone(),
        };
        let invalidator = match backend {
            Backend::Sqlite => Invalidator::Local,
            Backend::Postgres => Invalidator::Postgres {
                url: url.to_owned(),
            },
        };
        // Multi-node PostgreSQL starts with the cache off until the listener is up.
        let cache = Arc::new(ReadCache::new(100_000, invalidator.cache_on_at_start()));
        let rotations = rotation::spawn(writer.clone(), invalidator.clone(), Arc::clone(&cache));
        Ok(Self {
            pool,
            writer,
            backend,
            cache,
            invalidator,
            rotations,
        })
    }

    // One handle per aggregate; each file of this module holds its queries.
    pub fn users(&self) -> users::Users<'_> {
        users::Users(self)
    }

    pub fn sessions(&self) -> sessions::Sessions<'_> {
        sessions::Sessions(self)
    }

    pub fn mfa(&self) -> mfa::Mfa<'_> {
        mfa::Mfa(self)
    }

    pub fn projects(&self) -> projects::Projects<'_> {
        projects::Projects(self)
    }

    pub fn signing_keys(&self) -> keys::SigningKeys<'_> {
        keys::SigningKeys(self)
    }

    pub fn ops(&self) -> ops::Ops<'_> {
        ops::Ops(self)
    }

    pub fn codes(&self) -> tokens::Codes<'_> {
        tokens::Codes(self)
    }

    pub fn outbox(&self) -> tokens::Outbox<'_> {
        tokens::Outbox(self)
    }

    pub fn passwordless(&self) -> passwordless::Passwordless<'_> {
        passwordless::Passwordless(self)
    }

    pub fn oauth(&self) -> oauth::OAuth<'_> {
        oauth::OAuth(self)
    }

    pub fn universal(&self) -> universal::Universal<'_> {
        universal::Universal(self)
    }

    pub fn management_tokens(&self) -> tokens::ManagementTokens<'_> {
        tokens::ManagementTokens(self)
    }

    /// Embedded SQLite: one process owns the database, so in-process state is shared state.
    pub fn is_single_node(&self) -> bool {
        self.backend == Backend::Sqlite
    }

    pub fn cache(&self) -> &Arc<ReadCache> {
        &self.cache
    }

    /// Applies pending migrations for this backend.
    pub async fn migrate(&self) -> anyhow::Result<()> {
        match self.backend {
            Backend::Sqlite => {
                // A migration that rebuilds a table (0006) drops the old one: with foreign
                // keys on, that would cascade into its children. The pragma cannot change
                // inside the transaction sqlx runs each migration in, so it is off on the
                // connection around the run, and every reference is checked afterwards.
                let mut conn = self.pool.acquire().await?;
                conn.execute("pragma foreign_keys = off").await?;
                let result = SQLITE_MIGRATIONS.run(&mut *conn).await;
                conn.execute("pragma foreign_keys = on").await?;
                result?;
                let broken = sqlx::query("pragma foreign_key_check")
                    .fetch_all(&mut *conn)
                    .await?;
                if !broken.is_empty() {
                    anyhow::bail!(
                        "{} rows refer to rows that do not exist after migrating",
                        broken.len()
                    );
                }
            }
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
        self.writer.close().await;
        self.pool.close().await;
    }

    /// Keeps the cache in step with other nodes' writes (see [`Invalidator`]).
    pub fn spawn_invalidation_listener(&self) {
        self.invalidator.spawn_listener(Arc::clone(&self.cache));
    }

    /// Commits `tx`, announcing `what` to the other nodes inside it, then evicts it locally.
    /// Every write that can end a session, revoke a token or change what verification sees
    /// goes through here.
    async fn commit_announcing(
        &self,
        mut tx: sqlx::Transaction<'_, sqlx::Any>,
        what: Invalidation,
    ) -> Result<()> {
        self.invalidator.announce(&mut tx, &what).await?;
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
