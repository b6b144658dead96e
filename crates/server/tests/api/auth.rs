//! Sign-up, login, logout, verify: round trips and their errors.

use protekt_core::model::UserId;
use protekt_testkit::both_dbs;
use protekt_testkit::*;
use reqwest::StatusCode;
use serde_json::json;

both_dbs!(
    signup_login_verify_refresh_logout_round_trip,
    |app| async move {
        let (status, body) = app
        .post("/v1/auth/signup", json!({"email": " Ada@Example.COM ", "password": PASSWORD, "metadata": {"plan": "free"}}))
        .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        let user = &body["user"];
        assert!(user["id"].as_str().unwrap().starts_with("usr_"));
        assert_eq!(user["email"], "Ada@example.com");
        assert_eq!(user["emailVerified"], false);
        assert_eq!(user["disabled"], false);
        assert_eq!(user["metadata"], json!({"plan": "free"}));
        for field in ["createdAt", "updatedAt", "lastLoginAt"] {
            let t = user[field].as_str().unwrap();
            assert!(
                time::OffsetDateTime::parse(t, &time::format_description::well_known::Rfc3339)
                    .is_ok(),
                "{field}: {t}"
            );
        }
        assert_eq!(body["expiresIn"], 900);

        // Login is case-insensitive on the email.
        let (status, login) = app.login("ada@example.com", PASSWORD).await;
        assert_eq!(status, StatusCode::OK, "{login}");
        assert_eq!(login["user"]["id"], user["id"]);
        let access = login["accessToken"].as_str().unwrap();

        let (status, verified) = app.verify(access).await;
        assert_eq!(status, StatusCode::OK, "{verified}");
        assert_eq!(verified["user"]["id"], user["id"]);
        let claims = &verified["claims"];
        assert_eq!(claims["sub"], user["id"]);
        assert_eq!(claims["aud"], app.project.login_id.as_str());
        assert_eq!(
            claims["iss"],
            format!("{}/p/{}", app.base, app.project.login_id)
        );
        assert_eq!(claims["amr"], json!(["pwd"]));
        assert_eq!(claims["aal"], "aal1");
        assert!(claims["sid"].as_str().unwrap().starts_with("ses_"));
        assert_eq!(
            claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(),
            900
        );

        let (status, refreshed) = app.refresh(login["refreshToken"].as_str().unwrap()).await;
        assert_eq!(status, StatusCode::OK, "{refreshed}");
        assert_eq!(
            app.verify(refreshed["accessToken"].as_str().unwrap())
                .await
                .0,
            StatusCode::OK
        );

        let (status, _) = app.post_bearer("/v1/auth/logout", access).await;
        assert_eq!(status, StatusCode::OK);
        app
    }
);

both_dbs!(each_login_starts_a_new_session_s1, |app| async move {
    app.signup("s1@example.com", PASSWORD).await;
    let (_, a) = app.login("s1@example.com", PASSWORD).await;
    let (_, b) = app.login("s1@example.com", PASSWORD).await;
    let sid_a = jwt_claims(a["accessToken"].as_str().unwrap())["sid"].clone();
    let sid_b = jwt_claims(b["accessToken"].as_str().unwrap())["sid"].clone();
    assert_ne!(sid_a, sid_b);
    assert_ne!(a["refreshToken"], b["refreshToken"]);
    app
});

both_dbs!(signup_refuses_a_taken_email_in_any_case, |app| async move {
    app.signup("taken@example.com", PASSWORD).await;
    let (status, body) = app
        .post(
            "/v1/auth/signup",
            json!({"email": "TAKEN@example.com", "password": PASSWORD}),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(body["error"]["code"], "email_taken");
    app
});

both_dbs!(
    concurrent_signups_of_one_address_create_one_user_i4,
    |app| async move {
        let attempts = (0..20).map(|i| {
            let email = if i % 2 == 0 {
                "Race@x-example.com"
            } else {
                "race@X-EXAMPLE.com"
            };
            app.post(
                "/v1/auth/signup",
                json!({"email": email, "password": PASSWORD}),
            )
        });
        let results = futures::future::join_all(attempts).await;
        let created = results
            .iter()
            .filter(|(s, _)| *s == StatusCode::CREATED)
            .count();
        let taken = results
            .iter()
            .filter(|(_, b)| b["error"]["code"] == "email_taken")
            .count();
        assert_eq!(created, 1, "{results:?}");
        assert_eq!(taken, 19);
        app
    }
);

both_dbs!(password_policy_is_enforced_p3_p4, |app| async move {
    let weak = |pw: &str| {
        app.post(
            "/v1/auth/signup",
            json!({"email": format!("{}@example.com", pw.len()), "password": pw}),
        )
    };
    // P3: 7 characters refused, 8 accepted.
    let (status, body) = weak("kq8#Zr1").await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("weak_password"))
    );
    assert_eq!(weak("kq8#Zr1!").await.0, StatusCode::CREATED);
    // P3: a 64-character lowercase passphrase is fine (no composition rules).
    assert_eq!(
        weak("correcthorsebatterystaplepurpleelephantdancesonthemoonlitbeachxx")
            .await
            .0,
        StatusCode::CREATED
    );
    // P4: common passwords and the project's own name are refused.
    for pw in ["password123!", "qwertyuiop", "Test Project2024"] {
        let (status, body) = weak(pw).await;
        assert_eq!(body["error"]["code"], "weak_password", "{pw}");
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    }
    // P3: more than 1024 characters is refused before any hashing, as a plain invalid request.
    let (status, body) = weak(&"a".repeat(1025)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"]["code"], "invalid_request");
    assert_eq!(body["error"]["field"], "password");
    app
});

both_dbs!(
    wrong_password_and_unknown_email_answer_identically_l4,
    |app| async move {
        app.signup("known@example.com", PASSWORD).await;
        let send = |email: &'static str| {
            app.http
                .post(format!("{}/v1/auth/login", app.base))
                .header("x-api-key", &app.api_key)
                .json(&json!({"email": email, "password": "not-the-password-1"}))
                .send()
        };
        let a = send("known@example.com").await.unwrap();
        let b = send("unknown@example.com").await.unwrap();
        assert_eq!(a.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(a.status(), b.status());
        assert_eq!(headers_without_date(&a), headers_without_date(&b));
        let (body_a, body_b) = (a.text().await.unwrap(), b.text().await.unwrap());
        assert_eq!(body_a, body_b);
        assert!(body_a.contains("invalid_credentials"));
        app
    }
);

both_dbs!(
    outdated_password_hashes_are_upgraded_at_login_p1,
    |app| async move {
        let body = app.signup("rehash@example.com", PASSWORD).await;
        let user_id = UserId::from(body["user"]["id"].as_str().unwrap());
        let weak_params = protekt_core::password::HashParams {
            memory_kib: 4096,
            iterations: 1,
            parallelism: 1,
        };
        let old = protekt_core::password::hash_blocking(weak_params, PASSWORD).unwrap();
        app.store
            .users()
            .set_password_hash(&app.project.id, &user_id, &old)
            .await
            .unwrap();
        let (status, _) = app.login("rehash@example.com", PASSWORD).await;
        assert_eq!(status, StatusCode::OK);
        let stored = app
            .store
            .users()
            .password_hash(&app.project.id, &user_id)
            .await
            .unwrap()
            .unwrap();
        assert!(
            stored.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
            "{stored}"
        );
        app
    }
);

both_dbs!(
    disabled_users_cannot_log_in_and_their_tokens_stop_verifying_t5,
    |app| async move {
        let body = app.signup("off@example.com", PASSWORD).await;
        let access = body["accessToken"].as_str().unwrap();
        assert_eq!(app.verify(access).await.0, StatusCode::OK);
        let user_id = UserId::from(body["user"]["id"].as_str().unwrap());
        app.store
            .users()
            .set_disabled(&app.project.id, &user_id, true, app.clock.now())
            .await
            .unwrap();
        let (status, body) = app.verify(access).await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        assert_eq!(body["error"]["code"], "user_disabled");
        let (status, body) = app.login("off@example.com", PASSWORD).await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        assert_eq!(body["error"]["code"], "user_disabled");
        // A wrong password for a disabled user says nothing about the account.
        let (_, body) = app.login("off@example.com", "wrong-password-here").await;
        assert_eq!(body["error"]["code"], "invalid_credentials");
        app
    }
);

both_dbs!(logout_ends_the_session_at_once_s4, |app| async move {
    let body = app.signup("bye@example.com", PASSWORD).await;
    let access = body["accessToken"].as_str().unwrap();
    let refresh = body["refreshToken"].as_str().unwrap();
    assert_eq!(app.verify(access).await.0, StatusCode::OK);
    assert_eq!(
        app.post_bearer("/v1/auth/logout", access).await.0,
        StatusCode::OK
    );
    let (status, body) = app.verify(access).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("invalid_token"))
    );
    assert_eq!(app.refresh(refresh).await.0, StatusCode::UNAUTHORIZED);
    // Logging out again with the dead token is refused.
    assert_eq!(
        app.post_bearer("/v1/auth/logout", access).await.0,
        StatusCode::UNAUTHORIZED
    );
    app
});

both_dbs!(
    revoking_an_access_token_stops_it_at_once,
    |app| async move {
        let body = app.signup("rev@example.com", PASSWORD).await;
        let access = body["accessToken"].as_str().unwrap();
        let refresh = body["refreshToken"].as_str().unwrap();
        assert_eq!(app.verify(access).await.0, StatusCode::OK);
        let (status, _) = app.post("/v1/auth/revoke", json!({"token": access})).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(app.verify(access).await.0, StatusCode::UNAUTHORIZED);
        // The session itself lives on: its refresh token still works and yields a fresh token.
        let (status, next) = app.refresh(refresh).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(
            app.verify(next["accessToken"].as_str().unwrap()).await.0,
            StatusCode::OK
        );
        app
    }
);

both_dbs!(
    revoking_a_refresh_token_ends_its_session,
    |app| async move {
        let body = app.signup("rev2@example.com", PASSWORD).await;
        let access = body["accessToken"].as_str().unwrap();
        let refresh = body["refreshToken"].as_str().unwrap();
        assert_eq!(
            app.post("/v1/auth/revoke", json!({"token": refresh}))
                .await
                .0,
            StatusCode::OK
        );
        assert_eq!(app.refresh(refresh).await.0, StatusCode::UNAUTHORIZED);
        assert_eq!(app.verify(access).await.0, StatusCode::UNAUTHORIZED);
        // Unknown tokens are accepted silently (RFC 7009).
        assert_eq!(
            app.post("/v1/auth/revoke", json!({"token": "nonsense"}))
                .await
                .0,
            StatusCode::OK
        );
        app
    }
);

both_dbs!(secrets_are_stored_only_as_hashes_k2, |app| async move {
    let body = app.signup("k2@example.com", PASSWORD).await;
    let refresh = body["refreshToken"].as_str().unwrap().to_owned();
    let (_, rotated) = app.refresh(&refresh).await;
    let issued = [
        refresh,
        rotated["refreshToken"].as_str().unwrap().to_owned(),
        app.api_key.clone(),
        PASSWORD.to_owned(),
    ];
    let mut dump = String::new();
    for table in [
        "project",
        "api_key",
        "signing_key",
        "app_user",
        "session",
        "refresh_token",
        "revoked_token",
    ] {
        dump.push_str(&app.dump_table(table).await);
    }
    assert!(
        dump.contains("argon2id"),
        "the dump should contain the user row"
    );
    for secret in &issued {
        assert!(
            !dump.contains(secret.as_str()),
            "a secret was found in clear in the database"
        );
    }
    // Private signing keys are sealed, never PEM in clear (K1).
    assert!(!dump.contains("PRIVATE KEY"));
    app
});

both_dbs!(
    verification_fails_closed_when_the_database_is_gone_x2,
    |app| async move {
        let body = app.signup("x2@example.com", PASSWORD).await;
        let access = body["accessToken"].as_str().unwrap().to_owned();
        assert_eq!(app.verify(&access).await.0, StatusCode::OK);
        // The session's state is no longer cached and the database is gone: the revocation lookup
        // fails, and so must verification.
        let sid = jwt_claims(&access)["sid"].as_str().unwrap().to_owned();
        app.store
            .cache()
            .evict(&protekt_core::cache::Invalidation::Session(sid.into()));
        app.store.close().await;
        let (status, body) = app.verify(&access).await;
        assert_ne!(status, StatusCode::OK);
        assert!(body["error"]["code"].is_string(), "{body}");
        app
    }
);
