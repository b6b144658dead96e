//! The `protekt` binary itself: CLI commands on both databases, first start, graceful shutdown,
//! the master-key check, and the README walk-through run as written.

use protekt_testkit::*;
use serde_json::Value;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

const BIN: &str = env!("CARGO_BIN_EXE_protekt");

fn temp_dir() -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(protekt_core::ids::new_id("protekt_cli"));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A fresh PostgreSQL database URL (and its name, to drop).
async fn postgres_database() -> (String, String) {
    let name = protekt_core::ids::new_id("protekt_test");
    let admin = postgres_admin_url();
    let mut conn = <sqlx::PgConnection as sqlx::Connection>::connect(&admin)
        .await
        .unwrap();
    sqlx::Executor::execute(&mut conn, format!("create database \"{name}\"").as_str())
        .await
        .unwrap();
    let base = admin.rsplit_once('/').map(|(b, _)| b.to_owned()).unwrap();
    (format!("{base}/{name}"), name)
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

fn protekt(dir: &std::path::Path, db: Option<&str>, args: &[&str]) -> std::process::Output {
    let mut cmd = Command::new(BIN);
    cmd.arg("--data-dir")
        .arg(dir)
        .args(args)
        .env_remove("DATABASE_URL")
        .env_remove("PROTEKT_MASTER_KEY");
    if let Some(url) = db {
        cmd.env("DATABASE_URL", url);
    }
    cmd.output().unwrap()
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

struct Server {
    child: Child,
    url: String,
}

impl Server {
    fn start(dir: &std::path::Path, db: Option<&str>) -> Self {
        let port = free_port();
        let mut cmd = Command::new(BIN);
        cmd.arg("--data-dir")
            .arg(dir)
            .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
            .env_remove("DATABASE_URL")
            .env_remove("PROTEKT_MASTER_KEY")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .env("PROTEKT_LOG", "info")
            .env("NO_COLOR", "1");
        if let Some(url) = db {
            cmd.env("DATABASE_URL", url);
        }
        let child = cmd.spawn().unwrap();
        let url = format!("http://127.0.0.1:{port}");
        for _ in 0..200 {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Server { child, url }
    }

    fn terminate(self) -> (std::process::ExitStatus, String) {
        let (status, stdout, _) = self.terminate_with_log();
        (status, stdout)
    }

    /// Stops the server with SIGTERM: its exit status, standard output and log.
    fn terminate_with_log(self) -> (std::process::ExitStatus, String, String) {
        unsafe_kill(self.child.id());
        let output = self.child.wait_with_output().unwrap();
        (
            output.status,
            String::from_utf8_lossy(&output.stdout).into_owned(),
            String::from_utf8_lossy(&output.stderr).into_owned(),
        )
    }
}

fn unsafe_kill(pid: u32) {
    let _ = Command::new("kill")
        .arg("-TERM")
        .arg(pid.to_string())
        .status();
}

async fn cli_round_trip(db: Option<&str>) {
    let dir = temp_dir();
    let out = protekt(&dir, db, &["migrate"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = protekt(&dir, db, &["project", "create", "--name", "Acme", "--json"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let created: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(created["id"].as_str().unwrap().starts_with("prj_"));
    assert!(created["loginId"].as_str().unwrap().starts_with("lp_"));
    assert!(created["apiKey"].as_str().unwrap().starts_with("pk_live_"));
    let out = protekt(&dir, db, &["project", "list", "--json"]);
    let list: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(list
        .as_array()
        .unwrap()
        .iter()
        .any(|p| p["loginId"] == created["loginId"]));
    assert!(
        !String::from_utf8_lossy(&out.stdout).contains("pk_live_"),
        "keys are shown only once"
    );
    let out = protekt(
        &dir,
        db,
        &[
            "keys",
            "rotate",
            "--project",
            created["loginId"].as_str().unwrap(),
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = protekt(&dir, db, &["keys", "rotate", "--project", "lp_nope"]);
    assert!(!out.status.success());

    // Management tokens (SECURITY P7, AS7): one limited to the new project, listed without
    // its secret, revoked at once.
    let out = protekt(
        &dir,
        db,
        &[
            "token",
            "create",
            "--name",
            "acme-ci",
            "--project",
            created["loginId"].as_str().unwrap(),
            "--expires-in-days",
            "7",
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let scoped = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    assert!(scoped.starts_with("mt_"), "{scoped}");
    let out = protekt(&dir, db, &["token", "list"]);
    let listed = String::from_utf8_lossy(&out.stdout).into_owned();
    let line = listed
        .lines()
        .find(|l| l.contains("acme-ci"))
        .expect(&listed);
    assert!(line.contains(created["id"].as_str().unwrap()), "{line}");
    assert!(line.contains("live") && !listed.contains("mt_"), "{listed}");
    let token_id = line.split_whitespace().next().unwrap().to_owned();
    assert!(
        !protekt(&dir, db, &["token", "create", "--expires-in-days", "0"])
            .status
            .success()
    );

    // The server uses what the CLI made; the rotated key set is published.
    let server = Server::start(&dir, db);
    let projects = |token: String| {
        let url = format!("{}/v1/projects", server.url);
        async move {
            reqwest::Client::new()
                .get(url)
                .bearer_auth(token)
                .send()
                .await
                .unwrap()
        }
    };
    let seen: Value = projects(scoped.clone()).await.json().await.unwrap();
    assert_eq!(seen["projects"].as_array().unwrap().len(), 1, "{seen}");
    assert!(protekt(&dir, db, &["token", "revoke", &token_id])
        .status
        .success());
    assert_eq!(projects(scoped).await.status(), 401);
    let jwks: Value = reqwest::get(format!(
        "{}/p/{}/.well-known/jwks.json",
        server.url,
        created["loginId"].as_str().unwrap()
    ))
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    assert_eq!(jwks["keys"].as_array().unwrap().len(), 2);
    let signup = reqwest::Client::new()
        .post(format!("{}/v1/auth/signup", server.url))
        .header("x-api-key", created["apiKey"].as_str().unwrap())
        .json(&serde_json::json!({"email": "cli@example.com", "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(signup.status(), 201);
    // Mail in the outbox while the server stops: its worker must stop before the database.
    let reset = reqwest::Client::new()
        .post(format!("{}/v1/auth/password-reset", server.url))
        .header("x-api-key", created["apiKey"].as_str().unwrap())
        .json(&serde_json::json!({"email": "cli@example.com"}))
        .send()
        .await
        .unwrap();
    assert!(reset.status().is_success(), "{}", reset.status());
    let (status, _, log) = server.terminate_with_log();
    assert!(status.success(), "SIGTERM shuts down cleanly: {status:?}");
    assert!(log.contains("stopped"), "the stop is logged: {log}");
    for alarming in ["WARN", "ERROR", "backtrace", "panicked"] {
        assert!(
            !log.contains(alarming),
            "a clean stop logs no {alarming}: {log}"
        );
    }
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn cli_commands_work_on_sqlite() {
    cli_round_trip(None).await;
}

#[tokio::test]
async fn cli_commands_work_on_postgres() {
    let (url, name) = postgres_database().await;
    cli_round_trip(Some(&url)).await;
    drop_database(&name).await;
}

#[tokio::test]
async fn first_start_prints_a_dev_project_once_and_later_starts_reuse_it() {
    let dir = temp_dir();
    let (status, first) = Server::start(&dir, None).terminate();
    assert!(status.success());
    assert!(first.contains("Login ID:  lp_"), "{first}");
    assert!(first.contains("API key:   pk_live_"), "{first}");
    assert!(dir.join("master.key").exists());
    assert!(dir.join("protekt.db").exists());
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir.join("master.key"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(
            mode & 0o077,
            0,
            "the master key is readable by its owner only"
        );
    }
    // P7: the management token printed at first start lives for a day only.
    assert!(first.contains("valid 24 hours"), "{first}");
    let db = format!("sqlite://{}", dir.join("protekt.db").display());
    sqlx::any::install_default_drivers();
    let mut conn = <sqlx::AnyConnection as sqlx::Connection>::connect(&db)
        .await
        .unwrap();
    let row = sqlx::query("select expires_at - created_at as ttl from management_token")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert_eq!(
        sqlx::Row::try_get::<i64, _>(&row, "ttl").unwrap(),
        24 * 3600 * 1000
    );
    drop(conn);
    let (status, second) = Server::start(&dir, None).terminate();
    assert!(status.success());
    assert!(
        !second.contains("pk_live_"),
        "the key is never printed again: {second}"
    );
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn a_weak_master_key_stops_the_server_t6() {
    let dir = temp_dir();
    let out = Command::new(BIN)
        .arg("--data-dir")
        .arg(&dir)
        .args(["serve", "--listen", "127.0.0.1:0"])
        .env("PROTEKT_MASTER_KEY", "changeme")
        .env_remove("DATABASE_URL")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("PROTEKT_MASTER_KEY"));
    let _ = std::fs::remove_dir_all(dir);
}

/// The README's curl walk-through, extracted from README.md and run by bash as written.
#[tokio::test]
async fn the_readme_walk_through_runs_as_written() {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../README.md")).unwrap();
    let start = readme
        .find("<!-- walkthrough:start -->")
        .expect("walk-through start marker");
    let end = readme
        .find("<!-- walkthrough:end -->")
        .expect("walk-through end marker");
    let section = &readme[start..end];
    let script: String = section
        .split("```sh")
        .skip(1)
        .filter_map(|block| block.split("```").next())
        .collect::<Vec<_>>()
        .join("\n");
    assert!(script.contains("/v1/auth/signup"));

    let dir = temp_dir();
    let out = protekt(
        &dir,
        None,
        &["project", "create", "--name", "Walkthrough", "--json"],
    );
    let created: Value = serde_json::from_slice(&out.stdout).unwrap();
    let server = Server::start(&dir, None);
    let run = Command::new("bash")
        .arg("-c")
        .arg(format!("set -euo pipefail\n{script}"))
        .current_dir(&dir)
        .env("PROTEKT_URL", &server.url)
        .env("PROTEKT_LOGIN_ID", created["loginId"].as_str().unwrap())
        .env("PROTEKT_API_KEY", created["apiKey"].as_str().unwrap())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&run.stdout).into_owned();
    server.terminate();
    assert!(
        run.status.success(),
        "walk-through failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&run.stderr)
    );
    for expected in [
        "\"accessToken\"",
        "\"claims\"",
        "\"keys\"",
        "{\"ok\":true}",
        "invalid_token",
    ] {
        assert!(
            stdout.contains(expected),
            "walk-through output lacks {expected}:\n{stdout}"
        );
    }
    let _ = std::fs::remove_dir_all(dir);
}

/// K3: secrets never reach the logs. The real binary runs with debug logging while a user signs
/// up, logs in, refreshes, asks for a reset and enrols TOTP; none of the secrets it handled may
/// appear in what it logged.
#[tokio::test]
async fn secrets_never_reach_the_logs_k3() {
    let dir = temp_dir();
    let out = protekt(
        &dir,
        None,
        &["project", "create", "--name", "Logs", "--json"],
    );
    let created: Value = serde_json::from_slice(&out.stdout).unwrap();
    let key = created["apiKey"].as_str().unwrap().to_owned();
    let port = free_port();
    let log_path = dir.join("server.log");
    let log = std::fs::File::create(&log_path).unwrap();
    let mut child = Command::new(BIN)
        .arg("--data-dir")
        .arg(&dir)
        .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
        .env_remove("DATABASE_URL")
        .env_remove("PROTEKT_MASTER_KEY")
        .env("PROTEKT_LOG", "debug")
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .unwrap();
    for _ in 0..200 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let base = format!("http://127.0.0.1:{port}");
    let http = reqwest::Client::new();
    let post = |path: &str, body: Value, bearer: Option<String>| {
        let mut req = http
            .post(format!("{base}{path}"))
            .header("x-api-key", &key)
            .json(&body);
        if let Some(b) = bearer {
            req = req.bearer_auth(b);
        }
        req.send()
    };
    let signup: Value = post(
        "/v1/auth/signup",
        serde_json::json!({"email": "logs@example.com", "password": PASSWORD}),
        None,
    )
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    let access = signup["accessToken"].as_str().unwrap().to_owned();
    let refresh = signup["refreshToken"].as_str().unwrap().to_owned();
    let rotated: Value = post(
        "/v1/auth/refresh",
        serde_json::json!({"refreshToken": refresh}),
        None,
    )
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    post(
        "/v1/auth/login",
        serde_json::json!({"email": "logs@example.com", "password": "wrong-password-logged?"}),
        None,
    )
    .await
    .unwrap();
    post(
        "/v1/auth/password-reset",
        serde_json::json!({"email": "logs@example.com"}),
        None,
    )
    .await
    .unwrap();
    let enrol: Value = post(
        "/v1/mfa/enroll",
        serde_json::json!({"method": "totp"}),
        Some(access.clone()),
    )
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    let uri = enrol["totpUri"].as_str().unwrap().to_owned();
    let totp_secret = url::Url::parse(&uri)
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == "secret")
        .unwrap()
        .1
        .into_owned();
    // Give the mail worker time to deliver (and log) the reset email.
    let mut reset_token = None;
    for _ in 0..100 {
        let files: Vec<_> = std::fs::read_dir(dir.join("outbox"))
            .map(|d| d.filter_map(|e| e.ok()).map(|e| e.path()).collect())
            .unwrap_or_default();
        if let Some(f) = files
            .iter()
            .find(|p| p.extension().is_some_and(|x| x == "json"))
        {
            let mail: Value = serde_json::from_slice(&std::fs::read(f).unwrap()).unwrap();
            reset_token = mail["token"].as_str().map(str::to_owned);
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    unsafe_kill(child.id());
    let _ = child.wait();
    let logs = std::fs::read_to_string(&log_path).unwrap();
    assert!(
        logs.contains("/v1/auth/signup"),
        "the server logged requests: {logs}"
    );
    let mut secrets = vec![
        PASSWORD.to_owned(),
        "wrong-password-logged?".to_owned(),
        key.clone(),
        access,
        refresh,
        rotated["refreshToken"].as_str().unwrap().to_owned(),
        totp_secret,
    ];
    secrets.push(reset_token.expect("the reset email reached the outbox"));
    let master = std::fs::read_to_string(dir.join("master.key")).unwrap();
    secrets.push(master.trim().to_owned());
    for secret in &secrets {
        assert!(
            !logs.contains(secret.as_str()),
            "a secret reached the logs: {}…",
            &secret[..secret.len().min(8)]
        );
    }
    let _ = std::fs::remove_dir_all(dir);
}
