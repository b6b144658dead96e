//! `/v1/sessions`: a user's own sessions (SECURITY S3, S4, S7, AZ3).

use protekt_testkit::both_dbs;
use protekt_testkit::*;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use std::time::Duration;

async fn sessions(app: &TestApp, token: &str) -> Vec<Value> {
    let (status, body) = app
        .request(Method::GET, "/v1/sessions", Some(token), None)
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["sessions"].as_array().unwrap().clone()
}

both_dbs!(
    users_list_and_revoke_their_own_sessions_s7,
    |app| async move {
        let a = app.signup("sess@example.com", PASSWORD).await;
        let (_, b) = app.login("sess@example.com", PASSWORD).await;
        let access_a = a["accessToken"].as_str().unwrap();
        let access_b = b["accessToken"].as_str().unwrap();
        let list = sessions(&app, access_a).await;
        assert_eq!(list.len(), 2);
        let current: Vec<&Value> = list.iter().filter(|s| s["current"] == true).collect();
        assert_eq!(current.len(), 1);
        assert_eq!(current[0]["id"], jwt_claims(access_a)["sid"]);
        for s in &list {
            for field in ["createdAt", "lastActiveAt", "expiresAt"] {
                assert!(s[field].is_string(), "{field}");
            }
            assert_eq!(s["ip"], "127.0.0.1");
        }
        // End session B from session A: B's tokens die, A lives on.
        let sid_b = jwt_claims(access_b)["sid"].as_str().unwrap().to_owned();
        let (status, _) = app
            .request(
                Method::DELETE,
                &format!("/v1/sessions/{sid_b}"),
                Some(access_a),
                None,
            )
            .await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(app.verify(access_b).await.0, StatusCode::UNAUTHORIZED);
        assert_eq!(
            app.refresh(b["refreshToken"].as_str().unwrap()).await.0,
            StatusCode::UNAUTHORIZED
        );
        assert_eq!(app.verify(access_a).await.0, StatusCode::OK);
        assert_eq!(sessions(&app, access_a).await.len(), 1);
        // Ending it again: not found.
        let (status, body) = app
            .request(
                Method::DELETE,
                &format!("/v1/sessions/{sid_b}"),
                Some(access_a),
                None,
            )
            .await;
        assert_eq!(
            (status, body["error"]["code"].as_str()),
            (StatusCode::NOT_FOUND, Some("not_found"))
        );
        app
    }
);

both_dbs!(
    another_users_session_id_is_not_found_az3,
    |app| async move {
        let mine = app.signup("me@example.com", PASSWORD).await;
        let theirs = app.signup("them@example.com", PASSWORD).await;
        let their_sid = jwt_claims(theirs["accessToken"].as_str().unwrap())["sid"]
            .as_str()
            .unwrap()
            .to_owned();
        let (status, body) = app
            .request(
                Method::DELETE,
                &format!("/v1/sessions/{their_sid}"),
                Some(mine["accessToken"].as_str().unwrap()),
                None,
            )
            .await;
        assert_eq!(
            (status, body["error"]["code"].as_str()),
            (StatusCode::NOT_FOUND, Some("not_found"))
        );
        assert_eq!(
            app.verify(theirs["accessToken"].as_str().unwrap()).await.0,
            StatusCode::OK,
            "their session is untouched"
        );
        let (status, _) = app.request(Method::GET, "/v1/sessions", None, None).await;
        assert_eq!(
            status,
            StatusCode::UNAUTHORIZED,
            "an access token is required"
        );
        let (status, _) = app
            .request(
                Method::DELETE,
                "/v1/sessions/revoke-all",
                Some(mine["accessToken"].as_str().unwrap()),
                None,
            )
            .await;
        assert_eq!(
            status,
            StatusCode::METHOD_NOT_ALLOWED,
            "revoke-all is not a session id: the route takes POST only"
        );
        app
    }
);

both_dbs!(
    revoke_all_can_keep_the_current_session_s4,
    |app| async move {
        let a = app.signup("all@example.com", PASSWORD).await;
        let (_, b) = app.login("all@example.com", PASSWORD).await;
        let (_, c) = app.login("all@example.com", PASSWORD).await;
        let access_a = a["accessToken"].as_str().unwrap();
        let (status, body) = app
            .request(
                Method::POST,
                "/v1/sessions/revoke-all",
                Some(access_a),
                Some(json!({"keepCurrent": true})),
            )
            .await;
        assert_eq!(
            (status, body["revokedCount"].as_u64()),
            (StatusCode::OK, Some(2))
        );
        assert_eq!(app.verify(access_a).await.0, StatusCode::OK);
        for other in [&b, &c] {
            assert_eq!(
                app.verify(other["accessToken"].as_str().unwrap()).await.0,
                StatusCode::UNAUTHORIZED
            );
        }
        // Without keepCurrent (and without a body), everything ends.
        let resp = app
            .http
            .post(format!("{}/v1/sessions/revoke-all", app.base))
            .header("x-api-key", &app.api_key)
            .bearer_auth(access_a)
            .send()
            .await
            .unwrap();
        let body: Value = resp.json().await.unwrap();
        assert_eq!(body["revokedCount"], 1);
        assert_eq!(app.verify(access_a).await.0, StatusCode::UNAUTHORIZED);
        app
    }
);

both_dbs!(
    idle_and_absolute_session_timeouts_are_enforced_s3,
    |app| async move {
        // Idle: no refresh for the idle timeout (7 days by default) ends the session.
        let a = app.signup("idle@example.com", PASSWORD).await;
        app.clock.advance(Duration::from_secs(7 * 24 * 3600 + 1));
        assert_eq!(
            app.refresh(a["refreshToken"].as_str().unwrap()).await.0,
            StatusCode::UNAUTHORIZED
        );
        // Absolute: refreshing every 6 days keeps it alive only until 30 days.
        let (_, b) = app.login("idle@example.com", PASSWORD).await;
        let mut rt = b["refreshToken"].as_str().unwrap().to_owned();
        for _ in 0..4 {
            app.clock.advance(Duration::from_secs(6 * 24 * 3600));
            let (status, next) = app.refresh(&rt).await;
            assert_eq!(status, StatusCode::OK, "{next}");
            rt = next["refreshToken"].as_str().unwrap().to_owned();
        }
        app.clock.advance(Duration::from_secs(6 * 24 * 3600 + 1));
        assert_eq!(app.refresh(&rt).await.0, StatusCode::UNAUTHORIZED);
        app
    }
);

/// Scale-out: two nodes on one PostgreSQL, each with its own read cache. A session ended on one
/// node must stop verifying on the other at once (the invalidation arrives over LISTEN/NOTIFY in
/// milliseconds), and a refresh on one node must not leave the other with a stale view that
/// ends the session early.
#[tokio::test]
async fn a_revocation_on_one_node_is_seen_by_the_other_at_once() {
    let app = TestApp::spawn(Db::Postgres).await;
    let other = app.second_node().await;
    let body = app.signup("nodes@example.com", PASSWORD).await;
    let access = body["accessToken"].as_str().unwrap().to_owned();
    let refresh = body["refreshToken"].as_str().unwrap().to_owned();
    let verify = json!({"token": access});
    // The other node caches the session view.
    assert_eq!(
        other.post(&app, "/v1/auth/verify", verify.clone()).await.0,
        StatusCode::OK
    );
    assert_eq!(
        other.post(&app, "/v1/auth/verify", verify.clone()).await.0,
        StatusCode::OK
    );

    // A refresh on the first node: the other node's view is moved forward, not broken.
    let (status, rotated) = app.refresh(&refresh).await;
    assert_eq!(status, StatusCode::OK, "{rotated}");
    let fresh = json!({"token": rotated["accessToken"]});
    assert_eq!(
        other.post(&app, "/v1/auth/verify", fresh.clone()).await.0,
        StatusCode::OK
    );

    // Sign out on the first node; the second must refuse within the notification delay.
    let token = rotated["accessToken"].as_str().unwrap();
    let (status, _) = app
        .request(Method::POST, "/v1/auth/logout", Some(token), None)
        .await;
    assert_eq!(status, StatusCode::OK);
    let started = std::time::Instant::now();
    loop {
        let (status, _) = other.post(&app, "/v1/auth/verify", fresh.clone()).await;
        if status == StatusCode::UNAUTHORIZED {
            break;
        }
        assert!(
            started.elapsed() < std::time::Duration::from_secs(2),
            "the other node still accepts an ended session after {:?}",
            started.elapsed()
        );
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
}

/// SQLite's write-ahead log must be checkpointed back into the database as writes go on, or it
/// grows without bound and fills the disk (a checkpointing change once let it reach 1.2 GB in 20
/// seconds of refreshes). 1,500 rotations write about 45 MB of log frames; the file must stay
/// near SQLite's automatic checkpoint size instead.
#[tokio::test]
async fn the_sqlite_write_ahead_log_stays_bounded_under_sustained_writes() {
    let app = TestApp::spawn(Db::Sqlite).await;
    let body = app.signup("wal@example.com", PASSWORD).await;
    let mut refresh = body["refreshToken"].as_str().unwrap().to_owned();
    for _ in 0..1500 {
        let (status, rotated) = app.refresh(&refresh).await;
        assert_eq!(status, StatusCode::OK, "{rotated}");
        refresh = rotated["refreshToken"].as_str().unwrap().to_owned();
    }
    let wal = std::fs::metadata(app.data_dir().join("protekt.db-wal"))
        .map(|m| m.len())
        .unwrap_or(0);
    assert!(wal < 16 * 1024 * 1024, "the WAL grew to {wal} bytes");
}
