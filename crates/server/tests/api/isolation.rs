//! Tenancy: one project's API key reaches nothing of another's (SECURITY AZ2, AZ3).

use protekt_testkit::both_dbs;
use protekt_testkit::*;
use reqwest::StatusCode;
use serde_json::json;

both_dbs!(
    project_b_cannot_see_or_log_in_project_a_users_az2,
    |app| async move {
        let a = app.signup("shared@example.com", PASSWORD).await;
        let (_, b_key) = app.other_project().await;
        let access = a["accessToken"].as_str().unwrap();
        let refresh = a["refreshToken"].as_str().unwrap();

        let (status, body) = app
            .post_with_key(
                &b_key,
                "/v1/auth/login",
                json!({"email": "shared@example.com", "password": PASSWORD}),
            )
            .await;
        assert_eq!(
            (status, body["error"]["code"].as_str()),
            (StatusCode::UNAUTHORIZED, Some("invalid_credentials"))
        );
        let (status, _) = app
            .post_with_key(&b_key, "/v1/auth/verify", json!({"token": access}))
            .await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        let (status, _) = app
            .post_with_key(&b_key, "/v1/auth/refresh", json!({"refreshToken": refresh}))
            .await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        // B revoking A's tokens has no effect on A.
        app.post_with_key(&b_key, "/v1/auth/revoke", json!({"token": refresh}))
            .await;
        app.post_with_key(&b_key, "/v1/auth/revoke", json!({"token": access}))
            .await;
        assert_eq!(app.verify(access).await.0, StatusCode::OK);
        // The same email can exist in both projects, separately.
        let (status, _) = app
            .post_with_key(
                &b_key,
                "/v1/auth/signup",
                json!({"email": "shared@example.com", "password": PASSWORD}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED);
        app
    }
);

both_dbs!(every_v1_route_needs_a_valid_api_key, |app| async move {
    // Every operation the OpenAPI document (generated from the handlers) lists as needing the
    // API key, with path parameters filled in and an empty body.
    let (_, doc) = app.get("/openapi.json").await;
    let mut checked = 0;
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            let needs_key = op["security"]
                .as_array()
                .is_some_and(|s| s.iter().any(|req| req.get("apiKey").is_some()));
            if !needs_key {
                continue;
            }
            let concrete = path
                .replace("{id}", "usr_someone")
                .replace("{login_id}", "lp_x");
            let method = reqwest::Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
            for key in [None, Some("pk_live_wrong")] {
                let mut req = app
                    .http
                    .request(method.clone(), format!("{}{concrete}", app.base))
                    .bearer_auth("not-a-token")
                    .json(&json!({}));
                if let Some(k) = key {
                    req = req.header("x-api-key", k);
                }
                let resp = req.send().await.unwrap();
                assert_eq!(
                    resp.status(),
                    StatusCode::UNAUTHORIZED,
                    "{method} {path} {key:?}"
                );
                let body: serde_json::Value = resp.json().await.unwrap();
                assert_eq!(body["error"]["code"], "invalid_api_key", "{method} {path}");
            }
            checked += 1;
        }
    }
    assert!(checked >= 20, "only {checked} operations need the API key?");
    // A revoked key stops working at once.
    app.store
        .projects()
        .revoke_api_keys(&app.project.id, app.clock.now())
        .await
        .unwrap();
    let (status, body) = app
        .post(
            "/v1/auth/login",
            json!({"email": "a@example.com", "password": "x"}),
        )
        .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("invalid_api_key"))
    );
    app
});

// Deny by default (SECURITY AZ1): every operation of the OpenAPI document (generated from the
// handlers) declares who may call it, and only the few public ones declare no one. Each
// management operation refuses a request without a management token.
both_dbs!(
    every_operation_declares_who_may_call_it_az1,
    |app| async move {
        let public = [
            "get /healthz",
            "get /readyz",
            "get /openapi.json",
            "get /p/{login_id}/.well-known/jwks.json",
        ];
        let (_, doc) = app.get("/openapi.json").await;
        let mut management = 0;
        for (path, item) in doc["paths"].as_object().unwrap() {
            for (method, op) in item.as_object().unwrap() {
                let name = format!("{method} {path}");
                let schemes: Vec<&str> = op["security"]
                    .as_array()
                    .map(|s| {
                        s.iter()
                            .flat_map(|r| r.as_object().unwrap().keys())
                            .map(String::as_str)
                            .collect()
                    })
                    .unwrap_or_default();
                if public.contains(&name.as_str()) {
                    assert!(
                        schemes.is_empty(),
                        "{name} is public but declares {schemes:?}"
                    );
                    continue;
                }
                assert!(
                    !schemes.is_empty(),
                    "{name} declares no security requirement"
                );
                for scheme in &schemes {
                    assert!(
                        ["apiKey", "bearer", "managementToken"].contains(scheme),
                        "{name}: unknown scheme {scheme}"
                    );
                }
                if schemes == ["managementToken"] {
                    let concrete = path
                        .replace("{id}", "prj_someone")
                        .replace("{key_id}", "key_x");
                    let method =
                        reqwest::Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
                    let resp = app
                        .http
                        .request(method, format!("{}{concrete}", app.base))
                        .header("x-api-key", &app.api_key)
                        .json(&json!({}))
                        .send()
                        .await
                        .unwrap();
                    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED, "{name}");
                    management += 1;
                }
            }
        }
        assert!(management >= 10, "only {management} management operations?");
        app
    }
);

both_dbs!(
    authorization_changes_take_effect_on_the_next_request_az5,
    |app| async move {
        use reqwest::Method;
        // An operator's management token, revoked: the very next call with it is refused.
        let mt = app.management_token().await;
        let (status, list) = app
            .manage(Method::GET, "/v1/management-tokens", &mt, None)
            .await;
        assert_eq!(status, StatusCode::OK, "{list}");
        let id = list["managementTokens"][0]["id"]
            .as_str()
            .unwrap()
            .to_owned();
        let other = app.management_token().await;
        let path = format!("/v1/management-tokens/{id}");
        let (status, _) = app.manage(Method::DELETE, &path, &other, None).await;
        assert_eq!(status, StatusCode::OK);
        let (status, body) = app.manage(Method::GET, "/v1/projects", &mt, None).await;
        assert_eq!(
            (status, &body["error"]["code"]),
            (StatusCode::UNAUTHORIZED, &json!("invalid_token"))
        );

        // A user disabled by the project: every stateful check refuses the next request, with
        // the access token already handed out and with the refresh token.
        let user = app.signup("disabled@example.com", PASSWORD).await;
        let access = user["accessToken"].as_str().unwrap().to_owned();
        let refresh = user["refreshToken"].as_str().unwrap().to_owned();
        let (status, _) = app.verify(&access).await;
        assert_eq!(status, StatusCode::OK);
        let user_path = format!("/v1/users/{}", user["user"]["id"].as_str().unwrap());
        let (status, _) = app
            .request(
                Method::PATCH,
                &user_path,
                None,
                Some(json!({"disabled": true})),
            )
            .await;
        assert_eq!(status, StatusCode::OK);
        // Disabling ends every session of the user, so the token's session is gone.
        let (status, body) = app.verify(&access).await;
        assert_eq!(
            (status, &body["error"]["code"]),
            (StatusCode::UNAUTHORIZED, &json!("invalid_token"))
        );
        let (status, _) = app.refresh(&refresh).await;
        assert!(status.is_client_error(), "refresh after disable: {status}");
        let (status, _) = app
            .request(Method::GET, "/v1/sessions", Some(&access), None)
            .await;
        assert!(status.is_client_error(), "sessions after disable: {status}");
        // A JWT consumer that verifies offline sees it when the token expires: the README says
        // so, with the access-token lifetime as the bound.
        let readme =
            std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../README.md"))
                .unwrap();
        assert!(
            readme.contains("SECURITY AZ5"),
            "the README documents the delay"
        );
        app
    }
);
