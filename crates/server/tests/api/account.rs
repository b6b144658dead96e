//! Email verification, password reset and change, and email delivery (SECURITY F1-F6, L4, L7,
//! O1-O4, O6, P4, P5, S5, K1, K2, AU1).

use protekt_testkit::both_dbs;
use protekt_testkit::*;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use std::time::Duration;

fn token_of(email: &Value) -> String {
    email["token"]
        .as_str()
        .expect("the email carries a token")
        .to_owned()
}

both_dbs!(
    password_reset_round_trip_ends_sessions_and_notifies_f2_s5_p5,
    |app| async move {
        let body = app.signup("reset@example.com", PASSWORD).await;
        let access = body["accessToken"].as_str().unwrap().to_owned();
        let (status, answer) = app
            .post(
                "/v1/auth/password-reset",
                json!({"email": "RESET@example.com"}),
            )
            .await;
        assert_eq!((status, answer), (StatusCode::OK, json!({"ok": true})));
        let email = app
            .wait_for_email("reset@example.com", "password_reset", 1)
            .await;
        let link = email["link"].as_str().unwrap();
        assert!(
            link.starts_with(&format!(
                "{}/p/{}/reset-password?token=",
                app.base, app.project.login_id
            )),
            "{link}"
        );
        assert!(email["text"].as_str().unwrap().contains(link));
        assert!(email["subject"].as_str().unwrap().contains("Test Project"));
        let token = token_of(&email);

        // P4 on the reset path; a weak password does not use the token up.
        let (status, body) = app
            .post(
                "/v1/auth/password-reset/confirm",
                json!({"resetToken": token, "newPassword": "password123!"}),
            )
            .await;
        assert_eq!(
            (status, body["error"]["code"].as_str()),
            (StatusCode::UNPROCESSABLE_ENTITY, Some("weak_password"))
        );
        assert_eq!(body["error"]["field"], "newPassword");
        let (status, body) = app
            .post(
                "/v1/auth/password-reset/confirm",
                json!({"resetToken": token, "newPassword": "a-brand-new-passphrase"}),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        // Single use.
        let (status, body) = app
            .post(
                "/v1/auth/password-reset/confirm",
                json!({"resetToken": token, "newPassword": "yet-another-passphrase"}),
            )
            .await;
        assert_eq!(
            (status, body["error"]["code"].as_str()),
            (StatusCode::UNAUTHORIZED, Some("invalid_token"))
        );
        // S5: every session ended; the old password is gone, the new one works.
        assert_eq!(app.verify(&access).await.0, StatusCode::UNAUTHORIZED);
        assert_eq!(
            app.login("reset@example.com", PASSWORD).await.0,
            StatusCode::UNAUTHORIZED
        );
        let (status, login) = app
            .login("reset@example.com", "a-brand-new-passphrase")
            .await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(
            login["user"]["emailVerified"], true,
            "the reset proved the mailbox"
        );
        // P5: told out of band, and audited.
        app.wait_for_email("reset@example.com", "password_changed", 1)
            .await;
        let events = app
            .store
            .ops()
            .recent_events(&app.project.id, 50)
            .await
            .unwrap();
        assert!(events
            .iter()
            .any(|e| e.kind == "password.reset" && e.result == "success"));
        assert!(events.iter().any(|e| e.kind == "password.reset_requested"));
        app
    }
);

both_dbs!(
    a_new_reset_token_voids_the_previous_one_and_tokens_expire_f2_o1,
    |app| async move {
        app.signup("twice@example.com", PASSWORD).await;
        app.post(
            "/v1/auth/password-reset",
            json!({"email": "twice@example.com"}),
        )
        .await;
        let first = token_of(
            &app.wait_for_email("twice@example.com", "password_reset", 1)
                .await,
        );
        app.post(
            "/v1/auth/password-reset",
            json!({"email": "twice@example.com"}),
        )
        .await;
        let second = token_of(
            &app.wait_for_email("twice@example.com", "password_reset", 2)
                .await,
        );
        let (status, _) = app
            .post(
                "/v1/auth/password-reset/confirm",
                json!({"resetToken": first, "newPassword": "first-new-passphrase"}),
            )
            .await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "the older token is void");
        // O1: expiry (1 hour by default).
        app.clock.advance(Duration::from_secs(3601));
        let (status, _) = app
            .post(
                "/v1/auth/password-reset/confirm",
                json!({"resetToken": second, "newPassword": "second-new-passphrase"}),
            )
            .await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "the token expired");
        app
    }
);

both_dbs!(
    concurrent_redemptions_of_one_reset_token_succeed_once_o1,
    |app| async move {
        app.signup("race@example.com", PASSWORD).await;
        app.post(
            "/v1/auth/password-reset",
            json!({"email": "race@example.com"}),
        )
        .await;
        let token = token_of(
            &app.wait_for_email("race@example.com", "password_reset", 1)
                .await,
        );
        let attempts = (0..10).map(|i| {
            app.post(
                "/v1/auth/password-reset/confirm",
                json!({"resetToken": token, "newPassword": format!("racing-passphrase-{i}")}),
            )
        });
        let results = futures::future::join_all(attempts).await;
        assert_eq!(
            results.iter().filter(|(s, _)| *s == StatusCode::OK).count(),
            1,
            "{results:?}"
        );
        app
    }
);

both_dbs!(
    reset_answers_are_identical_for_unknown_addresses_l4_f3_f6,
    |app| async move {
        app.signup("known@example.com", PASSWORD).await;
        let send = |email: &'static str| {
            app.http
                .post(format!("{}/v1/auth/password-reset", app.base))
                .header("x-api-key", &app.api_key)
                .json(&json!({"email": email}))
                .send()
        };
        let a = send("known@example.com").await.unwrap();
        let b = send("unknown@example.com").await.unwrap();
        assert_eq!(a.status(), b.status());
        assert_eq!(headers_without_date(&a), headers_without_date(&b));
        assert_eq!(a.text().await.unwrap(), b.text().await.unwrap());
        assert_eq!(
            app.count_emails("unknown@example.com", "password_reset")
                .await,
            0
        );
        assert_eq!(
            app.count_emails("known@example.com", "password_reset")
                .await,
            1
        );
        // F3: an array of addresses is refused before anything is sent.
        let (status, body) = app
            .post(
                "/v1/auth/password-reset",
                json!({"email": ["known@example.com", "attacker@evil.test"]}),
            )
            .await;
        assert_eq!(
            (status, body["error"]["field"].as_str()),
            (StatusCode::BAD_REQUEST, Some("email"))
        );
        let (status, _) = app
            .post(
                "/v1/auth/password-reset",
                json!({"email": "known@example.com,attacker@evil.test"}),
            )
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        app
    }
);

both_dbs!(
    reset_links_use_only_the_configured_public_url_f1,
    |app| async move {
        app.signup("host@example.com", PASSWORD).await;
        let resp = app
            .http
            .post(format!("{}/v1/auth/password-reset", app.base))
            .header("x-api-key", &app.api_key)
            .header("x-forwarded-host", "evil.test")
            .header("x-forwarded-proto", "https")
            .header("forwarded", "host=evil.test;proto=https")
            .json(&json!({"email": "host@example.com"}))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::OK);
        let email = app
            .wait_for_email("host@example.com", "password_reset", 1)
            .await;
        for part in ["text", "html", "link"] {
            assert!(
                !email[part].as_str().unwrap().contains("evil.test"),
                "{part}"
            );
        }
        assert!(email["link"].as_str().unwrap().starts_with(&app.base));
        app
    }
);

both_dbs!(send_quotas_per_recipient_l7, |app| async move {
    app.signup("bomb@example.com", PASSWORD).await;
    for _ in 0..5 {
        let (status, _) = app
            .post(
                "/v1/auth/password-reset",
                json!({"email": "bomb@example.com"}),
            )
            .await;
        assert_eq!(status, StatusCode::OK);
    }
    let resp = app
        .http
        .post(format!("{}/v1/auth/password-reset", app.base))
        .header("x-api-key", &app.api_key)
        .json(&json!({"email": "bomb@example.com"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(resp.headers().contains_key("retry-after"));
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["error"]["code"], "rate_limited");
    assert!(body["error"]["retryAfter"].as_u64().unwrap() > 0);
    app.wait_for_email("bomb@example.com", "password_reset", 5)
        .await;
    assert_eq!(
        app.count_emails("bomb@example.com", "password_reset").await,
        5,
        "the 6th request sent nothing"
    );
    // Unknown addresses are counted the same way (no enumeration through the quota).
    for _ in 0..5 {
        app.post(
            "/v1/auth/password-reset",
            json!({"email": "ghost@example.com"}),
        )
        .await;
    }
    assert_eq!(
        app.post(
            "/v1/auth/password-reset",
            json!({"email": "ghost@example.com"})
        )
        .await
        .0,
        StatusCode::TOO_MANY_REQUESTS
    );
    // Per end-user address, when the backend passes it (X-Client-Ip): 30 an hour.
    for i in 0..31 {
        let resp = app
            .http
            .post(format!("{}/v1/auth/password-reset", app.base))
            .header("x-api-key", &app.api_key)
            .header("x-client-ip", "203.0.113.7")
            .json(&json!({"email": format!("spray{i}@example.com")}))
            .send()
            .await
            .unwrap();
        let expected = if i < 30 {
            StatusCode::OK
        } else {
            StatusCode::TOO_MANY_REQUESTS
        };
        assert_eq!(resp.status(), expected, "request {i}");
    }
    // Another end user behind the same backend is not affected.
    let resp = app
        .http
        .post(format!("{}/v1/auth/password-reset", app.base))
        .header("x-api-key", &app.api_key)
        .header("x-client-ip", "203.0.113.8")
        .json(&json!({"email": "spray-other@example.com"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    // A new hour, a new quota.
    app.clock.advance(Duration::from_secs(3600));
    assert_eq!(
        app.post(
            "/v1/auth/password-reset",
            json!({"email": "bomb@example.com"})
        )
        .await
        .0,
        StatusCode::OK
    );
    app
});

both_dbs!(email_verification_by_api_o1_o5, |app| async move {
    let (status, body) = app
        .post(
            "/v1/auth/signup",
            json!({"email": "verify@example.com", "password": PASSWORD, "sendVerification": true}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(body["user"]["emailVerified"], false);
    let email = app
        .wait_for_email("verify@example.com", "verify_email", 1)
        .await;
    let token = token_of(&email);
    // O5: a verification token is not a reset token.
    let (status, _) = app
        .post(
            "/v1/auth/password-reset/confirm",
            json!({"resetToken": token, "newPassword": "some-new-passphrase"}),
        )
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, verified) = app
        .post("/v1/auth/verify-email", json!({"token": token}))
        .await;
    assert_eq!(status, StatusCode::OK, "{verified}");
    assert_eq!(verified["user"]["emailVerified"], true);
    let (status, _) = app
        .post("/v1/auth/verify-email", json!({"token": token}))
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "single use");
    // Resend answers the same for anyone, and sends nothing to verified or unknown addresses.
    for who in ["verify@example.com", "nobody@example.com"] {
        assert_eq!(
            app.post("/v1/auth/verify-email/send", json!({"email": who}))
                .await,
            (StatusCode::OK, json!({"ok": true}))
        );
    }
    assert_eq!(
        app.count_emails("verify@example.com", "verify_email").await,
        1
    );
    assert_eq!(
        app.count_emails("nobody@example.com", "verify_email").await,
        0
    );
    app
});

both_dbs!(
    a_project_can_require_a_verified_email_to_log_in,
    |app| async move {
        let token = app.management_token().await;
        let (status, _) = app
            .manage(
                Method::PATCH,
                &format!("/v1/projects/{}", app.project.id),
                &token,
                Some(json!({"settings": {"requireEmailVerification": true}})),
            )
            .await;
        assert_eq!(status, StatusCode::OK);
        // Sign-up gives no session until the email is verified, and sends the link by itself.
        let (status, signup) = app
            .post(
                "/v1/auth/signup",
                json!({"email": "must@example.com", "password": PASSWORD}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED);
        assert!(
            signup["accessToken"].is_null() && signup["refreshToken"].is_null(),
            "{signup}"
        );
        let (status, body) = app.login("must@example.com", PASSWORD).await;
        assert_eq!(
            (status, body["error"]["code"].as_str()),
            (StatusCode::FORBIDDEN, Some("email_not_verified"))
        );
        // A wrong password still says only invalid_credentials.
        assert_eq!(
            app.login("must@example.com", "wrong-password-x").await.1["error"]["code"],
            "invalid_credentials"
        );
        let email = app
            .wait_for_email("must@example.com", "verify_email", 1)
            .await;
        app.post("/v1/auth/verify-email", json!({"token": token_of(&email)}))
            .await;
        assert_eq!(
            app.login("must@example.com", PASSWORD).await.0,
            StatusCode::OK
        );
        app
    }
);

both_dbs!(
    hosted_pages_do_not_consume_on_get_and_redirect_only_where_allowed_o6_f5_u1,
    |app| async move {
        let mgmt = app.management_token().await;
        app.manage(
            Method::PATCH,
            &format!("/v1/projects/{}", app.project.id),
            &mgmt,
            Some(json!({"settings": {"allowedRedirectUrls": ["https://app.example.com/welcome"]}})),
        )
        .await;
        app.signup("page@example.com", PASSWORD).await;
        // U1: a redirect outside the allow-list is refused up front: 422 for a URL the list
        // does not hold, 400 for one that is no absolute http(s) URL at all.
        for (bad, status_wanted, code_wanted) in [
            (
                "https://evil.test/welcome",
                StatusCode::UNPROCESSABLE_ENTITY,
                "value_not_allowed",
            ),
            (
                "https://app.example.com/welcome/../x",
                StatusCode::UNPROCESSABLE_ENTITY,
                "value_not_allowed",
            ),
            ("//evil.test", StatusCode::BAD_REQUEST, "invalid_request"),
            (
                "javascript:alert(1)",
                StatusCode::BAD_REQUEST,
                "invalid_request",
            ),
            (
                "https://app.example.com.evil.test/welcome",
                StatusCode::UNPROCESSABLE_ENTITY,
                "value_not_allowed",
            ),
        ] {
            let (status, body) = app
                .post(
                    "/v1/auth/verify-email/send",
                    json!({"email": "page@example.com", "redirectUrl": bad}),
                )
                .await;
            assert_eq!(
                (
                    status,
                    body["error"]["code"].as_str(),
                    body["error"]["field"].as_str()
                ),
                (status_wanted, Some(code_wanted), Some("redirectUrl")),
                "{bad}"
            );
        }
        app.post(
            "/v1/auth/verify-email/send",
            json!({"email": "page@example.com", "redirectUrl": "https://app.example.com/welcome"}),
        )
        .await;
        let email = app
            .wait_for_email("page@example.com", "verify_email", 1)
            .await;
        let link = email["link"].as_str().unwrap().to_owned();
        let no_redirects = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        // O6: opening the link (twice, as a scanner would) changes nothing.
        for _ in 0..2 {
            let page = no_redirects.get(&link).send().await.unwrap();
            assert_eq!(page.status(), StatusCode::OK);
            let h = page.headers();
            assert_eq!(h["referrer-policy"], "no-referrer");
            assert_eq!(h["x-frame-options"], "DENY");
            let csp = h["content-security-policy"].to_str().unwrap();
            assert!(
                csp.contains("default-src 'none'") && csp.contains("frame-ancestors 'none'"),
                "{csp}"
            );
            let html = page.text().await.unwrap();
            assert!(html.contains("<form method=\"post\""));
        }
        let user = app.login("page@example.com", PASSWORD).await.1;
        assert_eq!(user["user"]["emailVerified"], false);
        // The page's POST consumes it and goes to the allowed URL with a 303.
        let token = token_of(&email);
        let posted = no_redirects
            .post(format!(
                "{}/p/{}/verify-email",
                app.base, app.project.login_id
            ))
            .form(&[("token", token.as_str())])
            .send()
            .await
            .unwrap();
        assert_eq!(posted.status(), StatusCode::SEE_OTHER);
        assert_eq!(
            posted.headers()["location"],
            "https://app.example.com/welcome"
        );
        let again = no_redirects
            .post(format!(
                "{}/p/{}/verify-email",
                app.base, app.project.login_id
            ))
            .form(&[("token", token.as_str())])
            .send()
            .await
            .unwrap();
        assert_eq!(again.status(), StatusCode::BAD_REQUEST);
        assert_eq!(
            app.login("page@example.com", PASSWORD).await.1["user"]["emailVerified"],
            true
        );

        // The reset page: GET shows a form, POST with a weak password keeps the token, a good one works.
        app.post(
            "/v1/auth/password-reset",
            json!({"email": "page@example.com"}),
        )
        .await;
        let reset = app
            .wait_for_email("page@example.com", "password_reset", 1)
            .await;
        let reset_link = reset["link"].as_str().unwrap();
        let page = no_redirects.get(reset_link).send().await.unwrap();
        assert_eq!(page.status(), StatusCode::OK);
        assert_eq!(page.headers()["referrer-policy"], "no-referrer");
        let form_url = format!("{}/p/{}/reset-password", app.base, app.project.login_id);
        let rt = token_of(&reset);
        let weak = no_redirects
            .post(&form_url)
            .form(&[("token", rt.as_str()), ("password", "password123!")])
            .send()
            .await
            .unwrap();
        assert_eq!(weak.status(), StatusCode::BAD_REQUEST);
        assert!(weak
            .text()
            .await
            .unwrap()
            .contains("Choose a stronger password"));
        let ok = no_redirects
            .post(&form_url)
            .form(&[
                ("token", rt.as_str()),
                ("password", "hosted-page-passphrase"),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(ok.status(), StatusCode::OK);
        assert_eq!(
            app.login("page@example.com", "hosted-page-passphrase")
                .await
                .0,
            StatusCode::OK
        );
        // A page for a token that does not exist says so without a 500.
        let bogus = no_redirects
            .get(format!("{form_url}?token=<script>"))
            .send()
            .await
            .unwrap();
        assert_eq!(bogus.status(), StatusCode::BAD_REQUEST);
        assert!(!bogus.text().await.unwrap().contains("<script>"));
        app
    }
);

both_dbs!(
    change_password_needs_the_current_one_and_ends_other_sessions_p5_s5_s6,
    |app| async move {
        let a = app.signup("change@example.com", PASSWORD).await;
        let (_, b) = app.login("change@example.com", PASSWORD).await;
        let access_a = a["accessToken"].as_str().unwrap();
        let (status, body) = app
        .request(Method::POST, "/v1/auth/change-password", Some(access_a), Some(json!({"currentPassword": "wrong-password-1", "newPassword": "a-new-passphrase-1"})))
        .await;
        assert_eq!(
            (status, body["error"]["code"].as_str()),
            (StatusCode::UNAUTHORIZED, Some("invalid_credentials"))
        );
        let (status, body) = app
            .request(
                Method::POST,
                "/v1/auth/change-password",
                Some(access_a),
                Some(json!({"currentPassword": PASSWORD, "newPassword": "change2024"})),
            )
            .await;
        assert_eq!(
            (status, body["error"]["code"].as_str()),
            (StatusCode::UNPROCESSABLE_ENTITY, Some("weak_password")),
            "P4 on the change path"
        );
        assert_eq!(body["error"]["field"], "newPassword");
        let (status, _) = app
            .request(
                Method::POST,
                "/v1/auth/change-password",
                Some(access_a),
                Some(json!({"currentPassword": PASSWORD, "newPassword": "a-new-passphrase-1"})),
            )
            .await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(
            app.verify(access_a).await.0,
            StatusCode::OK,
            "the current session stays"
        );
        assert_eq!(
            app.verify(b["accessToken"].as_str().unwrap()).await.0,
            StatusCode::UNAUTHORIZED,
            "other sessions end"
        );
        assert_eq!(
            app.login("change@example.com", "a-new-passphrase-1")
                .await
                .0,
            StatusCode::OK
        );
        app.wait_for_email("change@example.com", "password_changed", 1)
            .await;
        let events = app
            .store
            .ops()
            .recent_events(&app.project.id, 50)
            .await
            .unwrap();
        assert!(events
            .iter()
            .any(|e| e.kind == "password.change" && e.result == "failure"));
        assert!(events
            .iter()
            .any(|e| e.kind == "password.change" && e.result == "success"));
        // Without an access token: refused.
        let (status, _) = app
            .request(
                Method::POST,
                "/v1/auth/change-password",
                None,
                Some(json!({"currentPassword": "x", "newPassword": "y"})),
            )
            .await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        app
    }
);

both_dbs!(
    one_time_tokens_and_email_bodies_are_not_stored_in_clear_k2,
    |app| async move {
        app.signup("k2mail@example.com", PASSWORD).await;
        app.post(
            "/v1/auth/password-reset",
            json!({"email": "k2mail@example.com"}),
        )
        .await;
        let token = token_of(
            &app.wait_for_email("k2mail@example.com", "password_reset", 1)
                .await,
        );
        let mut dump = String::new();
        for table in ["one_time_token", "email_outbox", "audit_event"] {
            dump.push_str(&app.dump_table(table).await);
        }
        assert!(dump.contains("password_reset"));
        assert!(
            !dump.contains(&token),
            "the reset token is in the database in clear"
        );
        app
    }
);

both_dbs!(outbox_files_parse_with_every_field, |app| async move {
    app.post(
        "/v1/auth/signup",
        json!({"email": "files@example.com", "password": PASSWORD, "sendVerification": true}),
    )
    .await;
    let email = app
        .wait_for_email("files@example.com", "verify_email", 1)
        .await;
    for field in [
        "id",
        "to",
        "subject",
        "text",
        "html",
        "kind",
        "link",
        "token",
        "createdAt",
    ] {
        assert!(
            email[field].is_string(),
            "outbox file lacks {field}: {email}"
        );
    }
    assert!(email["html"].as_str().unwrap().contains("<a href="));
    app
});

/// A message really delivered over SMTP to a real SMTP server (aiosmtpd), parsed back; and a
/// failed delivery is retried, not dropped.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mail_is_delivered_over_smtp_and_retried_after_a_failure() {
    let app = TestApp::spawn(Db::Sqlite).await;
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let inbox = app.data_dir().join("smtp-inbox");
    let mgmt = app.management_token().await;
    let (status, project) = app
        .manage(Method::PATCH, &format!("/v1/projects/{}", app.project.id), &mgmt,
            Some(json!({"settings": {"smtp": {"host": "127.0.0.1", "port": port, "tls": "none"}, "emailFrom": "Acme <auth@acme.test>"}})))
        .await;
    assert_eq!(status, StatusCode::OK, "{project}");
    app.signup("smtp@example.com", PASSWORD).await;

    // Nobody listens yet: the first attempt fails and the message waits for a retry.
    app.post(
        "/v1/auth/password-reset",
        json!({"email": "smtp@example.com"}),
    )
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let _ = app.mailer.deliver_due().await;
    let pending = app.dump_table("email_outbox").await;
    assert!(
        pending.contains("attempts=NoneSome(1)") && pending.contains("sent_at=NoneNone"),
        "one failed attempt, not sent: {pending}"
    );
    assert!(!inbox.exists() || std::fs::read_dir(&inbox).unwrap().next().is_none());

    let mut sink = std::process::Command::new("python3")
        .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/smtp_sink.py"))
        .arg(port.to_string())
        .arg(&inbox)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("python3 with aiosmtpd (pip install aiosmtpd) is needed for this test");
    {
        use std::io::BufRead;
        let mut line = String::new();
        std::io::BufReader::new(sink.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        assert_eq!(
            line.trim(),
            "ready",
            "the SMTP sink did not start (is aiosmtpd installed?)"
        );
    }
    // The retry is due after the back-off.
    app.clock.advance(Duration::from_secs(6));
    let mut received = Vec::new();
    for _ in 0..100 {
        let _ = app.mailer.deliver_due().await;
        received = std::fs::read_dir(&inbox)
            .map(|d| {
                d.filter_map(|e| e.ok())
                    .map(|e| e.path())
                    .filter(|p| p.extension().is_some_and(|x| x == "json"))
                    .collect()
            })
            .unwrap_or_default();
        if !received.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let _ = sink.kill();
    let _ = sink.wait();
    assert_eq!(received.len(), 1, "exactly one delivery");
    let mail: Value = serde_json::from_slice(&std::fs::read(&received[0]).unwrap()).unwrap();
    assert_eq!(mail["to"], json!(["smtp@example.com"]));
    assert_eq!(mail["from"], "auth@acme.test");
    assert_eq!(mail["subject"], "Reset your Test Project password");
    let text = mail["text"].as_str().unwrap();
    let link_start = text
        .find(&format!(
            "{}/p/{}/reset-password?token=",
            app.base, app.project.login_id
        ))
        .expect("link in the text part");
    let token = text[link_start..]
        .split_whitespace()
        .next()
        .unwrap()
        .split("token=")
        .nth(1)
        .unwrap()
        .to_owned();
    assert!(mail["html"].as_str().unwrap().contains(&token));
    // The delivered token works.
    let (status, _) = app
        .post(
            "/v1/auth/password-reset/confirm",
            json!({"resetToken": token, "newPassword": "delivered-by-smtp-pass"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    // Delivered bodies are erased from the outbox table (K2).
    assert!(!app.dump_table("email_outbox").await.contains(&token));
    app.finish().await;
}

// ---- Fixes from the security review (issue 8) ----

both_dbs!(
    redirect_urls_are_compared_parsed_and_control_characters_refused_u1,
    |app| async move {
        let mgmt = app.management_token().await;
        let path = format!("/v1/projects/{}", app.project.id);
        let (status, body) = app
            .manage(
                Method::PATCH,
                &path,
                &mgmt,
                Some(
                    json!({"settings": {"allowedRedirectUrls": ["https://app.example.com/a\nb"]}}),
                ),
            )
            .await;
        assert_eq!(
            (status, body["error"]["field"].as_str()),
            (
                StatusCode::UNPROCESSABLE_ENTITY,
                Some("settings.allowedRedirectUrls")
            )
        );
        // Stored in the serialised form; either spelling of the same URL matches it.
        let (status, body) = app
            .manage(
                Method::PATCH,
                &path,
                &mgmt,
                Some(json!({"settings": {"allowedRedirectUrls": ["https://App.Example.com"]}})),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(
            body["settings"]["allowedRedirectUrls"],
            json!(["https://app.example.com/"])
        );
        app.signup("norm@example.com", PASSWORD).await;
        for spelling in ["https://app.example.com", "https://app.example.com/"] {
            let (status, body) = app
                .post(
                    "/v1/auth/password-reset",
                    json!({"email": "norm@example.com", "redirectUrl": spelling}),
                )
                .await;
            assert_eq!(status, StatusCode::OK, "{spelling}: {body}");
        }
        // A URL with a newline stored before this check (written straight to the database) can
        // never be asked for: the request is refused up front, before any token exists.
        let mut legacy = app
            .store
            .projects()
            .by_id(&app.project.id)
            .await
            .unwrap()
            .unwrap();
        legacy.settings.allowed_redirect_urls = vec!["https://app.example.com/x\ny".into()];
        app.store.projects().update(&legacy).await.unwrap();
        let (status, body) = app
            .post(
                "/v1/auth/password-reset",
                json!({"email": "norm@example.com", "redirectUrl": "https://app.example.com/x\ny"}),
            )
            .await;
        assert_eq!(
            (status, body["error"]["field"].as_str()),
            (StatusCode::BAD_REQUEST, Some("redirectUrl"))
        );
        app
    }
);

both_dbs!(
    a_verification_racing_an_update_is_never_lost_x1,
    |app| async move {
        // Each round: the verification link is used while the user's metadata is being
        // updated. Whenever the verification says yes, the email must be verified.
        for round in 0..8 {
            let email = format!("race{round}@example.com");
            let user = app.signup(&email, PASSWORD).await;
            let id = user["user"]["id"].as_str().unwrap().to_owned();
            app.post("/v1/auth/verify-email/send", json!({"email": email}))
                .await;
            let mail = app.wait_for_email(&email, "verify_email", 1).await;
            let token = token_of(&mail);
            let user_path = format!("/v1/users/{id}");
            let updates = (0..4).map(|i| {
                app.request(
                    Method::PATCH,
                    &user_path,
                    None,
                    Some(json!({"metadata": {"n": i}})),
                )
            });
            let (verified, _) = tokio::join!(
                app.post("/v1/auth/verify-email", json!({"token": token})),
                futures::future::join_all(updates)
            );
            assert_eq!(verified.0, StatusCode::OK, "{}", verified.1);
            let (_, now) = app
                .request(Method::GET, &format!("/v1/users/{id}"), None, None)
                .await;
            assert_eq!(now["user"]["emailVerified"], true, "round {round}: {now}");
        }
        app
    }
);

both_dbs!(send_quotas_name_no_address_in_clear_m8, |app| async move {
    let resp = app
        .http
        .post(format!("{}/v1/auth/password-reset", app.base))
        .header("x-api-key", &app.api_key)
        .header("x-client-ip", "198.51.100.23")
        .json(&json!({"email": "Quota.Subject@Example.com"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    // On PostgreSQL without Redis the limiter counts in the database; on SQLite in memory,
    // so nothing of it is at rest.
    let counters = app.dump_table("rate_limit").await;
    if app.db == Db::Postgres {
        assert!(
            counters.contains("send:ip:"),
            "the quotas were counted: {counters}"
        );
    }
    for clear in ["quota.subject", "Quota.Subject", "198.51.100.23"] {
        assert!(!counters.contains(clear), "{clear} in clear: {counters}");
    }
    app
});
