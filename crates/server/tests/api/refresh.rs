//! Refresh-token rotation, reuse detection and races (SECURITY R1-R6).

use protekt_core::model::SessionId;
use protekt_testkit::both_dbs;
use protekt_testkit::*;
use reqwest::StatusCode;
use std::time::Duration;

both_dbs!(refresh_rotates_on_every_use_r1, |app| async move {
    let body = app.signup("r1@example.com", PASSWORD).await;
    let rt0 = body["refreshToken"].as_str().unwrap().to_owned();
    let (status, next) = app.refresh(&rt0).await;
    assert_eq!(status, StatusCode::OK);
    let rt1 = next["refreshToken"].as_str().unwrap().to_owned();
    assert_ne!(rt0, rt1);
    assert_eq!(rt1.len(), 43, "256-bit opaque token (R6)");
    assert_eq!(next["expiresIn"], 900);
    let (status, again) = app.refresh(&rt1).await;
    assert_eq!(status, StatusCode::OK);
    assert_ne!(again["refreshToken"], rt1.as_str());
    app
});

both_dbs!(
    a_retry_inside_the_grace_window_gets_the_same_successor_r4,
    |app| async move {
        let body = app.signup("r4@example.com", PASSWORD).await;
        let rt0 = body["refreshToken"].as_str().unwrap().to_owned();
        let (_, first) = app.refresh(&rt0).await;
        // The client lost the answer and retries a few seconds later.
        app.clock.advance(Duration::from_secs(5));
        let (status, retry) = app.refresh(&rt0).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(retry["refreshToken"], first["refreshToken"]);
        // The session is intact: the successor works.
        let (status, _) = app.refresh(first["refreshToken"].as_str().unwrap()).await;
        assert_eq!(status, StatusCode::OK);
        app
    }
);

both_dbs!(
    reuse_after_the_grace_window_ends_the_whole_session_r2_r5,
    |app| async move {
        let body = app.signup("r2@example.com", PASSWORD).await;
        let rt0 = body["refreshToken"].as_str().unwrap().to_owned();
        // R5: three rotations inside one second are still told apart.
        let (_, a) = app.refresh(&rt0).await;
        let rt1 = a["refreshToken"].as_str().unwrap().to_owned();
        let (_, b) = app.refresh(&rt1).await;
        let rt2 = b["refreshToken"].as_str().unwrap().to_owned();
        let access2 = b["accessToken"].as_str().unwrap().to_owned();
        assert_eq!(app.verify(&access2).await.0, StatusCode::OK);
        app.clock.advance(Duration::from_secs(11));
        let (status, body) = app.refresh(&rt0).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        assert_eq!(body["error"]["code"], "invalid_token");
        // The newest token of the family and the session's access tokens are dead too.
        assert_eq!(app.refresh(&rt2).await.0, StatusCode::UNAUTHORIZED);
        assert_eq!(app.verify(&access2).await.0, StatusCode::UNAUTHORIZED);
        app
    }
);

both_dbs!(
    concurrent_refreshes_produce_exactly_one_successor_r3,
    |app| async move {
        let body = app.signup("r3@example.com", PASSWORD).await;
        let rt0 = body["refreshToken"].as_str().unwrap().to_owned();
        let sid = SessionId::from(
            jwt_claims(body["accessToken"].as_str().unwrap())["sid"]
                .as_str()
                .unwrap(),
        );
        let results = futures::future::join_all((0..20).map(|_| app.refresh(&rt0))).await;
        let successes: Vec<_> = results
            .iter()
            .filter(|(s, _)| *s == StatusCode::OK)
            .collect();
        assert!(!successes.is_empty());
        for (status, body) in &results {
            assert!(
                *status == StatusCode::OK,
                "every request inside the grace window succeeds: {body}"
            );
            assert_eq!(
                body["refreshToken"], successes[0].1["refreshToken"],
                "one successor for all"
            );
        }
        assert_eq!(
            app.store
                .sessions()
                .active_refresh_tokens(&app.project.id, &sid)
                .await
                .unwrap(),
            1,
            "the family never forks"
        );
        app
    }
);

both_dbs!(
    rotations_of_many_sessions_at_once_share_commits_and_each_forks_never_r3,
    |app| async move {
        // Concurrent refreshes of many sessions are committed together (group commit), with the
        // same token three times among them: each session still gets exactly one successor.
        let mut tokens = Vec::new();
        for i in 0..12 {
            let body = app.signup(&format!("batch{i}@example.com"), PASSWORD).await;
            tokens.push(body["refreshToken"].as_str().unwrap().to_owned());
        }
        for round in 0..2 {
            let requests = tokens
                .iter()
                .flat_map(|t| [t, t, t])
                .map(|t| app.refresh(t));
            let results = futures::future::join_all(requests).await;
            for (i, trio) in results.chunks(3).enumerate() {
                for (status, body) in trio {
                    assert_eq!(
                        *status,
                        StatusCode::OK,
                        "round {round}, session {i}: {body}"
                    );
                    assert_eq!(
                        body["refreshToken"], trio[0].1["refreshToken"],
                        "one successor"
                    );
                }
                tokens[i] = trio[0].1["refreshToken"].as_str().unwrap().to_owned();
            }
            assert_eq!(
                app.count("select count(*) from refresh_token where used_at is null")
                    .await,
                12,
                "round {round}: one live token per session"
            );
        }
        assert_eq!(app.count("select count(*) from refresh_token").await, 36);
        app
    }
);

both_dbs!(
    refresh_fails_past_the_absolute_session_lifetime_r6,
    |app| async move {
        // A session kept busy (a refresh every 6 days, inside the 7-day idle timeout) still ends
        // at its absolute lifetime of 30 days: only that limit can end it here.
        let body = app.signup("r6@example.com", PASSWORD).await;
        let mut refresh = body["refreshToken"].as_str().unwrap().to_owned();
        for _ in 0..4 {
            app.clock.advance(Duration::from_secs(6 * 24 * 3600));
            let (status, next) = app.refresh(&refresh).await;
            assert_eq!(status, StatusCode::OK, "{next}");
            refresh = next["refreshToken"].as_str().unwrap().to_owned();
        }
        app.clock.advance(Duration::from_secs(6 * 24 * 3600 + 1));
        let (status, body) = app.refresh(&refresh).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
        app
    }
);

both_dbs!(unknown_refresh_tokens_are_invalid, |app| async move {
    for junk in ["", "nope", &"x".repeat(600)] {
        let (status, body) = app.refresh(junk).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        assert_eq!(body["error"]["code"], "invalid_token");
    }
    app
});
