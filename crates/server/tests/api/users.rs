//! `/v1/users`: listing, search, get, update, delete (SECURITY AZ2, AZ3, D3, S4, T5).

use protekt_core::model::{User, UserId};
use protekt_testkit::both_dbs;
use protekt_testkit::*;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use std::collections::HashSet;

/// Inserts a user straight into the store (fast: no password hashing).
async fn insert(app: &TestApp, email: &str) -> UserId {
    let now = app.clock.now();
    let id = protekt_core::ids::new::<UserId>();
    let user = User {
        id: id.clone(),
        project_id: app.project.id.clone(),
        email: Some(email.to_owned()),
        email_verified: false,
        phone: None,
        phone_verified: false,
        metadata: json!({}),
        disabled: false,
        created_at: now,
        updated_at: now,
        last_login_at: None,
        mfa_methods: Vec::new(),
    };
    app.store
        .users()
        .insert(&user, Some(&email.to_lowercase()), None)
        .await
        .unwrap();
    id
}

async fn list(app: &TestApp, query: &str) -> (StatusCode, Value) {
    app.request(Method::GET, &format!("/v1/users{query}"), None, None)
        .await
}

both_dbs!(
    pagination_walks_every_user_once_while_users_are_added,
    |app| async move {
        let mut expected = HashSet::new();
        for i in 0..250 {
            expected.insert(insert(&app, &format!("page{i:03}@example.com")).await);
        }
        let mut seen = Vec::new();
        let mut cursor: Option<String> = None;
        let mut pages = 0;
        loop {
            let q = match &cursor {
                Some(c) => format!("?limit=20&cursor={c}"),
                None => "?limit=20".to_owned(),
            };
            let (status, page) = list(&app, &q).await;
            assert_eq!(status, StatusCode::OK, "{page}");
            let users = page["users"].as_array().unwrap();
            assert!(users.len() <= 20);
            seen.extend(
                users
                    .iter()
                    .map(|u| UserId::from(u["id"].as_str().unwrap())),
            );
            pages += 1;
            // Someone signs up while we page.
            insert(&app, &format!("late{pages:03}@example.com")).await;
            if !page["hasMore"].as_bool().unwrap() {
                assert!(page["nextCursor"].is_null());
                break;
            }
            cursor = Some(page["nextCursor"].as_str().unwrap().to_owned());
            assert!(pages < 50, "pagination does not end");
        }
        let unique: HashSet<_> = seen.iter().cloned().collect();
        assert_eq!(unique.len(), seen.len(), "no user is listed twice");
        assert!(
            expected.is_subset(&unique),
            "no user that existed before is skipped"
        );
        app
    }
);

both_dbs!(
    search_matches_email_and_id_prefixes_case_insensitively,
    |app| async move {
        let ada = insert(&app, "Ada.Lovelace@Example.com").await;
        insert(&app, "ada.byron@example.com").await;
        insert(&app, "grace@example.com").await;
        for i in 0..30 {
            insert(&app, &format!("adam{i:02}@example.org")).await;
        }
        let (_, page) = list(&app, "?search=ADA.").await;
        let emails: Vec<&str> = page["users"]
            .as_array()
            .unwrap()
            .iter()
            .map(|u| u["email"].as_str().unwrap())
            .collect();
        assert_eq!(
            emails,
            vec!["ada.byron@example.com", "Ada.Lovelace@Example.com"]
        );
        // Search results page too.
        let (_, first) = list(&app, "?search=adam&limit=20").await;
        assert_eq!(first["users"].as_array().unwrap().len(), 20);
        let (_, second) = list(
            &app,
            &format!(
                "?search=adam&limit=20&cursor={}",
                first["nextCursor"].as_str().unwrap()
            ),
        )
        .await;
        assert_eq!(second["users"].as_array().unwrap().len(), 10);
        assert_eq!(second["hasMore"], false);
        // By id prefix.
        let (_, by_id) = list(&app, &format!("?search={}", &ada.to_uppercase()[..12])).await;
        assert!(by_id["users"]
            .as_array()
            .unwrap()
            .iter()
            .any(|u| u["id"] == ada.as_str()));
        let (_, by_full_id) = list(&app, &format!("?search={ada}")).await;
        assert_eq!(by_full_id["users"].as_array().unwrap().len(), 1);
        // Nothing found is an empty page, not an error.
        let (status, none) = list(&app, "?search=nobody").await;
        assert_eq!(
            (status, none["users"].as_array().unwrap().len()),
            (StatusCode::OK, 0)
        );
        app
    }
);

both_dbs!(list_parameters_are_bounded_d3, |app| async move {
    for (q, field) in [
        ("?limit=0", "limit"),
        ("?limit=101", "limit"),
        ("?limit=100000", "limit"),
        ("?limit=abc", "limit"),
        ("?limit=1.5", "limit"),
    ] {
        let (status, body) = list(&app, q).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{q}: {body}");
        assert_eq!(body["error"]["code"], "invalid_request", "{q}");
        assert_eq!(body["error"]["field"], field, "{q}");
    }
    // A cursor is opaque: one the server did not make is well formed and refused.
    for q in ["?cursor=garbage", "?cursor=eyJ4IjoxfQ"] {
        let (status, body) = list(&app, q).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{q}: {body}");
        assert_eq!(body["error"]["code"], "value_not_allowed", "{q}");
        assert_eq!(body["error"]["field"], "cursor", "{q}");
    }
    let (status, _) = list(&app, "?limit=100").await;
    assert_eq!(status, StatusCode::OK);
    // A cursor from one listing is refused by another.
    for i in 0..3 {
        insert(&app, &format!("c{i}@example.com")).await;
    }
    let (_, page) = list(&app, "?limit=1").await;
    let (status, _) = list(
        &app,
        &format!(
            "?limit=1&search=c&cursor={}",
            page["nextCursor"].as_str().unwrap()
        ),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    app
});

both_dbs!(get_update_and_delete_a_user, |app| async move {
    let body = app
        .post("/v1/auth/signup", json!({"email": "meta@example.com", "password": PASSWORD, "metadata": {"plan": "free", "team": "a"}}))
        .await
        .1;
    let id = body["user"]["id"].as_str().unwrap().to_owned();
    let (status, got) = app
        .request(Method::GET, &format!("/v1/users/{id}"), None, None)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(got["user"]["email"], "meta@example.com");

    // Metadata merges at top level; null removes a key.
    let (status, updated) = app
        .request(
            Method::PATCH,
            &format!("/v1/users/{id}"),
            None,
            Some(json!({"metadata": {"plan": "pro", "team": null, "seats": 3}})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{updated}");
    assert_eq!(
        updated["user"]["metadata"],
        json!({"plan": "pro", "seats": 3})
    );
    assert_ne!(updated["user"]["updatedAt"], got["user"]["updatedAt"]);

    // A new email must be free, and becomes unverified.
    app.signup("other@example.com", PASSWORD).await;
    let (status, body) = app
        .request(
            Method::PATCH,
            &format!("/v1/users/{id}"),
            None,
            Some(json!({"email": "OTHER@example.com"})),
        )
        .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (StatusCode::CONFLICT, Some("email_taken"))
    );
    let (status, body) = app
        .request(
            Method::PATCH,
            &format!("/v1/users/{id}"),
            None,
            Some(json!({"email": "new@example.com"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["user"]["email"], "new@example.com");
    assert_eq!(body["user"]["emailVerified"], false);
    assert_eq!(
        app.login("new@example.com", PASSWORD).await.0,
        StatusCode::OK
    );

    // AZ3: fields this API cannot write are refused, not ignored silently; F6: an admin
    // cannot set (or see) a password here.
    for bad in [
        json!({"password": "admin-chosen-password"}),
        json!({"passwordHash": "$argon2id$..."}),
        json!({"emailVerified": true}),
        json!({"metadata": [1]}),
        json!({"email": "not-an-email"}),
        json!({"disabled": "yes"}),
    ] {
        let (status, body) = app
            .request(
                Method::PATCH,
                &format!("/v1/users/{id}"),
                None,
                Some(bad.clone()),
            )
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}: {body}");
    }

    let (status, _) = app
        .request(Method::DELETE, &format!("/v1/users/{id}"), None, None)
        .await;
    assert_eq!(status, StatusCode::OK);
    for method in [Method::GET, Method::DELETE] {
        let (status, body) = app
            .request(method, &format!("/v1/users/{id}"), None, None)
            .await;
        assert_eq!(
            (status, body["error"]["code"].as_str()),
            (StatusCode::NOT_FOUND, Some("not_found"))
        );
    }
    let (status, _) = app
        .request(
            Method::PATCH,
            "/v1/users/usr_unknown",
            None,
            Some(json!({"disabled": true})),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    app
});

both_dbs!(
    disabling_a_user_kills_live_tokens_and_sessions_at_once_s4_t5,
    |app| async move {
        let body = app.signup("dis@example.com", PASSWORD).await;
        let id = body["user"]["id"].as_str().unwrap().to_owned();
        let access = body["accessToken"].as_str().unwrap().to_owned();
        let refresh = body["refreshToken"].as_str().unwrap().to_owned();
        assert_eq!(app.verify(&access).await.0, StatusCode::OK);
        let (status, user) = app
            .request(
                Method::PATCH,
                &format!("/v1/users/{id}"),
                None,
                Some(json!({"disabled": true})),
            )
            .await;
        assert_eq!(
            (status, user["user"]["disabled"].as_bool()),
            (StatusCode::OK, Some(true))
        );
        // Its sessions ended with it: the token is dead, not merely refused for a while.
        let (status, body) = app.verify(&access).await;
        assert_eq!(
            (status, body["error"]["code"].as_str()),
            (StatusCode::UNAUTHORIZED, Some("invalid_token"))
        );
        assert_ne!(app.refresh(&refresh).await.0, StatusCode::OK);
        let (status, body) = app.login("dis@example.com", PASSWORD).await;
        assert_eq!(
            (status, body["error"]["code"].as_str()),
            (StatusCode::FORBIDDEN, Some("user_disabled"))
        );
        // Enabling again does not bring the ended sessions back, but login works.
        app.request(
            Method::PATCH,
            &format!("/v1/users/{id}"),
            None,
            Some(json!({"disabled": false})),
        )
        .await;
        assert_eq!(app.verify(&access).await.0, StatusCode::UNAUTHORIZED);
        assert_eq!(
            app.login("dis@example.com", PASSWORD).await.0,
            StatusCode::OK
        );
        app
    }
);

both_dbs!(
    deleting_a_user_kills_live_tokens_at_once,
    |app| async move {
        let body = app.signup("del@example.com", PASSWORD).await;
        let id = body["user"]["id"].as_str().unwrap().to_owned();
        let access = body["accessToken"].as_str().unwrap().to_owned();
        assert_eq!(app.verify(&access).await.0, StatusCode::OK);
        app.request(Method::DELETE, &format!("/v1/users/{id}"), None, None)
            .await;
        assert_eq!(app.verify(&access).await.0, StatusCode::UNAUTHORIZED);
        assert_eq!(
            app.refresh(body["refreshToken"].as_str().unwrap()).await.0,
            StatusCode::UNAUTHORIZED
        );
        // The address is free again.
        app.signup("del@example.com", PASSWORD).await;
        app
    }
);

both_dbs!(another_projects_users_are_not_found_az2, |app| async move {
    let body = app.signup("mine@example.com", PASSWORD).await;
    let id = body["user"]["id"].as_str().unwrap().to_owned();
    let (_, other_key) = app.other_project().await;
    for (method, body) in [
        (Method::GET, None),
        (Method::PATCH, Some(json!({"disabled": true}))),
        (Method::DELETE, None),
    ] {
        let mut req = app
            .http
            .request(method.clone(), format!("{}/v1/users/{id}", app.base))
            .header("x-api-key", &other_key);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.unwrap();
        assert_eq!(resp.status(), StatusCode::NOT_FOUND, "{method}");
    }
    let resp = app
        .http
        .get(format!("{}/v1/users?search=mine", app.base))
        .header("x-api-key", &other_key)
        .send()
        .await
        .unwrap();
    let page: Value = resp.json().await.unwrap();
    assert_eq!(page["users"].as_array().unwrap().len(), 0);
    // Still there for its own project.
    assert_eq!(
        app.request(Method::GET, &format!("/v1/users/{id}"), None, None)
            .await
            .0,
        StatusCode::OK
    );
    app
});
