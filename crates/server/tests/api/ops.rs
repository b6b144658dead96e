//! Background cleanup (SECURITY D4), audit events (AU1) and degrading under load (D1).

use protekt_core::model::UserId;
use protekt_testkit::both_dbs;
use protekt_testkit::*;
use reqwest::StatusCode;
use serde_json::json;
use std::time::Duration;

both_dbs!(
    cleanup_removes_expired_rows_and_keeps_live_ones_d4,
    |app| async move {
        // Old: a session that ended, a revoked token, a reset token that will expire.
        let old = app.signup("old@example.com", PASSWORD).await;
        let (_, second) = app.login("old@example.com", PASSWORD).await;
        assert_eq!(
            app.post("/v1/auth/revoke", json!({"token": second["accessToken"]}))
                .await
                .0,
            StatusCode::OK
        );
        assert_eq!(
            app.post_bearer("/v1/auth/logout", old["accessToken"].as_str().unwrap())
                .await
                .0,
            StatusCode::OK
        );
        app.post(
            "/v1/auth/password-reset",
            json!({"email": "old@example.com"}),
        )
        .await;
        app.wait_for_email("old@example.com", "password_reset", 1)
            .await;
        app.clock.advance(Duration::from_secs(8 * 24 * 3600));
        // Live: a session started after the jump.
        let live = app.signup("live@example.com", PASSWORD).await;
        let done = app.store.ops().cleanup(app.clock.now()).await.unwrap();
        assert!(done.sessions >= 1, "{done:?}");
        assert!(done.revoked_tokens >= 1, "{done:?}");
        assert!(done.one_time_tokens >= 1, "{done:?}");
        assert!(done.emails >= 1, "{done:?}");
        assert_eq!(
            app.verify(live["accessToken"].as_str().unwrap()).await.0,
            StatusCode::OK
        );
        assert_eq!(
            app.refresh(live["refreshToken"].as_str().unwrap()).await.0,
            StatusCode::OK
        );
        let again = app.store.ops().cleanup(app.clock.now()).await.unwrap();
        assert_eq!(again.sessions, 0);
        app
    }
);

both_dbs!(
    only_one_node_holds_a_job_lease_at_a_time,
    |app| async move {
        let now = app.clock.now();
        assert!(app
            .store
            .ops()
            .take_lease("job", "node_a", now + 1000, now)
            .await
            .unwrap());
        assert!(!app
            .store
            .ops()
            .take_lease("job", "node_b", now + 1000, now)
            .await
            .unwrap());
        assert!(
            app.store
                .ops()
                .take_lease("job", "node_a", now + 2000, now)
                .await
                .unwrap(),
            "the holder renews"
        );
        assert!(
            app.store
                .ops()
                .take_lease("job", "node_b", now + 5000, now + 3000)
                .await
                .unwrap(),
            "an expired lease is taken over"
        );
        app
    }
);

both_dbs!(
    auth_events_are_audited_without_secrets_au1,
    |app| async move {
        let body = app.signup("audit@example.com", PASSWORD).await;
        app.login("audit@example.com", "wrong-password-9").await;
        app.login("nobody@example.com", "wrong-password-9").await;
        app.post_bearer("/v1/auth/logout", body["accessToken"].as_str().unwrap())
            .await;
        let rt = app.login("audit@example.com", PASSWORD).await.1["refreshToken"]
            .as_str()
            .unwrap()
            .to_owned();
        app.refresh(&rt).await;
        app.clock.advance(Duration::from_secs(30));
        app.refresh(&rt).await;
        let events = app
            .store
            .ops()
            .recent_events(&app.project.id, 100)
            .await
            .unwrap();
        let has =
            |kind: &str, result: &str| events.iter().any(|e| e.kind == kind && e.result == result);
        assert!(has("signup", "success"));
        assert!(has("login", "success"));
        assert!(has("login", "failure"));
        assert!(has("logout", "success"));
        assert!(has("refresh.reuse_detected", "failure"));
        let failures = events
            .iter()
            .filter(|e| e.kind == "login" && e.result == "failure")
            .count();
        assert_eq!(failures, 2, "unknown emails are audited too");
        let all = format!("{:?}", events);
        for secret in [PASSWORD, "wrong-password-9", rt.as_str()] {
            assert!(!all.contains(secret), "an audit event holds a secret");
        }
        app
    }
);

// ---- Fixes from the security review (issue 8) ----

both_dbs!(
    cleanup_removes_expired_mfa_challenges_d4,
    |app| async move {
        let user = app.signup("challenged@example.com", PASSWORD).await;
        let user_id = UserId::from(user["user"]["id"].as_str().unwrap());
        let now = app.clock.now();
        for (id, expires_at) in [("mfc_old", now + 1000), ("mfc_live", now + 3_600_000)] {
            let challenge = protekt_core::model::NewChallenge {
                id: &id.into(),
                user_id: &user_id,
                purpose: protekt_core::model::ChallengePurpose::Login,
                first_factor: Some(protekt_core::model::Amr::Pwd),
                token_hash: None,
                ip: None,
                user_agent: None,
                expires_at,
            };
            app.store
                .mfa()
                .insert_challenge(&app.project.id, &challenge, now)
                .await
                .unwrap();
        }
        app.clock.advance(Duration::from_secs(60));
        let done = app.store.ops().cleanup(app.clock.now()).await.unwrap();
        assert_eq!(done.mfa_challenges, 1, "{done:?}");
        let left = app.dump_table("mfa_challenge").await;
        assert!(
            left.contains("mfc_live") && !left.contains("mfc_old"),
            "{left}"
        );
        app
    }
);

both_dbs!(
    the_jwks_is_served_from_memory_even_when_the_database_is_down_d2,
    |app| async move {
        let url = format!(
            "{}/p/{}/.well-known/jwks.json",
            app.base, app.project.login_id
        );
        let first = app.http.get(&url).send().await.unwrap();
        assert_eq!(first.status(), StatusCode::OK);
        assert_eq!(first.headers()["cache-control"], "public, max-age=300");
        let keys: serde_json::Value = first.json().await.unwrap();
        // The database goes away (the pool is closed under the server).
        app.store.close().await;
        assert!(
            app.store.ping().await.is_err(),
            "the database is really gone"
        );
        // Fresh copy from memory, and after its freshness ran out, the last good copy.
        for wait in [0, 120] {
            app.clock.advance(Duration::from_secs(wait));
            let again = app.http.get(&url).send().await.unwrap();
            assert_eq!(again.status(), StatusCode::OK, "after {wait} s");
            assert_eq!(again.json::<serde_json::Value>().await.unwrap(), keys);
        }
        // An unknown project is still a 404 or a clear error, never a copy of another's keys.
        let other = app
            .http
            .get(format!("{}/p/lp_unknown/.well-known/jwks.json", app.base))
            .send()
            .await
            .unwrap();
        assert_ne!(other.status(), StatusCode::OK);
        app
    }
);

both_dbs!(
    answers_carrying_tokens_are_never_cached_as7,
    |app| async move {
        let signup = app
            .http
            .post(format!("{}/v1/auth/signup", app.base))
            .header("x-api-key", &app.api_key)
            .json(&json!({"email": "nostore@example.com", "password": PASSWORD}))
            .send()
            .await
            .unwrap();
        assert_eq!(signup.headers()["cache-control"], "no-store");
        let body: serde_json::Value = signup.json().await.unwrap();
        let refresh = app
            .http
            .post(format!("{}/v1/auth/refresh", app.base))
            .header("x-api-key", &app.api_key)
            .json(&json!({"refreshToken": body["refreshToken"]}))
            .send()
            .await
            .unwrap();
        assert_eq!(refresh.status(), StatusCode::OK);
        assert_eq!(refresh.headers()["cache-control"], "no-store");
        // Plain http: no HSTS (a browser would ignore it, and it must not stick to localhost).
        assert!(refresh.headers().get("strict-transport-security").is_none());
        app
    }
);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hsts_is_sent_when_users_reach_the_server_over_https_u4() {
    let app = TestApp::spawn_with_public_url(Db::Sqlite, "https://auth.example.test").await;
    for path in [
        "/healthz".to_owned(),
        format!("/p/{}/verify-email?token=x", app.project.login_id),
        format!("/p/{}/.well-known/jwks.json", app.project.login_id),
    ] {
        let resp = app
            .http
            .get(format!("{}{path}", app.base))
            .send()
            .await
            .unwrap();
        assert_eq!(
            resp.headers()["strict-transport-security"],
            "max-age=31536000; includeSubDomains",
            "{path}"
        );
    }
    app.finish().await;
}

both_dbs!(
    a_login_flood_is_answered_server_busy_while_verification_goes_on_d1,
    |app| async move {
        // The fixture's server has the default queue; this one waits for at most 2 hashes.
        let db = app.db;
        app.finish().await;
        let app = TestApp::spawn_with_hash_queue(db, 2).await;
        let user = app.signup("flood@example.com", PASSWORD).await;
        let access = user["accessToken"].as_str().unwrap().to_owned();
        // Forty accounts, so that the per-account throttle lets every attempt reach the queue.
        let server = &app;
        let logins = (0..40).map(|i| async move {
            let email = format!("flood{i}@example.com");
            server.login(&email, "wrong password, wrong").await
        });
        let verifications = (0..20).map(|_| app.verify(&access));
        let jwks = format!("/p/{}/.well-known/jwks.json", app.project.login_id);
        let (logins, verifications, keys) = tokio::join!(
            futures::future::join_all(logins),
            futures::future::join_all(verifications),
            app.get(&jwks)
        );
        let busy: Vec<_> = logins
            .iter()
            .filter(|(s, _)| *s == StatusCode::SERVICE_UNAVAILABLE)
            .collect();
        assert!(
            !busy.is_empty(),
            "some logins wait for no hash: the queue is bounded"
        );
        for (_, body) in &busy {
            assert_eq!(body["error"]["code"], "server_busy");
            assert_eq!(body["error"]["retryAfter"], 1);
        }
        assert!(logins
            .iter()
            .all(|(s, _)| *s == StatusCode::SERVICE_UNAVAILABLE || *s == StatusCode::UNAUTHORIZED));
        assert!(
            verifications.iter().all(|(s, _)| *s == StatusCode::OK),
            "verify needs no hash"
        );
        assert_eq!(keys.0, StatusCode::OK);
        app
    }
);
