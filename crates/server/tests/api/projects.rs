//! `/v1/projects`: the operator's API with management tokens (SECURITY K1, AZ2, P7, AU1).

use protekt_testkit::both_dbs;
use protekt_testkit::*;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

async fn token(app: &TestApp) -> String {
    app.management_token().await
}

both_dbs!(management_tokens_are_required_p7, |app| async move {
    for auth in [None, Some(app.api_key.clone()), Some("mt_wrong".to_owned())] {
        let mut req = app.http.get(format!("{}/v1/projects", app.base));
        if let Some(a) = &auth {
            req = req.bearer_auth(a);
        }
        let resp = req.send().await.unwrap();
        assert_eq!(resp.status(), StatusCode::UNAUTHORIZED, "{auth:?}");
        let body: Value = resp.json().await.unwrap();
        assert_eq!(body["error"]["code"], "invalid_token");
    }
    // An API key sent as X-Api-Key does not open the projects API either.
    let resp = app
        .http
        .get(format!("{}/v1/projects", app.base))
        .header("x-api-key", &app.api_key)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    app
});

both_dbs!(
    projects_can_be_created_listed_updated_and_deleted,
    |app| async move {
        let mt = token(&app).await;
        let (status, created) = app
            .manage(
                Method::POST,
                "/v1/projects",
                &mt,
                Some(json!({"name": "Shop", "settings": {"accessTokenTtl": 300}})),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{created}");
        let id = created["project"]["id"].as_str().unwrap().to_owned();
        assert!(created["project"]["loginId"]
            .as_str()
            .unwrap()
            .starts_with("lp_"));
        assert_eq!(created["project"]["settings"]["accessTokenTtl"], 300);
        let key = created["apiKey"].as_str().unwrap().to_owned();
        // The new key works, and its tokens live 5 minutes.
        let (status, signup) = app
            .post_with_key(
                &key,
                "/v1/auth/signup",
                json!({"email": "s@example.com", "password": PASSWORD}),
            )
            .await;
        assert_eq!(
            (status, signup["expiresIn"].as_u64()),
            (StatusCode::CREATED, Some(300))
        );

        let (_, list) = app.manage(Method::GET, "/v1/projects", &mt, None).await;
        assert!(list["projects"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["id"] == id.as_str()));
        assert!(
            !list.to_string().contains("pk_live_"),
            "keys are never listed"
        );

        let (status, updated) = app
            .manage(
                Method::PATCH,
                &format!("/v1/projects/{id}"),
                &mt,
                Some(json!({"name": "Shop 2", "settings": {"passwordMinLength": 12}})),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{updated}");
        assert_eq!(updated["name"], "Shop 2");
        assert_eq!(updated["settings"]["passwordMinLength"], 12);
        assert_eq!(
            updated["settings"]["accessTokenTtl"], 300,
            "other settings are kept"
        );
        let (status, body) = app
            .post_with_key(
                &key,
                "/v1/auth/signup",
                json!({"email": "t@example.com", "password": "eleven-char"}),
            )
            .await;
        assert_eq!(
            (status, body["error"]["code"].as_str()),
            (StatusCode::UNPROCESSABLE_ENTITY, Some("weak_password")),
            "the new policy applies at once"
        );

        let (status, got) = app
            .manage(Method::GET, &format!("/v1/projects/{id}"), &mt, None)
            .await;
        assert_eq!(
            (status, got["name"].as_str()),
            (StatusCode::OK, Some("Shop 2"))
        );

        let (status, _) = app
            .manage(Method::DELETE, &format!("/v1/projects/{id}"), &mt, None)
            .await;
        assert_eq!(status, StatusCode::OK);
        let (status, _) = app
            .manage(Method::GET, &format!("/v1/projects/{id}"), &mt, None)
            .await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        let (status, body) = app
            .post_with_key(
                &key,
                "/v1/auth/login",
                json!({"email": "s@example.com", "password": PASSWORD}),
            )
            .await;
        assert_eq!(
            (status, body["error"]["code"].as_str()),
            (StatusCode::UNAUTHORIZED, Some("invalid_api_key")),
            "its keys died with it"
        );
        app
    }
);

both_dbs!(
    bad_settings_are_refused_naming_the_field,
    |app| async move {
        let mt = token(&app).await;
        let path = format!("/v1/projects/{}", app.project.id);
        // 400: the request breaks the document; 422: it is well formed and a rule refuses it.
        let bad = StatusCode::BAD_REQUEST;
        let refused = StatusCode::UNPROCESSABLE_ENTITY;
        let cases = [
            (json!({"accessTokenTtl": 5}), "settings.accessTokenTtl", bad),
            (
                json!({"accessTokenTtl": "long"}),
                "settings.accessTokenTtl",
                bad,
            ),
            (
                json!({"passwordMinLength": 4}),
                "settings.passwordMinLength",
                bad,
            ),
            (
                json!({"allowedRedirectUrls": ["not a url"]}),
                "settings.allowedRedirectUrls",
                refused,
            ),
            (
                json!({"allowedRedirectUrls": ["javascript:alert(1)"]}),
                "settings.allowedRedirectUrls",
                refused,
            ),
            (
                json!({"emailFrom": "nobody"}),
                "settings.emailFrom",
                refused,
            ),
            (
                json!({"smtp": {"host": "", "port": 25, "tls": "none"}}),
                "settings.smtp.host",
                bad,
            ),
            (json!({"smtp": [1, 2]}), "settings.smtp", bad),
            (
                json!({"emailTemplates": {"verify_email": {"html": "{% if %}"}}}),
                "settings.emailTemplates.verify_email",
                refused,
            ),
            (
                json!({"emailTemplates": {"nope": {}}}),
                "settings.emailTemplates.nope",
                bad,
            ),
            (
                json!({"sessionIdleTimeout": 999999999}),
                "settings.sessionIdleTimeout",
                bad,
            ),
            (json!({"noSuchSetting": 1}), "settings.noSuchSetting", bad),
            (json!({"signingAlg": "HS256"}), "settings.signingAlg", bad),
            (json!([1, 2]), "settings", bad),
        ];
        for (settings, field, expected) in cases {
            let (status, body) = app
                .manage(
                    Method::PATCH,
                    &path,
                    &mt,
                    Some(json!({"settings": settings})),
                )
                .await;
            assert_eq!(status, expected, "{settings}: {body}");
            let code = if expected == bad {
                "invalid_request"
            } else {
                "value_not_allowed"
            };
            assert_eq!(body["error"]["code"], code, "{settings}: {body}");
            assert_eq!(body["error"]["field"], field, "{settings}: {body}");
        }
        let (status, body) = app
            .manage(Method::PATCH, &path, &mt, Some(json!({"name": ""})))
            .await;
        assert_eq!(
            (status, body["error"]["field"].as_str()),
            (StatusCode::BAD_REQUEST, Some("name"))
        );
        // Nothing was changed by the refused updates.
        let (_, project) = app.manage(Method::GET, &path, &mt, None).await;
        assert_eq!(project["settings"]["accessTokenTtl"], 900);
        app
    }
);

both_dbs!(
    smtp_passwords_are_sealed_and_never_returned_k1,
    |app| async move {
        let mt = token(&app).await;
        let path = format!("/v1/projects/{}", app.project.id);
        let secret = "smtp-secret-Zq81";
        let (status, body) = app
        .manage(Method::PATCH, &path, &mt, Some(json!({"settings": {"smtp": {"host": "mail.example.com", "port": 587, "username": "u", "password": secret, "tls": "starttls"}}})))
        .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert!(!body.to_string().contains(secret));
        assert_eq!(body["settings"]["smtp"]["passwordSet"], true);
        let (_, got) = app.manage(Method::GET, &path, &mt, None).await;
        assert!(!got.to_string().contains(secret));
        assert!(!got.to_string().contains("passwordSealed"));
        assert!(
            !app.dump_table("project").await.contains(secret),
            "the SMTP password is in the database in clear"
        );
        // Changing another setting keeps the sealed password.
        app.manage(Method::PATCH, &path, &mt, Some(json!({"settings": {"smtp": {"host": "mail2.example.com", "port": 587, "username": "u", "tls": "starttls"}}}))).await;
        let (_, got) = app.manage(Method::GET, &path, &mt, None).await;
        assert_eq!(got["settings"]["smtp"]["passwordSet"], true);
        app
    }
);

both_dbs!(
    api_keys_can_be_added_and_revoked_at_once,
    |app| async move {
        let mt = token(&app).await;
        let (status, created) = app
            .manage(
                Method::POST,
                &format!("/v1/projects/{}/api-keys", app.project.id),
                &mt,
                None,
            )
            .await;
        assert_eq!(status, StatusCode::CREATED);
        let key = created["apiKey"].as_str().unwrap().to_owned();
        let key_id = created["id"].as_str().unwrap().to_owned();
        app.signup("k@example.com", PASSWORD).await;
        let login = json!({"email": "k@example.com", "password": PASSWORD});
        assert_eq!(
            app.post_with_key(&key, "/v1/auth/login", login.clone())
                .await
                .0,
            StatusCode::OK
        );
        let (status, _) = app
            .manage(
                Method::DELETE,
                &format!("/v1/projects/{}/api-keys/{key_id}", app.project.id),
                &mt,
                None,
            )
            .await;
        assert_eq!(status, StatusCode::OK);
        let (status, body) = app
            .post_with_key(&key, "/v1/auth/login", login.clone())
            .await;
        assert_eq!(
            (status, body["error"]["code"].as_str()),
            (StatusCode::UNAUTHORIZED, Some("invalid_api_key"))
        );
        // The original key still works; unknown key ids are not found.
        assert_eq!(app.post("/v1/auth/login", login).await.0, StatusCode::OK);
        let (status, _) = app
            .manage(
                Method::DELETE,
                &format!("/v1/projects/{}/api-keys/key_nope", app.project.id),
                &mt,
                None,
            )
            .await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        // A key id of project A cannot be revoked through project B (AZ2).
        let (other, _) = app.other_project().await;
        let (_, second) = app
            .manage(
                Method::POST,
                &format!("/v1/projects/{}/api-keys", app.project.id),
                &mt,
                None,
            )
            .await;
        let (status, _) = app
            .manage(
                Method::DELETE,
                &format!(
                    "/v1/projects/{}/api-keys/{}",
                    other.id,
                    second["id"].as_str().unwrap()
                ),
                &mt,
                None,
            )
            .await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        let events = app
            .store
            .ops()
            .recent_events(&app.project.id, 50)
            .await
            .unwrap();
        // AU1: audited with the management token that acted (its id, never the token).
        assert!(events.iter().any(|e| e.kind == "api_key.revoke"
            && e.actor.as_deref().is_some_and(|a| a.starts_with("mgt_"))));
        app
    }
);

both_dbs!(
    a_login_id_that_does_not_match_the_key_is_refused,
    |app| async move {
        let (other, _) = app.other_project().await;
        let resp = app
            .http
            .post(format!("{}/v1/auth/login", app.base))
            .header("x-api-key", &app.api_key)
            .header("x-login-id", &other.login_id)
            .json(&json!({"email": "a@example.com", "password": "x"}))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
        let body: Value = resp.json().await.unwrap();
        assert_eq!(body["error"]["code"], "invalid_api_key");
        app
    }
);

// ---- Fixes from the security review (issue 8) ----

both_dbs!(
    creation_checks_settings_exactly_like_an_update_i1,
    |app| async move {
        let mt = token(&app).await;
        let path = format!("/v1/projects/{}", app.project.id);
        let cases = [
            (
                json!({"accessTokenTTL": 60}),
                "settings.accessTokenTTL",
                StatusCode::BAD_REQUEST,
            ),
            (
                json!({"smtp": {"host": "mail.example.com", "port": 587, "tls": "starttls", "passwordSealed": "v1.forged"}}),
                "settings.smtp.passwordSealed",
                StatusCode::BAD_REQUEST,
            ),
            (
                json!({"accessTokenTtl": 3600, "sessionIdleTimeout": 600}),
                "settings.sessionIdleTimeout",
                StatusCode::UNPROCESSABLE_ENTITY,
            ),
        ];
        for (settings, field, expected) in cases {
            for (method, route) in [
                (Method::POST, "/v1/projects"),
                (Method::PATCH, path.as_str()),
            ] {
                let body = json!({"name": "Checked", "settings": settings});
                let (status, answer) = app.manage(method.clone(), route, &mt, Some(body)).await;
                assert_eq!(
                    (status, answer["error"]["field"].as_str()),
                    (expected, Some(field)),
                    "{method} {route}: {answer}"
                );
            }
        }
        // An SMTP password given at creation is sealed, as on update, and never returned.
        let secret = "smtp-secret-at-creation";
        let (status, created) = app
            .manage(
                Method::POST,
                "/v1/projects",
                &mt,
                Some(json!({"name": "With SMTP", "settings": {"smtp": {"host": "mail.example.com", "port": 587, "password": secret, "tls": "starttls"}}})),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{created}");
        assert_eq!(created["project"]["settings"]["smtp"]["passwordSet"], true);
        assert!(!created.to_string().contains(secret));
        assert!(!app.dump_table("project").await.contains(secret));
        app
    }
);

both_dbs!(
    management_tokens_expire_are_listed_revoked_and_scoped_p7_as7,
    |app| async move {
        let root = token(&app).await;
        // Created through the API: shown once, stored hashed, expiring.
        let (status, made) = app
            .manage(
                Method::POST,
                "/v1/management-tokens",
                &root,
                Some(json!({"name": "ci", "expiresIn": 120})),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{made}");
        let short = made["token"].as_str().unwrap().to_owned();
        assert!(short.starts_with("mt_"));
        assert!(!app.dump_table("management_token").await.contains(&short));
        let (status, _) = app.manage(Method::GET, "/v1/projects", &short, None).await;
        assert_eq!(status, StatusCode::OK);
        let (_, list) = app
            .manage(Method::GET, "/v1/management-tokens", &root, None)
            .await;
        let listed = list["managementTokens"].as_array().unwrap();
        assert!(listed
            .iter()
            .any(|t| t["id"] == made["managementToken"]["id"]));
        assert!(listed.iter().all(|t| t.get("token").is_none()));
        assert!(!list.to_string().contains(&short));
        assert!(listed.iter().any(|t| !t["lastUsedAt"].is_null()), "{list}");
        // Expired: refused.
        app.clock.advance(std::time::Duration::from_secs(121));
        let (status, body) = app.manage(Method::GET, "/v1/projects", &short, None).await;
        assert_eq!(
            (status, body["error"]["code"].as_str()),
            (StatusCode::UNAUTHORIZED, Some("invalid_token"))
        );
        let (status, _) = app
            .manage(
                Method::POST,
                "/v1/management-tokens",
                &root,
                Some(json!({"name": "forever", "expiresIn": 400 * 86400})),
            )
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "no token lives for ever");
        // Revoked: refused at once.
        let (_, made) = app
            .manage(
                Method::POST,
                "/v1/management-tokens",
                &root,
                Some(json!({"name": "leaked"})),
            )
            .await;
        let leaked = made["token"].as_str().unwrap().to_owned();
        let id = made["managementToken"]["id"].as_str().unwrap();
        let (status, _) = app
            .manage(
                Method::DELETE,
                &format!("/v1/management-tokens/{id}"),
                &root,
                None,
            )
            .await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(
            app.manage(Method::GET, "/v1/projects", &leaked, None)
                .await
                .0,
            StatusCode::UNAUTHORIZED
        );
        // Scoped to one project: sees and manages only it.
        let (other, _) = app.other_project().await;
        let (status, made) = app
            .manage(
                Method::POST,
                "/v1/management-tokens",
                &root,
                Some(json!({"name": "one project", "projectId": app.project.id})),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{made}");
        let scoped = made["token"].as_str().unwrap().to_owned();
        let (_, list) = app.manage(Method::GET, "/v1/projects", &scoped, None).await;
        let ids: Vec<&str> = list["projects"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["id"].as_str().unwrap())
            .collect();
        assert_eq!(ids, [app.project.id.as_str()]);
        let own = format!("/v1/projects/{}", app.project.id);
        assert_eq!(
            app.manage(Method::GET, &own, &scoped, None).await.0,
            StatusCode::OK
        );
        let theirs = format!("/v1/projects/{}", other.id);
        for method in [Method::GET, Method::DELETE] {
            assert_eq!(
                app.manage(method, &theirs, &scoped, None).await.0,
                StatusCode::NOT_FOUND
            );
        }
        assert_eq!(
            app.manage(Method::POST, &format!("{theirs}/api-keys"), &scoped, None)
                .await
                .0,
            StatusCode::NOT_FOUND
        );
        let (status, body) = app
            .manage(
                Method::POST,
                "/v1/projects",
                &scoped,
                Some(json!({"name": "More"})),
            )
            .await;
        assert_eq!(
            (status, body["error"]["code"].as_str()),
            (StatusCode::FORBIDDEN, Some("forbidden"))
        );
        assert_eq!(
            app.manage(Method::GET, "/v1/management-tokens", &scoped, None)
                .await
                .0,
            StatusCode::FORBIDDEN
        );
        app
    }
);

both_dbs!(
    signing_keys_rotate_through_the_api_at_once,
    |app| async move {
        let mt = token(&app).await;
        let before = app.signup("rotate@example.com", PASSWORD).await;
        let old_token = before["accessToken"].as_str().unwrap().to_owned();
        let old_kid = jwt_header(&old_token)["kid"].as_str().unwrap().to_owned();
        let path = format!("/v1/projects/{}/keys/rotate", app.project.id);
        let (status, rotated) = app.manage(Method::POST, &path, &mt, None).await;
        assert_eq!(status, StatusCode::OK, "{rotated}");
        let kid = rotated["kid"].as_str().unwrap();
        assert!(kid.starts_with("kid_") && kid != old_kid);
        // The very next token carries the new key: no reload interval to wait out.
        let (status, after) = app.login("rotate@example.com", PASSWORD).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(
            jwt_header(after["accessToken"].as_str().unwrap())["kid"],
            kid
        );
        // What the old key signed keeps verifying, and both keys are published.
        assert_eq!(app.verify(&old_token).await.0, StatusCode::OK);
        let jwks_path = format!("/p/{}/.well-known/jwks.json", app.project.login_id);
        let (_, jwks) = app.get(&jwks_path).await;
        let kids: Vec<_> = jwks["keys"]
            .as_array()
            .unwrap()
            .iter()
            .map(|k| k["kid"].clone())
            .collect();
        assert!(
            kids.contains(&json!(kid)) && kids.contains(&json!(old_kid)),
            "{jwks}"
        );
        // A token limited to another project cannot rotate this one's keys.
        let (other, _) = app.other_project().await;
        let (_, scoped) = app
            .manage(
                Method::POST,
                "/v1/management-tokens",
                &mt,
                Some(json!({"name": "other", "projectId": other.id})),
            )
            .await;
        let scoped = scoped["token"].as_str().unwrap();
        let (status, _) = app.manage(Method::POST, &path, scoped, None).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        app
    }
);
