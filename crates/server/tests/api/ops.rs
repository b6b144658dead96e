//! Background cleanup (SECURITY D4) and audit events (AU1).

use crate::both_dbs;
use crate::helpers::*;
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
        let done = app.store.cleanup(app.clock.now()).await.unwrap();
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
        let again = app.store.cleanup(app.clock.now()).await.unwrap();
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
            .take_lease("job", "node_a", now + 1000, now)
            .await
            .unwrap());
        assert!(!app
            .store
            .take_lease("job", "node_b", now + 1000, now)
            .await
            .unwrap());
        assert!(
            app.store
                .take_lease("job", "node_a", now + 2000, now)
                .await
                .unwrap(),
            "the holder renews"
        );
        assert!(
            app.store
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
        let events = app.store.recent_events(&app.project.id, 100).await.unwrap();
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
