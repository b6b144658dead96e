//! Builds the application: storage, keys, services, router. The same path serves production
//! (`protekt serve`) and the integration tests, which build an [`App`] on port 0.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use protekt_core::account::AccountService;
use protekt_core::auth::AuthService;
use protekt_core::clock::Clock;
use protekt_core::crypto::MasterKey;
use protekt_core::delivery::mail::{MailConfig, Mailer};
use protekt_core::delivery::sms::{SmsConfig, SmsSender};
use protekt_core::limits::{self, Limiter};
use protekt_core::mfa::MfaService;
use protekt_core::model::{ProjectSettings, SmtpSettings};
use protekt_core::oauth::{ClientService, Provider};
use protekt_core::operator::Operator;
use protekt_core::password::{HashParams, Hasher};
use protekt_core::projects::{self, CreatedProject};
use protekt_core::signin::SignInService;
use protekt_core::store::Store;
use protekt_core::tokens::TokenService;
use protekt_core::universal::UniversalLogin;
use tokio::net::TcpListener;

/// Everything `serve` needs.
#[derive(Debug, Clone)]
pub struct ServeConfig {
    pub listen: String,
    pub data_dir: PathBuf,
    pub database_url: Option<String>,
    pub public_url: Option<String>,
    /// Create and print a development project when the database has none.
    pub bootstrap: bool,
    /// Default sender of emails.
    pub email_from: String,
    /// The server's SMTP relay; none means the dev outbox in `<data-dir>/outbox`.
    pub smtp: Option<SmtpSettings>,
    /// How SMS leave; none means the dev outbox.
    pub sms: Option<SmsConfig>,
    /// Password hashes that may wait for a hashing thread; beyond it, `server_busy` (503).
    pub hash_queue: usize,
    /// Redis for the rate limiter; `None`: in the process (SQLite) or the database.
    pub redis_url: Option<String>,
    pub redis_prefix: String,
}

/// Shared by every handler.
#[derive(Clone)]
pub struct AppState {
    pub store: Store,
    pub auth: AuthService,
    pub account: AccountService,
    pub mailer: Arc<Mailer>,
    pub mfa: MfaService,
    pub signin: SignInService,
    pub universal: UniversalLogin,
    pub provider: Provider,
    pub operator: Operator,
    pub master: MasterKey,
    pub clock: Arc<Clock>,
    /// The base URL users reach this server at (HSTS is sent when it is https).
    pub public_url: Arc<str>,
}

/// The database URL: the flag or `DATABASE_URL`, else an SQLite file in the data dir.
pub fn database_url(data_dir: &Path, configured: Option<&str>) -> anyhow::Result<String> {
    match configured {
        Some(url) if !url.is_empty() => Ok(url.to_owned()),
        _ => {
            std::fs::create_dir_all(data_dir)?;
            Ok(format!(
                "sqlite://{}?mode=rwc",
                data_dir.join("protekt.db").display()
            ))
        }
    }
}

/// The master key: `PROTEKT_MASTER_KEY`, else `<data-dir>/master.key` (created on first start).
pub fn master_key(data_dir: &Path) -> anyhow::Result<MasterKey> {
    match std::env::var("PROTEKT_MASTER_KEY") {
        Ok(text) if !text.is_empty() => Ok(MasterKey::parse(&text)?),
        _ => Ok(MasterKey::load_or_create(data_dir)?),
    }
}

/// Opens the store for CLI commands and `serve`, applying migrations.
pub async fn open_store(data_dir: &Path, configured_url: Option<&str>) -> anyhow::Result<Store> {
    let url = database_url(data_dir, configured_url)?;
    let store = Store::connect(&url).await?;
    store.migrate().await?;
    Ok(store)
}

pub struct App {
    listener: TcpListener,
    state: AppState,
    /// Turned true when serving ends: background workers finish what they do and stop.
    stop: tokio::sync::watch::Sender<bool>,
    workers: Vec<tokio::task::JoinHandle<()>>,
    /// The development project made on first start, if this start made one.
    pub bootstrapped: Option<CreatedProject>,
    /// The first management token, made on first start.
    pub bootstrapped_management_token: Option<String>,
    pub public_url: String,
}

impl App {
    pub async fn build(config: &ServeConfig) -> anyhow::Result<Self> {
        let store = open_store(&config.data_dir, config.database_url.as_deref()).await?;
        let master = master_key(&config.data_dir)?;
        Self::with_store(config, store, master, Arc::new(Clock::new())).await
    }

    /// Builds on an open store (tests bring their own database and clock).
    pub async fn with_store(
        config: &ServeConfig,
        store: Store,
        master: MasterKey,
        clock: Arc<Clock>,
    ) -> anyhow::Result<Self> {
        let listener = TcpListener::bind(&config.listen).await?;
        let addr = listener.local_addr()?;
        let public_url = config
            .public_url
            .clone()
            .unwrap_or_else(|| format!("http://{addr}"))
            .trim_end_matches('/')
            .to_owned();
        store.spawn_invalidation_listener();
        let state = wire(config, store, master, clock, &public_url)?;
        let (stop, stopping) = tokio::sync::watch::channel(false);
        let workers = vec![
            state.mailer.spawn_worker(stopping.clone()),
            spawn_cleanup(state.store.clone(), Arc::clone(&state.clock), stopping),
        ];
        let (bootstrapped, bootstrapped_management_token) = if config.bootstrap {
            bootstrap(&state).await?
        } else {
            (None, None)
        };
        Ok(Self {
            listener,
            state,
            stop,
            workers,
            bootstrapped,
            bootstrapped_management_token,
            public_url,
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.listener
            .local_addr()
            .unwrap_or_else(|_| SocketAddr::from(([127, 0, 0, 1], 0)))
    }

    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Serves until `shutdown` resolves; in-flight requests then finish before this returns.
    pub async fn run_until(
        self,
        shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let router = crate::http::router(self.state.clone());
        axum::serve(
            self.listener,
            router.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .with_graceful_shutdown(shutdown)
        .await?;
        // Background work stops before the database closes: a worker polling a closed pool
        // would end a clean stop with an alarming error.
        let _ = self.stop.send(true);
        for worker in self.workers {
            let _ = worker.await;
        }
        for _ in 0..500 {
            if self.state.account.sends_in_flight() == 0 {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        self.state.store.close().await;
        tracing::info!("stopped");
        Ok(())
    }
}

/// Builds the services every handler shares, each given what it needs.
fn wire(
    config: &ServeConfig,
    store: Store,
    master: MasterKey,
    clock: Arc<Clock>,
    public_url: &str,
) -> anyhow::Result<AppState> {
    let threads = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(2);
    let hasher = Hasher::start(HashParams::default(), threads, config.hash_queue)?;
    let tokens = Arc::new(TokenService::new(store.clone(), master.clone(), public_url));
    let backend =
        limits::Backend::choose(&store, config.redis_url.as_deref(), &config.redis_prefix)?;
    tracing::info!(backend = backend.name(), "rate limits counted");
    let limiter = Limiter::new(store.clone(), backend, &master, Arc::clone(&clock));
    let auth = AuthService::new(store.clone(), tokens, limiter.clone(), Arc::clone(&clock));
    let mail = MailConfig {
        from: config.email_from.clone(),
        smtp: config.smtp.clone(),
        outbox_dir: config.data_dir.join("outbox"),
    };
    let mailer = Mailer::new(store.clone(), master.clone(), mail, Arc::clone(&clock));
    let account = AccountService::new(
        store.clone(),
        hasher.clone(),
        auth.clone(),
        Arc::clone(&mailer),
        limiter.clone(),
        Arc::clone(&clock),
        public_url,
    );
    let sms_config = config.sms.clone().unwrap_or(SmsConfig::Outbox {
        dir: config.data_dir.join("outbox"),
    });
    let sms = SmsSender::new(sms_config, Arc::clone(&clock))?;
    let mfa = MfaService::new(
        store.clone(),
        auth.clone(),
        master.clone(),
        Arc::clone(&sms),
        Arc::clone(&mailer),
        limiter.clone(),
        Arc::clone(&clock),
    );
    let signin = SignInService::new(
        store.clone(),
        hasher,
        auth.clone(),
        mfa.clone(),
        account.clone(),
        limiter.clone(),
        sms,
        &master,
        Arc::clone(&clock),
    );
    let universal = UniversalLogin::new(
        store.clone(),
        auth.clone(),
        signin.clone(),
        mfa.clone(),
        master.clone(),
        Arc::clone(&clock),
    );
    let provider = Provider::new(
        store.clone(),
        auth.clone(),
        universal.clone(),
        ClientService::new(store.clone(), Arc::clone(&clock)),
        &master,
        Arc::clone(&clock),
    );
    let operator = Operator::new(store.clone(), master.clone(), Arc::clone(&clock));
    Ok(AppState {
        store,
        auth,
        account,
        mailer,
        mfa,
        signin,
        universal,
        provider,
        operator,
        master,
        clock,
        public_url: Arc::from(public_url),
    })
}

/// On a database with no project: a development project; with no management token: one that
/// lives a day (SECURITY P7). Both are printed once by `serve`.
async fn bootstrap(state: &AppState) -> anyhow::Result<(Option<CreatedProject>, Option<String>)> {
    let (store, now) = (&state.store, state.clock.now());
    let project = if store.projects().list().await?.is_empty() {
        let settings = ProjectSettings::default();
        Some(projects::create(store, &state.master, "Development", settings, now).await?)
    } else {
        None
    };
    let token = if store.management_tokens().count().await? == 0 {
        let ttl = projects::BOOTSTRAP_TOKEN_TTL_MS;
        let made = projects::create_management_token(store, "first start", None, ttl, now);
        Some(made.await?.1)
    } else {
        None
    };
    Ok((project, token))
}

/// How often expired sessions, tokens and codes are deleted.
const CLEANUP_EVERY: std::time::Duration = std::time::Duration::from_secs(600);

/// Runs the cleanup job (SECURITY D4) on whichever node holds its lease, until `stop`.
fn spawn_cleanup(
    store: Store,
    clock: Arc<Clock>,
    mut stop: tokio::sync::watch::Receiver<bool>,
) -> tokio::task::JoinHandle<()> {
    let holder = protekt_core::ids::new_id("node");
    tokio::spawn(async move {
        loop {
            tokio::select! {
                _ = tokio::time::sleep(CLEANUP_EVERY) => {}
                _ = stop.changed() => return,
            }
            let now = clock.now();
            let lease_until = now + CLEANUP_EVERY.as_millis() as i64;
            match store
                .ops()
                .take_lease("cleanup", &holder, lease_until, now)
                .await
            {
                Ok(true) => match store.ops().cleanup(now).await {
                    Ok(done) => tracing::info!(?done, "cleanup finished"),
                    Err(e) => tracing::warn!(error = ?e, "cleanup failed"),
                },
                Ok(false) => {}
                Err(e) => tracing::warn!(error = ?e, "cannot take the cleanup lease"),
            }
        }
    })
}

/// Installs the SIGINT/SIGTERM handlers now (so a signal that arrives while the server is still
/// starting is not fatal) and returns a future that resolves on the first of them.
pub fn shutdown_signal() -> anyhow::Result<impl std::future::Future<Output = ()> + Send + 'static> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let mut terminate = signal(SignalKind::terminate())?;
        let mut interrupt = signal(SignalKind::interrupt())?;
        Ok(async move {
            tokio::select! {
                _ = terminate.recv() => {},
                _ = interrupt.recv() => {},
            }
            tracing::info!("shutting down: finishing in-flight requests");
        })
    }
    #[cfg(not(unix))]
    {
        Ok(async move {
            let _ = tokio::signal::ctrl_c().await;
            tracing::info!("shutting down: finishing in-flight requests");
        })
    }
}
