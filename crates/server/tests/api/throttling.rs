//! Login throttling and the limiter's backends (SECURITY L1-L4, L6): in the process on
//! SQLite, in the database for PostgreSQL nodes without Redis, in the real Redis otherwise.

use protekt_testkit::both_dbs;
use protekt_testkit::*;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use std::time::Duration;

const WRONG: &str = "not-the-password-1";

fn login_body(email: &str, password: &str) -> Value {
    json!({"email": email, "password": password})
}

fn is_rate_limited(status: StatusCode, body: &Value) -> bool {
    status == StatusCode::TOO_MANY_REQUESTS
        && body["error"]["code"] == "rate_limited"
        && body["error"]["retryAfter"].as_u64().is_some_and(|s| s > 0)
}

/// A password sign-in on behalf of an end user at `ip`.
async fn login_from(app: &TestApp, ip: &str, email: &str, password: &str) -> (StatusCode, Value) {
    app.post_from(ip, "/v1/auth/login", login_body(email, password))
        .await
}

/// A Redis key prefix no other test uses.
fn redis_prefix() -> String {
    format!("{}:", unique("protekt_test_limits"))
}

both_dbs!(
    the_eleventh_password_is_refused_even_when_right_then_the_lock_lifts_l1,
    |app| async move {
        app.signup("l1@example.com", PASSWORD).await;
        for i in 0..10 {
            let (status, body) = app.login("l1@example.com", WRONG).await;
            assert_eq!(status, StatusCode::UNAUTHORIZED, "attempt {i}: {body}");
        }
        let (status, body) = app.login("l1@example.com", PASSWORD).await;
        assert!(is_rate_limited(status, &body), "{status} {body}");
        assert_eq!(
            body["error"]["retryAfter"], 90,
            "one attempt back every 90 s"
        );
        // A soft lock: one interval later one attempt is let through, and a success clears it.
        app.clock.advance(Duration::from_secs(90));
        let (status, body) = app.login("l1@example.com", PASSWORD).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        for _ in 0..9 {
            let (status, _) = app.login("l1@example.com", WRONG).await;
            assert_eq!(
                status,
                StatusCode::UNAUTHORIZED,
                "the success reset the count"
            );
        }
        assert_eq!(
            app.count("select count(*) from audit_event where kind = 'rate_limit.reached'")
                .await,
            2,
            "each lockout audited once: the tenth failure, and the attempt let through at 90 s \
             that filled the bucket again"
        );
        app
    }
);

both_dbs!(
    unknown_and_known_accounts_get_the_same_429_l4,
    |app| async move {
        app.signup("known@example.com", PASSWORD).await;
        let mut last = Vec::new();
        for email in ["known@example.com", "nobody@example.com"] {
            for _ in 0..10 {
                app.login(email, WRONG).await;
            }
            last.push(app.login(email, WRONG).await);
        }
        assert!(is_rate_limited(last[0].0, &last[0].1), "{:?}", last[0]);
        // The same answer; only the wait may differ by the second the clock moved in between.
        let wait = |answer: &(StatusCode, Value)| answer.1["error"]["retryAfter"].as_i64().unwrap();
        assert!((wait(&last[0]) - wait(&last[1])).abs() <= 1, "{last:?}");
        let without_wait = |answer: &(StatusCode, Value)| {
            let mut body = answer.1.clone();
            body["error"]["retryAfter"] = Value::Null;
            (answer.0, body)
        };
        assert_eq!(
            without_wait(&last[0]),
            without_wait(&last[1]),
            "the limiter tells nobody who exists"
        );
        app
    }
);

both_dbs!(
    fifty_concurrent_wrong_guesses_never_pass_the_limit_l3,
    |app| async move {
        app.signup("l3@example.com", PASSWORD).await;
        let guesses = (0..50).map(|_| app.login("l3@example.com", WRONG));
        let results = futures::future::join_all(guesses).await;
        let checked = results
            .iter()
            .filter(|(s, _)| *s == StatusCode::UNAUTHORIZED)
            .count();
        let refused = results
            .iter()
            .filter(|(s, b)| is_rate_limited(*s, b))
            .count();
        assert_eq!((checked, refused), (10, 40), "{results:?}");
        app
    }
);

both_dbs!(
    a_stranger_exhausts_their_own_address_first_and_others_still_sign_in_l1,
    |app| async move {
        app.signup("victim@example.com", PASSWORD).await;
        app.signup("neighbour@example.com", PASSWORD).await;
        let stranger = "203.0.113.9";
        for _ in 0..5 {
            let (status, _) = login_from(&app, stranger, "victim@example.com", WRONG).await;
            assert_eq!(status, StatusCode::UNAUTHORIZED);
        }
        let (status, body) = login_from(&app, stranger, "victim@example.com", PASSWORD).await;
        assert!(is_rate_limited(status, &body), "the pair is locked: {body}");
        // The victim, elsewhere, is not locked out.
        let (status, body) = login_from(&app, "198.51.100.1", "victim@example.com", PASSWORD).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        // Another account from the stranger's address still signs in (until the address limit).
        let (status, body) = login_from(&app, stranger, "neighbour@example.com", PASSWORD).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        // The address limit: 50 sign-ins from one address in 15 minutes, whatever the account.
        for i in 0..44 {
            let email = format!("spray{i}@example.com");
            let (status, _) = login_from(&app, stranger, &email, WRONG).await;
            assert_eq!(status, StatusCode::UNAUTHORIZED, "attempt {i}");
        }
        let (status, body) = login_from(&app, stranger, "neighbour@example.com", PASSWORD).await;
        assert!(
            is_rate_limited(status, &body),
            "the address is spent: {body}"
        );
        // An IPv6 end user counts as their /64.
        for i in 0..5 {
            let ip = format!("2001:db8:7:7::{i}");
            login_from(&app, &ip, "neighbour@example.com", WRONG).await;
        }
        let (status, body) = login_from(
            &app,
            "2001:db8:7:7:ffff::1",
            "neighbour@example.com",
            PASSWORD,
        )
        .await;
        assert!(is_rate_limited(status, &body), "one /64, one pair: {body}");
        app
    }
);

both_dbs!(
    guesses_at_the_current_password_are_throttled_l2,
    |app| async move {
        let body = app.signup("l2@example.com", PASSWORD).await;
        let access = body["accessToken"].as_str().unwrap().to_owned();
        let change = |current: &'static str| {
            let access = access.clone();
            let app = &app;
            async move {
                let body = json!({"currentPassword": current, "newPassword": "a-new-passphrase-9"});
                app.request(
                    Method::POST,
                    "/v1/auth/change-password",
                    Some(&access),
                    Some(body),
                )
                .await
            }
        };
        for _ in 0..10 {
            let (status, _) = change(WRONG).await;
            assert_eq!(status, StatusCode::UNAUTHORIZED);
        }
        let (status, body) = change(PASSWORD).await;
        assert!(is_rate_limited(status, &body), "{status} {body}");
        app
    }
);

both_dbs!(
    guesses_at_one_time_and_refresh_tokens_are_throttled_per_address_l2,
    |app| async move {
        let ip = "192.0.2.77";
        let body = app.signup("tokens@example.com", PASSWORD).await;
        let refresh = body["refreshToken"].as_str().unwrap().to_owned();
        // Thirty tries at one-time tokens from one address, over both routes that take them.
        for (path, tries) in [
            ("/v1/auth/verify-email", 15),
            ("/v1/auth/password-reset/confirm", 15),
        ] {
            for i in 0..tries {
                let guess = if path.ends_with("confirm") {
                    json!({"resetToken": format!("guess-{i}"), "newPassword": "a-new-passphrase-1"})
                } else {
                    json!({"token": format!("guess-{i}")})
                };
                let (status, body) = app.post_from(ip, path, guess).await;
                assert_eq!(status, StatusCode::UNAUTHORIZED, "{path} {i}: {body}");
            }
        }
        let guess = json!({"token": "guess-x"});
        let (status, body) = app.post_from(ip, "/v1/auth/verify-email", guess).await;
        assert!(is_rate_limited(status, &body), "{body}");
        for i in 0..30 {
            let guess = json!({"refreshToken": format!("unknown-refresh-token-{i}")});
            let (status, _) = app.post_from(ip, "/v1/auth/refresh", guess).await;
            assert_eq!(status, StatusCode::UNAUTHORIZED);
        }
        let guess = json!({"refreshToken": "unknown-refresh-token-x"});
        let (status, body) = app.post_from(ip, "/v1/auth/refresh", guess).await;
        assert!(is_rate_limited(status, &body), "{body}");
        // A real refresh token is never counted or refused.
        let (status, body) = app
            .post_from(ip, "/v1/auth/refresh", json!({"refreshToken": refresh}))
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        app
    }
);

both_dbs!(
    a_projects_own_limits_apply_are_shown_and_bad_ones_are_refused_by_name,
    |app| async move {
        let token = app.management_token().await;
        let path = format!("/v1/projects/{}", app.project.id);
        let patch = json!({"settings": {"rateLimits": {"loginPerAccount": {"limit": 3, "windowSeconds": 60}}}});
        let (status, body) = app.manage(Method::PATCH, &path, &token, Some(patch)).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        // The effective limits, the others at their defaults; a second patch keeps the first.
        let patch = json!({"settings": {"rateLimits": {"tokenGuesses": {"limit": 7, "windowSeconds": 70}}}});
        app.manage(Method::PATCH, &path, &token, Some(patch)).await;
        let (_, body) = app.manage(Method::GET, &path, &token, None).await;
        let limits = &body["settings"]["rateLimits"];
        assert_eq!(
            limits["loginPerAccount"],
            json!({"limit": 3, "windowSeconds": 60}),
            "{body}"
        );
        assert_eq!(
            limits["tokenGuesses"],
            json!({"limit": 7, "windowSeconds": 70})
        );
        assert_eq!(
            limits["loginPerAccountAndAddress"],
            json!({"limit": 5, "windowSeconds": 900})
        );

        app.signup("own@example.com", PASSWORD).await;
        for _ in 0..3 {
            let (status, _) = app.login("own@example.com", WRONG).await;
            assert_eq!(status, StatusCode::UNAUTHORIZED);
        }
        let (status, body) = app.login("own@example.com", PASSWORD).await;
        assert!(is_rate_limited(status, &body), "{body}");
        assert_eq!(body["error"]["retryAfter"], 20, "one every 60 / 3 s");

        for (limits, field) in [
            (
                json!({"loginPerAccount": {"limit": 0, "windowSeconds": 60}}),
                "settings.rateLimits.loginPerAccount.limit",
            ),
            (
                json!({"signupPerAddress": {"limit": 5, "windowSeconds": 100000}}),
                "settings.rateLimits.signupPerAddress.windowSeconds",
            ),
            (
                json!({"loginPerMoon": {"limit": 5, "windowSeconds": 60}}),
                "settings.rateLimits.loginPerMoon",
            ),
        ] {
            let patch = json!({"settings": {"rateLimits": limits}});
            let (status, body) = app.manage(Method::PATCH, &path, &token, Some(patch)).await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
            assert_eq!(body["error"]["field"], field, "{body}");
        }
        app
    }
);

both_dbs!(
    every_spelling_of_the_login_path_counts_against_the_same_limit_l6,
    |app| async move {
        // Limits are keyed on the operation and the account, never on the path as written: a
        // spelling that reaches the login handler counts like any other, one that does not is
        // refused before any password is checked.
        app.signup("paths@example.com", PASSWORD).await;
        let mut counted = 0;
        for path in [
            "//v1/auth/login",
            "/v1/auth/login/",
            "/v1/%61uth/login",
            "/V1/AUTH/LOGIN",
            "/v1/auth/./login",
        ] {
            let resp = app
                .http
                .post(format!("{}{path}", app.base))
                .header("x-api-key", &app.api_key)
                .json(&login_body("paths@example.com", WRONG))
                .send()
                .await
                .unwrap();
            match resp.status() {
                StatusCode::UNAUTHORIZED => counted += 1,
                StatusCode::NOT_FOUND | StatusCode::METHOD_NOT_ALLOWED => {}
                other => panic!("{path}: {other}"),
            }
        }
        for _ in counted..10 {
            let (status, _) = app.login("paths@example.com", WRONG).await;
            assert_eq!(status, StatusCode::UNAUTHORIZED);
        }
        let (status, body) = app.login("paths@example.com", PASSWORD).await;
        assert!(
            is_rate_limited(status, &body),
            "{counted} counted elsewhere: {body}"
        );
        app
    }
);

/// Ten wrong passwords alternating between two nodes, then the right one: refused on both.
async fn shared_by_two_nodes(app: &TestApp) {
    app.signup("nodes@example.com", PASSWORD).await;
    let other = app.second_node().await;
    for i in 0..10 {
        let body = login_body("nodes@example.com", WRONG);
        let (status, _) = if i % 2 == 0 {
            app.post("/v1/auth/login", body).await
        } else {
            other.post(app, "/v1/auth/login", body).await
        };
        assert_eq!(status, StatusCode::UNAUTHORIZED, "attempt {i}");
    }
    let right = login_body("nodes@example.com", PASSWORD);
    let (status, body) = other.post(app, "/v1/auth/login", right.clone()).await;
    assert!(is_rate_limited(status, &body), "node B: {body}");
    let (status, body) = app.post("/v1/auth/login", right).await;
    assert!(is_rate_limited(status, &body), "node A: {body}");
    // Fifty concurrent guesses over both nodes: none gets past the lock.
    app.signup("burst@example.com", PASSWORD).await;
    let guesses = (0..50).map(|i| {
        let body = login_body("burst@example.com", WRONG);
        let other = &other;
        async move {
            if i % 2 == 0 {
                app.post("/v1/auth/login", body).await
            } else {
                other.post(app, "/v1/auth/login", body).await
            }
        }
    });
    let results = futures::future::join_all(guesses).await;
    let checked = results
        .iter()
        .filter(|(s, _)| *s == StatusCode::UNAUTHORIZED)
        .count();
    assert_eq!(checked, 10, "{results:?}");
    drop(other);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_postgres_nodes_without_redis_share_the_limit_in_the_database_l6() {
    let app = TestApp::spawn(Db::Postgres).await;
    shared_by_two_nodes(&app).await;
    app.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_postgres_nodes_share_the_limit_in_redis_l6() {
    let app =
        TestApp::spawn_with_redis(Db::Postgres, "redis://127.0.0.1:6379/0", &redis_prefix()).await;
    shared_by_two_nodes(&app).await;
    app.finish().await;
}

/// A `redis-server` of the test's own on a free port, so the test may stop it.
struct OwnRedis {
    port: u16,
    dir: std::path::PathBuf,
    child: Option<std::process::Child>,
}

impl OwnRedis {
    fn start() -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let dir = std::env::temp_dir().join(unique("protekt_redis"));
        std::fs::create_dir_all(&dir).unwrap();
        let mut me = Self {
            port,
            dir,
            child: None,
        };
        me.restart();
        me
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/0", self.port)
    }

    fn restart(&mut self) {
        let child = std::process::Command::new("redis-server")
            .args([
                "--port",
                &self.port.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
            ])
            .arg("--dir")
            .arg(&self.dir)
            .stdout(std::process::Stdio::null())
            .spawn()
            .expect("redis-server (apt-get install redis-server)");
        self.child = Some(child);
        for _ in 0..100 {
            if std::net::TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!("redis-server did not start");
    }

    fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for OwnRedis {
    fn drop(&mut self) {
        self.stop();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_redis_down_logins_fail_closed_sign_ups_fail_open_and_it_recovers_a17() {
    let mut redis = OwnRedis::start();
    let app = TestApp::spawn_with_redis(Db::Sqlite, &redis.url(), "protekt:").await;
    app.signup("down@example.com", PASSWORD).await;
    let (status, body) = app.login("down@example.com", PASSWORD).await;
    assert_eq!(status, StatusCode::OK, "{body}");

    redis.stop();
    let (status, body) = app.login("down@example.com", PASSWORD).await;
    assert_eq!(
        status,
        StatusCode::SERVICE_UNAVAILABLE,
        "fail closed: {body}"
    );
    assert_eq!(body["error"]["code"], "server_busy");
    let signup = json!({"email": "new@example.com", "password": PASSWORD});
    let (status, body) = app.post_from("192.0.2.50", "/v1/auth/signup", signup).await;
    assert_eq!(status, StatusCode::CREATED, "sign-up fails open: {body}");

    redis.restart();
    let mut recovered = None;
    for _ in 0..50 {
        let (status, body) = app.login("down@example.com", PASSWORD).await;
        if status == StatusCode::OK {
            recovered = Some(body);
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(recovered.is_some(), "logins work again once Redis is back");
    app.finish().await;
}
