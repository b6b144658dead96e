// Test code may unwrap and panic: a failed step is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

//! The test kit. `TestApp`: the real server on a random port over a fresh database (a temp SQLite file, or a
//! new PostgreSQL database per test), with typed request helpers. PostgreSQL is reached at
//! `TEST_POSTGRES_URL` (default `postgres://postgres@127.0.0.1:5432/postgres`).

use protekt_core::clock::Clock;
use protekt_core::crypto::MasterKey;
use protekt_core::model::{Project, ProjectSettings};
use protekt_core::projects;
use protekt_core::store::Store;
use protekt_server::{App, ServeConfig};
use reqwest::StatusCode;
use serde_json::{json, Value};
use std::sync::Arc;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Db {
    Sqlite,
    Postgres,
}

pub struct TestApp {
    pub base: String,
    pub mailer: std::sync::Arc<protekt_core::delivery::mail::Mailer>,
    pub account: protekt_core::account::AccountService,
    pub http: reqwest::Client,
    pub store: Store,
    pub clock: Arc<Clock>,
    pub master: MasterKey,
    pub project: Project,
    pub api_key: String,
    pub db: Db,
    /// The limiter's Redis URL and key prefix; other nodes count there too.
    pub redis: Option<(String, String)>,
    pg_database: Option<String>,
    data_dir: std::path::PathBuf,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    server: Option<tokio::task::JoinHandle<()>>,
}

pub fn postgres_admin_url() -> String {
    std::env::var("TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned())
}

/// A name no other test uses (databases, folders, key prefixes).
pub fn unique(prefix: &str) -> String {
    protekt_core::ids::new_id(prefix)
}

impl TestApp {
    pub async fn spawn(db: Db) -> Self {
        Self::spawn_with(db, ProjectSettings::default()).await
    }

    pub async fn spawn_with_sms(db: Db, sms: protekt_core::delivery::sms::SmsConfig) -> Self {
        Self::spawn_full(
            db,
            ProjectSettings::default(),
            Some(sms),
            None,
            DEFAULT_HASH_QUEUE,
        )
        .await
    }

    pub async fn spawn_with(db: Db, settings: ProjectSettings) -> Self {
        Self::spawn_full(db, settings, None, None, DEFAULT_HASH_QUEUE).await
    }

    /// A server that users reach at `public_url` (say, behind a TLS-terminating proxy).
    pub async fn spawn_with_public_url(db: Db, public_url: &str) -> Self {
        Self::spawn_full(
            db,
            ProjectSettings::default(),
            None,
            Some(public_url.to_owned()),
            DEFAULT_HASH_QUEUE,
        )
        .await
    }

    /// A server whose password-hashing queue holds only `hash_queue` waiting jobs (SECURITY D1).
    pub async fn spawn_with_hash_queue(db: Db, hash_queue: usize) -> Self {
        Self::spawn_full(db, ProjectSettings::default(), None, None, hash_queue).await
    }

    /// A server whose rate limits live in Redis at `url`, under keys starting with `prefix`.
    pub async fn spawn_with_redis(db: Db, url: &str, prefix: &str) -> Self {
        let redis = Some((url.to_owned(), prefix.to_owned()));
        Self::spawn_redis(
            db,
            ProjectSettings::default(),
            None,
            None,
            DEFAULT_HASH_QUEUE,
            redis,
        )
        .await
    }

    async fn spawn_full(
        db: Db,
        settings: ProjectSettings,
        sms: Option<protekt_core::delivery::sms::SmsConfig>,
        public_url: Option<String>,
        hash_queue: usize,
    ) -> Self {
        Self::spawn_redis(db, settings, sms, public_url, hash_queue, None).await
    }

    async fn spawn_redis(
        db: Db,
        settings: ProjectSettings,
        sms: Option<protekt_core::delivery::sms::SmsConfig>,
        public_url: Option<String>,
        hash_queue: usize,
        redis: Option<(String, String)>,
    ) -> Self {
        let data_dir = std::env::temp_dir().join(unique("protekt_test"));
        std::fs::create_dir_all(&data_dir).expect("temp dir");
        let (url, pg_database) = fresh_database(db, &data_dir).await;
        let store = Store::connect(&url).await.expect("connect");
        store.migrate().await.expect("migrate");
        let clock = Arc::new(Clock::new());
        let master = MasterKey::generate();
        let created = projects::create(&store, &master, "Test Project", settings, clock.now())
            .await
            .expect("create project");
        let started = Started {
            db,
            url,
            pg_database,
            data_dir,
            store,
            master,
            clock,
            project: created.project,
            api_key: created.api_key,
            redis,
        };
        Self::start(started, sms, public_url, hash_queue).await
    }

    /// A server on a database the previous release wrote (SECURITY X3): the fixture's dump for
    /// `db` (schema, rows and that release's migration records) is loaded into a fresh
    /// database, then this build migrates it as `protekt serve` would. The clock is set just
    /// after the fixture was made, so its tokens are as fresh as they were then. `fixture` is
    /// the folder `make-release-fixture.py` wrote; the answer's second part is its secrets.
    pub async fn spawn_on_release_fixture(db: Db, fixture: &std::path::Path) -> (Self, Value) {
        let data_dir = std::env::temp_dir().join(unique("protekt_test"));
        std::fs::create_dir_all(&data_dir).expect("temp dir");
        let (url, pg_database) = fresh_database(db, &data_dir).await;
        let (dump, key) = match db {
            Db::Sqlite => ("sqlite.sql", "sqlite"),
            Db::Postgres => ("postgres.sql", "postgres"),
        };
        let mut sql = std::fs::read_to_string(fixture.join(dump)).expect("fixture dump");
        if db == Db::Sqlite {
            // A dump inserts each table's rows after its own CREATE, before the tables they
            // reference exist; the sqlite3 shell loads dumps with foreign keys off, and so do we.
            sql.insert_str(0, "PRAGMA foreign_keys = OFF;\n");
        }
        sqlx::any::install_default_drivers();
        let mut conn = <sqlx::AnyConnection as sqlx::Connection>::connect(&url)
            .await
            .expect("connect");
        sqlx::raw_sql(&sql)
            .execute(&mut conn)
            .await
            .expect("load the fixture dump");
        sqlx::Connection::close(conn).await.expect("close");
        let manifest: Value = serde_json::from_str(
            &std::fs::read_to_string(fixture.join("fixture.json")).expect("fixture.json"),
        )
        .expect("fixture.json is JSON");
        let secrets = manifest[key].clone();
        let master_text = std::fs::read_to_string(fixture.join("master.key")).expect("master.key");
        let master = MasterKey::parse(&master_text).expect("the fixture's master key");
        let store = Store::connect(&url).await.expect("connect");
        store
            .migrate()
            .await
            .expect("migrate the previous release's database");
        let clock = Arc::new(Clock::new());
        clock.set_now(secrets["madeAtMs"].as_i64().expect("madeAtMs") + 60_000);
        let project_id = secrets["projectId"].as_str().expect("projectId").to_owned();
        let project = store
            .projects()
            .by_id(&project_id.into())
            .await
            .expect("read the project")
            .expect("the fixture's project");
        let started = Started {
            db,
            url,
            pg_database,
            data_dir,
            store,
            master,
            clock,
            project,
            api_key: secrets["apiKey"].as_str().expect("apiKey").to_owned(),
            redis: None,
        };
        // Tokens name the issuer they were made under: the server keeps its public URL.
        let public_url = secrets["publicUrl"].as_str().map(str::to_owned);
        let app = Self::start(started, None, public_url, DEFAULT_HASH_QUEUE).await;
        (app, secrets)
    }

    async fn start(
        s: Started,
        sms: Option<protekt_core::delivery::sms::SmsConfig>,
        public_url: Option<String>,
        hash_queue: usize,
    ) -> Self {
        let Started {
            db,
            url,
            pg_database,
            data_dir,
            store,
            master,
            clock,
            project,
            api_key,
            redis,
        } = s;
        let config = ServeConfig {
            listen: "127.0.0.1:0".into(),
            data_dir: data_dir.clone(),
            database_url: Some(url),
            public_url,
            bootstrap: false,
            email_from: "Protekt Test <no-reply@protekt.test>".into(),
            smtp: None,
            sms,
            hash_queue,
            redis_url: redis.as_ref().map(|(url, _)| url.clone()),
            redis_prefix: redis.as_ref().map_or("protekt:".into(), |(_, p)| p.clone()),
        };
        let app = App::with_store(&config, store.clone(), master.clone(), Arc::clone(&clock))
            .await
            .expect("build app");
        let base = format!("http://{}", app.local_addr());
        let mailer = std::sync::Arc::clone(&app.state().mailer);
        let account = app.state().account.clone();
        let (tx, server) = serve_in_background(app);
        let me = Self {
            base,
            mailer,
            account,
            http: reqwest::Client::new(),
            store,
            clock,
            master,
            project,
            api_key,
            db,
            redis,
            pg_database,
            data_dir,
            shutdown: Some(tx),
            server: Some(server),
        };
        if db == Db::Postgres {
            me.wait_for_cache_listener().await;
        }
        me
    }
}

/// What a test server is started from.
struct Started {
    db: Db,
    url: String,
    pg_database: Option<String>,
    data_dir: std::path::PathBuf,
    store: Store,
    master: MasterKey,
    clock: Arc<Clock>,
    project: Project,
    api_key: String,
    /// The limiter's Redis URL and key prefix, if it counts there.
    redis: Option<(String, String)>,
}

/// A new, empty database for one test: an SQLite file in `data_dir`, or a PostgreSQL database
/// of its own (its name is returned so it can be dropped).
async fn fresh_database(db: Db, data_dir: &std::path::Path) -> (String, Option<String>) {
    match db {
        Db::Sqlite => (
            format!(
                "sqlite://{}?mode=rwc",
                data_dir.join("protekt.db").display()
            ),
            None,
        ),
        Db::Postgres => {
            let name = unique("protekt_test");
            let admin = postgres_admin_url();
            let mut conn = <sqlx::PgConnection as sqlx::Connection>::connect(&admin)
                .await
                .expect("PostgreSQL must run at TEST_POSTGRES_URL or 127.0.0.1:5432");
            sqlx::Executor::execute(&mut conn, format!("create database \"{name}\"").as_str())
                .await
                .expect("create test database");
            let base = admin
                .rsplit_once('/')
                .map(|(b, _)| b.to_owned())
                .unwrap_or(admin);
            (format!("{base}/{name}"), Some(name))
        }
    }
}

impl TestApp {
    /// On PostgreSQL the read cache turns on once the invalidation listener is connected; wait
    /// for it so tests exercise the cached path, as production does.
    async fn wait_for_cache_listener(&self) {
        for _ in 0..250 {
            if self.cache_is_on().await {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        panic!("the PostgreSQL invalidation listener did not connect within 5 s");
    }

    async fn cache_is_on(&self) -> bool {
        // A lookup of the test key fills the cache when it is on.
        let hash = protekt_core::ids::secret_hash(&self.api_key);
        let _ = self.store.projects().by_api_key(&hash).await;
        self.store.cache().api_key(&hash).is_some()
    }

    /// Another node of the same deployment (scale-out on PostgreSQL): its own store, read cache
    /// and invalidation listener over the same database and master key. Stops when dropped.
    pub async fn second_node(&self) -> Node {
        let store = Store::connect(&self.database_url()).await.expect("connect");
        let config = ServeConfig {
            listen: "127.0.0.1:0".into(),
            data_dir: self.data_dir.clone(),
            database_url: Some(self.database_url()),
            // Every node of a deployment shares its public URL (the tokens' issuer).
            public_url: Some(self.base.clone()),
            bootstrap: false,
            email_from: "Protekt Test <no-reply@protekt.test>".into(),
            smtp: None,
            sms: None,
            hash_queue: DEFAULT_HASH_QUEUE,
            redis_url: self.redis.as_ref().map(|(url, _)| url.clone()),
            redis_prefix: self
                .redis
                .as_ref()
                .map_or("protekt:".into(), |(_, p)| p.clone()),
        };
        let app = App::with_store(
            &config,
            store.clone(),
            self.master.clone(),
            Arc::clone(&self.clock),
        )
        .await
        .expect("build second node");
        let base = format!("http://{}", app.local_addr());
        let (tx, server) = serve_in_background(app);
        let hash = protekt_core::ids::secret_hash(&self.api_key);
        for _ in 0..250 {
            let _ = store.projects().by_api_key(&hash).await;
            if store.cache().api_key(&hash).is_some() {
                return Node {
                    base,
                    store,
                    shutdown: Some(tx),
                    server,
                };
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        panic!("the second node's invalidation listener did not connect within 5 s");
    }

    /// Another project on the same server.
    pub async fn other_project(&self) -> (Project, String) {
        let created = projects::create(
            &self.store,
            &self.master,
            "Other Project",
            ProjectSettings::default(),
            self.clock.now(),
        )
        .await
        .expect("create project");
        (created.project, created.api_key)
    }

    pub async fn post_with_key(&self, key: &str, path: &str, body: Value) -> (StatusCode, Value) {
        post_json(&self.http, &format!("{}{path}", self.base), key, body).await
    }

    pub async fn post(&self, path: &str, body: Value) -> (StatusCode, Value) {
        self.post_with_key(&self.api_key, path, body).await
    }

    pub async fn post_bearer(&self, path: &str, token: &str) -> (StatusCode, Value) {
        let resp = self
            .http
            .post(format!("{}{path}", self.base))
            .header("x-api-key", &self.api_key)
            .bearer_auth(token)
            .send()
            .await
            .expect("request");
        let status = resp.status();
        (status, resp.json().await.unwrap_or(Value::Null))
    }

    pub async fn get(&self, path: &str) -> (StatusCode, Value) {
        let resp = self
            .http
            .get(format!("{}{path}", self.base))
            .send()
            .await
            .expect("request");
        let status = resp.status();
        (status, resp.json().await.unwrap_or(Value::Null))
    }

    pub async fn signup(&self, email: &str, password: &str) -> Value {
        let (status, body) = self
            .post(
                "/v1/auth/signup",
                json!({"email": email, "password": password}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "signup failed: {body}");
        body
    }

    /// `POST path` as the backend of an end user at `ip` (`X-Client-Ip`).
    pub async fn post_from(&self, ip: &str, path: &str, body: Value) -> (StatusCode, Value) {
        post_from(
            &self.http,
            &format!("{}{path}", self.base),
            &self.api_key,
            ip,
            body,
        )
        .await
    }

    pub async fn login(&self, email: &str, password: &str) -> (StatusCode, Value) {
        self.post(
            "/v1/auth/login",
            json!({"email": email, "password": password}),
        )
        .await
    }

    pub async fn verify(&self, token: &str) -> (StatusCode, Value) {
        self.post("/v1/auth/verify", json!({"token": token})).await
    }

    pub async fn refresh(&self, refresh_token: &str) -> (StatusCode, Value) {
        self.post("/v1/auth/refresh", json!({"refreshToken": refresh_token}))
            .await
    }

    /// Raw SQL against the test database (for at-rest checks).
    pub async fn dump_table(&self, table: &str) -> String {
        let url = self.database_url();
        sqlx::any::install_default_drivers();
        let mut conn = <sqlx::AnyConnection as sqlx::Connection>::connect(&url)
            .await
            .expect("connect");
        let column_text = match self.db {
            Db::Sqlite => format!("select * from {table}"),
            Db::Postgres => format!("select row_to_json(t)::text as j from {table} t"),
        };
        let rows = sqlx::query(&column_text)
            .fetch_all(&mut conn)
            .await
            .expect("dump");
        let mut out = String::new();
        for row in rows {
            use sqlx::{Column, Row};
            for (i, col) in row.columns().iter().enumerate() {
                let text: Option<String> = row.try_get(i).ok();
                let num: Option<i64> = row.try_get(i).ok();
                out.push_str(&format!("{}={:?}{:?} ", col.name(), text, num));
            }
            out.push('\n');
        }
        out
    }

    /// The number one SQL query answers (`select count(*) …`) on the test database, read beside
    /// the server for invariant checks.
    pub async fn count(&self, sql: &str) -> i64 {
        sqlx::any::install_default_drivers();
        let mut conn = <sqlx::AnyConnection as sqlx::Connection>::connect(&self.database_url())
            .await
            .expect("connect");
        let row = sqlx::query(sql).fetch_one(&mut conn).await.expect(sql);
        sqlx::Row::get::<i64, _>(&row, 0)
    }

    /// Every table of the test database, dumped (for "no secret at rest" checks).
    pub async fn dump_all_tables(&self) -> String {
        let names_sql = match self.db {
            Db::Sqlite => {
                "select name from sqlite_master where type = 'table' and name not like 'sqlite_%'"
            }
            Db::Postgres => {
                "select table_name::text as name from information_schema.tables where table_schema = 'public'"
            }
        };
        let url = self.database_url();
        let mut conn = <sqlx::AnyConnection as sqlx::Connection>::connect(&url)
            .await
            .expect("connect");
        let names: Vec<String> = sqlx::query(names_sql)
            .fetch_all(&mut conn)
            .await
            .expect("table names")
            .iter()
            .map(|r| sqlx::Row::try_get::<String, _>(r, "name").expect("name"))
            .collect();
        assert!(names.len() >= 10, "tables: {names:?}");
        let mut out = String::new();
        // sqlx's own bookkeeping holds no user data (and types the Any driver cannot read).
        for name in names.into_iter().filter(|n| n != "_sqlx_migrations") {
            out.push_str(&format!("## {name}\n{}", self.dump_table(&name).await));
        }
        out
    }

    fn database_url(&self) -> String {
        sqlx::any::install_default_drivers();
        match &self.pg_database {
            Some(name) => {
                let admin = postgres_admin_url();
                let base = admin
                    .rsplit_once('/')
                    .map(|(b, _)| b.to_owned())
                    .unwrap_or(admin);
                format!("{base}/{name}")
            }
            None => format!("sqlite://{}", self.data_dir.join("protekt.db").display()),
        }
    }

    /// Emails in the dev outbox so far, oldest first.
    pub fn outbox(&self) -> Vec<Value> {
        let dir = self.data_dir.join("outbox");
        let mut names: Vec<_> = std::fs::read_dir(&dir)
            .map(|d| {
                d.filter_map(|e| e.ok())
                    .map(|e| e.path())
                    .filter(|p| p.extension().is_some_and(|x| x == "json"))
                    .collect()
            })
            .unwrap_or_default();
        names.sort();
        names
            .iter()
            .map(|p| {
                serde_json::from_slice(&std::fs::read(p).expect("read outbox file"))
                    .expect("outbox file is JSON")
            })
            .collect()
    }

    /// Asks for a password reset for `email` and returns the emailed link's token.
    pub async fn reset_token(&self, email: &str) -> String {
        let before = self.count_emails(email, "password_reset").await;
        let (status, body) = self
            .post("/v1/auth/password-reset", json!({"email": email}))
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let message = self
            .wait_for_email(email, "password_reset", before + 1)
            .await;
        message["token"]
            .as_str()
            .expect("the email carries a token")
            .to_owned()
    }

    /// Waits (up to 10 s) for the `n`-th email of `kind` to `to` in the dev outbox.
    pub async fn wait_for_email(&self, to: &str, kind: &str, n: usize) -> Value {
        for _ in 0..200 {
            self.mailer.wake();
            let found: Vec<Value> = self
                .outbox()
                .into_iter()
                .filter(|m| m["to"] == to && m["kind"] == kind)
                .collect();
            if found.len() >= n {
                return found[n - 1].clone();
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        panic!(
            "no {kind} email #{n} to {to} arrived; outbox: {:?}",
            self.outbox()
        );
    }

    /// Waits for queued work (background sends) to settle, then counts emails of `kind` to `to`.
    pub async fn count_emails(&self, to: &str, kind: &str) -> usize {
        self.settle().await;
        // The mailer's worker may hold a message it is writing out right now: wait until
        // every queued message is delivered (or, after 5 s, count what there is).
        for _ in 0..500 {
            let _ = self.mailer.deliver_due().await;
            if self.store.outbox().unsettled().await.unwrap_or(0) == 0 {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        self.outbox()
            .iter()
            .filter(|m| m["to"] == to && m["kind"] == kind)
            .count()
    }

    /// Waits (up to 10 s) until no emailed-link request is still being handled in the
    /// background, so that what it would send is in the outbox table.
    pub async fn settle(&self) {
        for _ in 0..1000 {
            if self.account.sends_in_flight() == 0 {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        panic!("background sends did not finish within 10 s");
    }

    /// A typed call: `body` as JSON in, the typed answer out, or the status and error body.
    pub async fn call<Req: serde::Serialize, Resp: serde::de::DeserializeOwned>(
        &self,
        method: reqwest::Method,
        path: &str,
        bearer: Option<&str>,
        body: &Req,
    ) -> Result<Resp, (StatusCode, protekt_api_types::ErrorBody)> {
        let mut req = self
            .http
            .request(method, format!("{}{path}", self.base))
            .header("x-api-key", &self.api_key)
            .json(body);
        if let Some(t) = bearer {
            req = req.bearer_auth(t);
        }
        let resp = req.send().await.expect("request");
        let status = resp.status();
        if status.is_success() {
            Ok(resp.json().await.expect("the answer matches its type"))
        } else {
            Err((status, resp.json().await.expect("an error body")))
        }
    }

    pub async fn request(
        &self,
        method: reqwest::Method,
        path: &str,
        bearer: Option<&str>,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut req = self
            .http
            .request(method, format!("{}{path}", self.base))
            .header("x-api-key", &self.api_key);
        if let Some(t) = bearer {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.expect("request");
        let status = resp.status();
        (status, resp.json().await.unwrap_or(Value::Null))
    }

    /// A request with a management token instead of an API key.
    pub async fn manage(
        &self,
        method: reqwest::Method,
        path: &str,
        token: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut req = self
            .http
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(token);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.expect("request");
        let status = resp.status();
        (status, resp.json().await.unwrap_or(Value::Null))
    }

    /// A management token for every project, valid 90 days.
    pub async fn management_token(&self) -> String {
        projects::create_management_token(
            &self.store,
            "test",
            None,
            projects::DEFAULT_MANAGEMENT_TOKEN_TTL_MS,
            self.clock.now(),
        )
        .await
        .expect("management token")
        .1
    }

    pub fn data_dir(&self) -> &std::path::Path {
        &self.data_dir
    }

    /// Stops the server and drops the PostgreSQL database.
    pub async fn finish(mut self) {
        self.stop_and_clean().await;
    }

    async fn stop_and_clean(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(server) = self.server.take() {
            let _ = server.await;
        }
        self.store.close().await;
        if let Some(name) = self.pg_database.take() {
            drop_database(&name).await;
        }
        let _ = std::fs::remove_dir_all(&self.data_dir);
    }
}

async fn drop_database(name: &str) {
    if let Ok(mut conn) =
        <sqlx::PgConnection as sqlx::Connection>::connect(&postgres_admin_url()).await
    {
        let _ = sqlx::Executor::execute(
            &mut conn,
            format!("drop database if exists \"{name}\" with (force)").as_str(),
        )
        .await;
    }
}

/// A test that panicked never reaches `finish`: its PostgreSQL database and data dir are
/// removed here all the same (on a thread of its own, since `drop` cannot await).
/// Serves `app` on its own task until the returned sender is used (or dropped).
fn serve_in_background(
    app: App,
) -> (
    tokio::sync::oneshot::Sender<()>,
    tokio::task::JoinHandle<()>,
) {
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(async move {
        let _ = app
            .run_until(async {
                let _ = rx.await;
            })
            .await;
    });
    (tx, server)
}

/// A second server on a [`TestApp`]'s database (see [`TestApp::second_node`]).
pub struct Node {
    pub base: String,
    pub store: Store,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    server: tokio::task::JoinHandle<()>,
}

impl Node {
    /// `POST path` on this node with the project's API key.
    pub async fn post(&self, app: &TestApp, path: &str, body: Value) -> (StatusCode, Value) {
        let url = format!("{}{path}", self.base);
        post_json(&app.http, &url, &app.api_key, body).await
    }

    /// `POST path` on this node on behalf of an end user at `ip`.
    pub async fn post_from(
        &self,
        app: &TestApp,
        ip: &str,
        path: &str,
        body: Value,
    ) -> (StatusCode, Value) {
        let url = format!("{}{path}", self.base);
        post_from(&app.http, &url, &app.api_key, ip, body).await
    }
}

/// `POST url` with a JSON body and an API key: the status and the JSON answer (or null).
async fn post_json(
    http: &reqwest::Client,
    url: &str,
    key: &str,
    body: Value,
) -> (StatusCode, Value) {
    send_json(http.post(url).header("x-api-key", key), body).await
}

/// `POST url` with an API key on behalf of an end user at `ip` (`X-Client-Ip`).
async fn post_from(
    http: &reqwest::Client,
    url: &str,
    key: &str,
    ip: &str,
    body: Value,
) -> (StatusCode, Value) {
    let request = http
        .post(url)
        .header("x-api-key", key)
        .header("x-client-ip", ip);
    send_json(request, body).await
}

async fn send_json(request: reqwest::RequestBuilder, body: Value) -> (StatusCode, Value) {
    let resp = request.json(&body).send().await.expect("request");
    let status = resp.status();
    (status, resp.json().await.unwrap_or(Value::Null))
}

impl Drop for Node {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        self.server.abort();
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        let name = self.pg_database.take();
        let dir = self.data_dir.clone();
        let cleaned = std::thread::spawn(move || {
            if let Some(name) = name {
                if let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                {
                    rt.block_on(drop_database(&name));
                }
            }
            let _ = std::fs::remove_dir_all(dir);
        });
        let _ = cleaned.join();
    }
}

/// Declares one test per database: `both_dbs!(name, |app| async move { … })` makes
/// `name::sqlite` and `name::postgres`, each with a fresh app that is cleaned up afterwards.
#[macro_export]
macro_rules! both_dbs {
    ($name:ident, |$app:ident| $body:expr) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                let $app = $crate::TestApp::spawn($crate::Db::Sqlite).await;
                let app = $body.await;
                app.finish().await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                let $app = $crate::TestApp::spawn($crate::Db::Postgres).await;
                let app = $body.await;
                app.finish().await;
            }
        }
    };
}

/// [`both_dbs!`] on an app whose project has `settings`:
/// `both_dbs_with!(name, settings, |app| async move { … })`.
#[macro_export]
macro_rules! both_dbs_with {
    ($name:ident, $settings:expr, |$app:ident| $body:expr) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                let $app = $crate::TestApp::spawn_with($crate::Db::Sqlite, $settings).await;
                let app = $body.await;
                app.finish().await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                let $app = $crate::TestApp::spawn_with($crate::Db::Postgres, $settings).await;
                let app = $body.await;
                app.finish().await;
            }
        }
    };
}

/// The claims part of a JWT, decoded without verification (tests only).
pub fn jwt_claims(token: &str) -> Value {
    use base64::Engine;
    let part = token.split('.').nth(1).unwrap_or_default();
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(part)
        .unwrap_or_default();
    serde_json::from_slice(&bytes).unwrap_or(Value::Null)
}

pub fn jwt_header(token: &str) -> Value {
    use base64::Engine;
    let part = token.split('.').next().unwrap_or_default();
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(part)
        .unwrap_or_default();
    serde_json::from_slice(&bytes).unwrap_or(Value::Null)
}

/// A response's headers, sorted, without `date` (for comparing two answers).
pub fn headers_without_date(r: &reqwest::Response) -> Vec<String> {
    let mut h: Vec<_> = r
        .headers()
        .iter()
        .filter(|(k, _)| *k != "date")
        .map(|(k, v)| format!("{k}: {v:?}"))
        .collect();
    h.sort();
    h
}

/// The hashing queue of `protekt serve` by default.
pub const DEFAULT_HASH_QUEUE: usize = 1024;

pub const PASSWORD: &str = "correct-horse-battery-staple";
