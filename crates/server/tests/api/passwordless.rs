//! Passwordless sign-in: magic links through the hosted page, one-time passcodes by email, SMS
//! and WhatsApp (SECURITY O1-O6, L4, L5, L7, K1, U1).

use protekt_core::model::ProjectSettings;
use protekt_testkit::*;
use protekt_testkit::{both_dbs, both_dbs_with};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use std::time::Duration;

const APP_URL: &str = "https://app.example.com/signed-in";

/// A project that lets magic links lead back to [`APP_URL`].
fn with_redirect() -> ProjectSettings {
    ProjectSettings {
        allowed_redirect_urls: vec![APP_URL.to_owned()],
        ..ProjectSettings::default()
    }
}

/// A client that shows redirects instead of following them.
fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

fn error_code(body: &Value) -> Option<&str> {
    body["error"]["code"].as_str()
}

/// Asks for a magic link for `email` and returns the `n`-th such email.
async fn magic_link(app: &TestApp, email: &str, n: usize) -> Value {
    let (status, body) = app
        .post("/v1/auth/magic-link", json!({"email": email}))
        .await;
    assert_eq!((status, &body), (StatusCode::OK, &json!({"ok": true})));
    // A known user's link goes to their stored address (the tests' are lowercase).
    app.wait_for_email(&email.to_lowercase(), "magic_link", n)
        .await
}

/// The texts (SMS or WhatsApp) in the dev outbox to `phone`, oldest first.
fn texts(app: &TestApp, kind: &str, phone: &str) -> Vec<Value> {
    app.outbox()
        .into_iter()
        .filter(|m| m["kind"] == kind && m["to"] == phone)
        .collect()
}

/// Waits for the `n`-th text of `kind` to `phone` and returns its code.
async fn text_code(app: &TestApp, kind: &str, phone: &str, n: usize) -> String {
    app.settle().await;
    let found = texts(app, kind, phone);
    assert!(
        found.len() >= n,
        "no {kind} #{n} to {phone}: {:?}",
        app.outbox()
    );
    assert_eq!(found[n - 1]["purpose"], "sign_in_code");
    found[n - 1]["code"].as_str().unwrap().to_owned()
}

async fn verify_otp(app: &TestApp, who: Value, otp: &str) -> (StatusCode, Value) {
    let mut body = who;
    body["otp"] = json!(otp);
    app.post("/v1/auth/otp/verify", body).await
}

both_dbs_with!(
    magic_link_through_the_hosted_page_o6,
    with_redirect(),
    |app| async move {
        app.signup("ml@example.com", PASSWORD).await;
        let email = magic_link(&app, "ML@example.com", 1).await;
        let link = email["link"].as_str().unwrap().to_owned();
        assert!(
            link.starts_with(&format!(
                "{}/p/{}/magic-link?token=",
                app.base, app.project.login_id
            )),
            "{link}"
        );
        assert!(email["text"].as_str().unwrap().contains(&link));
        let code = email["code"].as_str().unwrap();
        assert_eq!(code.len(), 6, "the email also carries a code");
        assert!(email["text"].as_str().unwrap().contains(code));

        // O6: what scanners and prefetchers do uses nothing.
        let b = browser();
        for _ in 0..2 {
            let page = b.get(&link).send().await.unwrap();
            assert_eq!(page.status(), StatusCode::OK);
            let csp = page.headers()["content-security-policy"]
                .to_str()
                .unwrap()
                .to_owned();
            assert!(
                csp.contains("form-action 'self' https://app.example.com"),
                "{csp}"
            );
            let html = page.text().await.unwrap();
            assert!(
                html.contains("m***@example.com"),
                "the address is shown masked"
            );
            assert!(!html.contains("ml@example.com"));
            assert!(html.contains("<form method=\"post\">"));
        }
        assert_eq!(b.head(&link).send().await.unwrap().status(), StatusCode::OK);

        // The button: the link is used up and the browser goes to the app with a new token.
        let token = email["token"].as_str().unwrap();
        let submit = || {
            b.post(format!(
                "{}/p/{}/magic-link",
                app.base, app.project.login_id
            ))
            .form(&[("token", token)])
            .send()
        };
        let resp = submit().await.unwrap();
        assert_eq!(resp.status(), StatusCode::SEE_OTHER);
        let location = url::Url::parse(resp.headers()["location"].to_str().unwrap()).unwrap();
        assert_eq!(
            location.origin().ascii_serialization(),
            "https://app.example.com"
        );
        assert_eq!(location.path(), "/signed-in");
        let exchange = location
            .query_pairs()
            .find(|(k, _)| k == "token")
            .unwrap()
            .1
            .into_owned();
        assert_ne!(exchange, token);
        assert_eq!(
            submit().await.unwrap().status(),
            StatusCode::BAD_REQUEST,
            "used once"
        );
        assert_eq!(
            b.get(&link).send().await.unwrap().status(),
            StatusCode::BAD_REQUEST
        );

        // The app's backend exchanges the handed-over token: once.
        let (status, body) = app
            .post("/v1/auth/magic-link/verify", json!({"token": exchange}))
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["user"]["email"], "ml@example.com");
        assert_eq!(
            body["user"]["emailVerified"], true,
            "the link proved the mailbox"
        );
        let claims = jwt_claims(body["accessToken"].as_str().unwrap());
        assert_eq!(claims["amr"], json!(["email_link"]));
        assert_eq!(
            app.verify(body["accessToken"].as_str().unwrap()).await.0,
            StatusCode::OK
        );
        for used in [exchange.as_str(), token] {
            let (status, body) = app
                .post("/v1/auth/magic-link/verify", json!({"token": used}))
                .await;
            assert_eq!(
                (status, error_code(&body)),
                (StatusCode::UNAUTHORIZED, Some("invalid_token"))
            );
        }
        // The code printed beside the link died with it.
        let (status, _) = verify_otp(&app, json!({"email": "ml@example.com"}), code).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        app
    }
);

both_dbs_with!(
    magic_link_tokens_are_single_use_and_expire_o1,
    with_redirect(),
    |app| async move {
        // Ten redemptions at once of one emailed token: one session.
        let email = magic_link(&app, "race@example.com", 1).await;
        let token = email["token"].as_str().unwrap().to_owned();
        let attempts =
            (0..10).map(|_| app.post("/v1/auth/magic-link/verify", json!({"token": token})));
        let results = futures::future::join_all(attempts).await;
        let ok = results.iter().filter(|(s, _)| *s == StatusCode::OK).count();
        assert_eq!(ok, 1, "{results:?}");
        assert_eq!(
            app.count("select count(*) from app_user").await,
            1,
            "one account"
        );
        // Expiry: 15 minutes by default.
        let email = magic_link(&app, "race@example.com", 2).await;
        app.clock.advance(Duration::from_secs(15 * 60 + 1));
        let (status, _) = app
            .post(
                "/v1/auth/magic-link/verify",
                json!({"token": email["token"]}),
            )
            .await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "expired");
        // The handed-over token lives 60 seconds.
        let email = magic_link(&app, "race@example.com", 3).await;
        let resp = browser()
            .post(format!(
                "{}/p/{}/magic-link",
                app.base, app.project.login_id
            ))
            .form(&[("token", email["token"].as_str().unwrap())])
            .send()
            .await
            .unwrap();
        let location = url::Url::parse(resp.headers()["location"].to_str().unwrap()).unwrap();
        let exchange = location
            .query_pairs()
            .find(|(k, _)| k == "token")
            .unwrap()
            .1
            .into_owned();
        app.clock.advance(Duration::from_secs(61));
        let (status, _) = app
            .post("/v1/auth/magic-link/verify", json!({"token": exchange}))
            .await;
        assert_eq!(
            status,
            StatusCode::UNAUTHORIZED,
            "the exchange token expired"
        );
        // A newer link voids the older one.
        let first = magic_link(&app, "race@example.com", 4).await;
        let second = magic_link(&app, "race@example.com", 5).await;
        let (status, _) = app
            .post(
                "/v1/auth/magic-link/verify",
                json!({"token": first["token"]}),
            )
            .await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        let (status, _) = app
            .post(
                "/v1/auth/magic-link/verify",
                json!({"token": second["token"]}),
            )
            .await;
        assert_eq!(status, StatusCode::OK);
        app
    }
);

both_dbs_with!(
    sends_answer_alike_for_every_address_l4_l5,
    ProjectSettings {
        passwordless_signup: false,
        ..with_redirect()
    },
    |app| async move {
        app.signup("known@example.com", PASSWORD).await;
        for (path, extra) in [
            ("/v1/auth/magic-link", json!({})),
            ("/v1/auth/otp", json!({"channel": "email"})),
        ] {
            let send = |email: &str| {
                let mut body = extra.clone();
                body["email"] = json!(email);
                app.http
                    .post(format!("{}{path}", app.base))
                    .header("x-api-key", &app.api_key)
                    .json(&body)
                    .send()
            };
            let a = send("known@example.com").await.unwrap();
            let b = send("unknown@example.com").await.unwrap();
            assert_eq!(a.status(), StatusCode::OK);
            assert_eq!(a.status(), b.status(), "{path}");
            assert_eq!(headers_without_date(&a), headers_without_date(&b), "{path}");
            assert_eq!(a.text().await.unwrap(), b.text().await.unwrap(), "{path}");
        }
        // L5: the answers above went out before the lookups; what they led to is sent after.
        assert_eq!(app.count_emails("known@example.com", "magic_link").await, 1);
        assert_eq!(
            app.count_emails("known@example.com", "sign_in_code").await,
            1
        );
        // Sign-up by passwordless is off here: a stranger gets nothing, and no account.
        assert_eq!(
            app.count_emails("unknown@example.com", "magic_link").await,
            0
        );
        assert_eq!(
            app.count_emails("unknown@example.com", "sign_in_code")
                .await,
            0
        );
        // The same for a number.
        let (status, body) = app
            .post("/v1/auth/otp", json!({"phone": "+447700900123"}))
            .await;
        assert_eq!((status, body), (StatusCode::OK, json!({"ok": true})));
        app.settle().await;
        assert!(texts(&app, "sms", "+447700900123").is_empty());
        // A disabled user gets nothing either.
        let (_, login) = app.login("known@example.com", PASSWORD).await;
        let id = login["user"]["id"].as_str().unwrap().to_owned();
        let (status, _) = app
            .request(
                Method::PATCH,
                &format!("/v1/users/{id}"),
                None,
                Some(json!({"disabled": true})),
            )
            .await;
        assert_eq!(status, StatusCode::OK);
        app.post("/v1/auth/magic-link", json!({"email": "known@example.com"}))
            .await;
        assert_eq!(
            app.count_emails("known@example.com", "magic_link").await,
            1,
            "nothing new"
        );
        app
    }
);

both_dbs_with!(
    codes_by_email_sms_and_whatsapp_sign_in,
    with_redirect(),
    |app| async move {
        // Email: the address is proved, the account created on first verify.
        let (status, _) = app
            .post("/v1/auth/otp", json!({"email": "otp@example.com"}))
            .await;
        assert_eq!(status, StatusCode::OK);
        let email = app
            .wait_for_email("otp@example.com", "sign_in_code", 1)
            .await;
        let code = email["code"].as_str().unwrap();
        assert!(email["subject"].as_str().unwrap().contains(code));
        let (status, body) = verify_otp(&app, json!({"email": "OTP@example.com"}), code).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["user"]["email"], "otp@example.com");
        assert_eq!(body["user"]["emailVerified"], true);
        assert_eq!(
            jwt_claims(body["accessToken"].as_str().unwrap())["amr"],
            json!(["email_otp"])
        );
        let (status, _) = verify_otp(&app, json!({"email": "otp@example.com"}), code).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "used once");

        // SMS: a phone-only user.
        let phone = "+14155550123";
        let (status, body) = app.post("/v1/auth/otp", json!({"phone": phone})).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let code = text_code(&app, "sms", phone, 1).await;
        let (status, body) = verify_otp(&app, json!({"phone": phone}), &code).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let user = &body["user"];
        assert_eq!(
            (user["email"].clone(), user["phone"].clone()),
            (Value::Null, json!(phone))
        );
        assert_eq!(user["phoneVerified"], true);
        let claims = jwt_claims(body["accessToken"].as_str().unwrap());
        assert_eq!(claims["amr"], json!(["sms_otp"]));
        assert_eq!(claims["phone_number"], phone);
        assert!(claims.get("email").is_none());
        let (status, verified) = app.verify(body["accessToken"].as_str().unwrap()).await;
        assert_eq!(status, StatusCode::OK, "{verified}");
        assert_eq!(verified["user"]["phone"], phone);

        // WhatsApp: the same user again.
        let (status, _) = app
            .post(
                "/v1/auth/otp",
                json!({"phone": phone, "channel": "whatsapp"}),
            )
            .await;
        assert_eq!(status, StatusCode::OK);
        let code = text_code(&app, "whatsapp", phone, 1).await;
        let (status, again) = verify_otp(&app, json!({"phone": phone}), &code).await;
        assert_eq!(status, StatusCode::OK, "{again}");
        assert_eq!(again["user"]["id"], user["id"]);
        assert_eq!(
            jwt_claims(again["accessToken"].as_str().unwrap())["amr"],
            json!(["whatsapp_otp"])
        );
        assert_eq!(app.count("select count(*) from app_user").await, 2);

        // Users API shows the new fields; a listing by email skips the phone-only user.
        let (status, list) = app
            .request(Method::GET, "/v1/users?search=otp", None, None)
            .await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(list["users"].as_array().unwrap().len(), 1);
        let (_, list) = app.request(Method::GET, "/v1/users", None, None).await;
        assert_eq!(list["users"].as_array().unwrap().len(), 2);
        app
    }
);

both_dbs_with!(
    a_code_works_only_for_the_identifier_it_went_to_o2,
    with_redirect(),
    |app| async move {
        app.post("/v1/auth/otp", json!({"email": "a@example.com"}))
            .await;
        let code = app.wait_for_email("a@example.com", "sign_in_code", 1).await["code"]
            .as_str()
            .unwrap()
            .to_owned();
        app.post("/v1/auth/otp", json!({"email": "b@example.com"}))
            .await;
        app.wait_for_email("b@example.com", "sign_in_code", 1).await;
        let (status, body) = verify_otp(&app, json!({"email": "b@example.com"}), &code).await;
        assert_eq!(
            (status, error_code(&body)),
            (StatusCode::UNAUTHORIZED, Some("invalid_code"))
        );
        // A's code is untouched by the try at B, and signs A in.
        let (status, body) = verify_otp(&app, json!({"email": "a@example.com"}), &code).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["user"]["email"], "a@example.com");
        // The code in a magic-link email is A's too.
        let email = magic_link(&app, "a@example.com", 1).await;
        let (status, _) = verify_otp(
            &app,
            json!({"email": "b@example.com"}),
            email["code"].as_str().unwrap(),
        )
        .await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        let (status, body) = verify_otp(
            &app,
            json!({"email": "a@example.com"}),
            email["code"].as_str().unwrap(),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(
            jwt_claims(body["accessToken"].as_str().unwrap())["amr"],
            json!(["email_otp"])
        );
        app
    }
);

both_dbs_with!(
    the_sixth_try_is_refused_even_when_right_o1,
    with_redirect(),
    |app| async move {
        app.post("/v1/auth/otp", json!({"email": "guess@example.com"}))
            .await;
        let code = app
            .wait_for_email("guess@example.com", "sign_in_code", 1)
            .await["code"]
            .as_str()
            .unwrap()
            .to_owned();
        let wrong = if code == "000000" { "111111" } else { "000000" };
        for i in 0..5 {
            let (status, body) =
                verify_otp(&app, json!({"email": "guess@example.com"}), wrong).await;
            assert_eq!(
                (status, error_code(&body)),
                (StatusCode::UNAUTHORIZED, Some("invalid_code")),
                "try {i}"
            );
        }
        let (status, body) = verify_otp(&app, json!({"email": "guess@example.com"}), &code).await;
        assert_eq!(
            (status, error_code(&body)),
            (StatusCode::UNAUTHORIZED, Some("invalid_code")),
            "dead after 5"
        );
        // A new code works; codes expire after 10 minutes.
        app.post("/v1/auth/otp", json!({"email": "guess@example.com"}))
            .await;
        let code = app
            .wait_for_email("guess@example.com", "sign_in_code", 2)
            .await["code"]
            .as_str()
            .unwrap()
            .to_owned();
        app.clock.advance(Duration::from_secs(601));
        let (status, _) = verify_otp(&app, json!({"email": "guess@example.com"}), &code).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "expired");
        app
    }
);

both_dbs_with!(
    tries_are_throttled_per_identifier_across_codes_l2,
    ProjectSettings {
        rate_limits: protekt_core::model::RateLimits {
            passwordless_verify: protekt_core::model::RateLimit::per(3, 900),
            ..Default::default()
        },
        ..with_redirect()
    },
    |app| async move {
        for _ in 0..3 {
            let (status, _) = verify_otp(&app, json!({"email": "t@example.com"}), "123456").await;
            assert_eq!(status, StatusCode::UNAUTHORIZED);
        }
        let (status, body) = verify_otp(&app, json!({"email": "t@example.com"}), "123456").await;
        assert_eq!(
            (status, error_code(&body)),
            (StatusCode::TOO_MANY_REQUESTS, Some("rate_limited"))
        );
        // Another identifier is not affected.
        let (status, _) = verify_otp(&app, json!({"email": "u@example.com"}), "123456").await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        app
    }
);

both_dbs_with!(
    secrets_are_bound_to_their_purpose_o5,
    with_redirect(),
    |app| async move {
        app.signup("purpose@example.com", PASSWORD).await;
        let link = magic_link(&app, "purpose@example.com", 1).await;
        let reset = app.reset_token("purpose@example.com").await;
        // A magic link is no reset token, and no email-verification token.
        let (status, _) = app
            .post(
                "/v1/auth/password-reset/confirm",
                json!({"resetToken": link["token"], "newPassword": "a-brand-new-passphrase"}),
            )
            .await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        let (status, _) = app
            .post("/v1/auth/verify-email", json!({"token": link["token"]}))
            .await;
        assert_ne!(status, StatusCode::OK);
        // A reset token is no magic link.
        let (status, body) = app
            .post("/v1/auth/magic-link/verify", json!({"token": reset}))
            .await;
        assert_eq!(
            (status, error_code(&body)),
            (StatusCode::UNAUTHORIZED, Some("invalid_token"))
        );
        // Both still work for what they are.
        let (status, _) = app
            .post(
                "/v1/auth/magic-link/verify",
                json!({"token": link["token"]}),
            )
            .await;
        assert_eq!(status, StatusCode::OK);
        let (status, _) = app
            .post(
                "/v1/auth/password-reset/confirm",
                json!({"resetToken": reset, "newPassword": "a-brand-new-passphrase"}),
            )
            .await;
        assert_eq!(status, StatusCode::OK);
        app
    }
);

both_dbs_with!(
    an_mfa_user_gets_mfa_required_after_the_passwordless_step,
    with_redirect(),
    |app| async move {
        let (_, secret) = crate::mfa::with_totp(&app, "mfa@example.com").await;
        let email = magic_link(&app, "mfa@example.com", 1).await;
        let (status, body) = app
            .post(
                "/v1/auth/magic-link/verify",
                json!({"token": email["token"]}),
            )
            .await;
        assert_eq!(
            (status, error_code(&body)),
            (StatusCode::UNAUTHORIZED, Some("mfa_required"))
        );
        let mfa_token = body["error"]["mfaToken"].as_str().unwrap().to_owned();
        let (status, body) = app
            .post(
                "/v1/mfa/verify",
                json!({"mfaToken": mfa_token, "code": crate::mfa::now_code(&app, &secret)}),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let claims = jwt_claims(body["accessToken"].as_str().unwrap());
        assert_eq!(claims["amr"], json!(["email_link", "otp"]));
        assert_eq!(claims["aal"], "aal2");
        // The same for a code.
        app.post("/v1/auth/otp", json!({"email": "mfa@example.com"}))
            .await;
        let code = app
            .wait_for_email("mfa@example.com", "sign_in_code", 1)
            .await["code"]
            .as_str()
            .unwrap()
            .to_owned();
        let (status, body) = verify_otp(&app, json!({"email": "mfa@example.com"}), &code).await;
        assert_eq!(
            (status, error_code(&body)),
            (StatusCode::UNAUTHORIZED, Some("mfa_required"))
        );
        app
    }
);

both_dbs!(redirects_are_checked_at_send_time_u1, |app| async move {
    // A project without allowed redirect URLs cannot send links: the browser has nowhere to go.
    let (status, body) = app
        .post("/v1/auth/magic-link", json!({"email": "r@example.com"}))
        .await;
    assert_eq!(
        (status, error_code(&body)),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("value_not_allowed"))
    );
    assert_eq!(body["error"]["field"], "redirectUrl");
    let mt = app.management_token().await;
    let path = format!("/v1/projects/{}", app.project.id);
    let patch = json!({"settings": {"allowedRedirectUrls": [APP_URL]}});
    let (status, _) = app.manage(Method::PATCH, &path, &mt, Some(patch)).await;
    assert_eq!(status, StatusCode::OK);
    for (url, code) in [
        (
            "https://app.example.com.evil.com/signed-in",
            "value_not_allowed",
        ),
        (
            "https://app.example.com@evil.com/signed-in",
            "invalid_request",
        ),
        ("https://evil.com/signed-in", "value_not_allowed"),
        ("javascript:alert(1)", "invalid_request"),
        ("//evil.com/signed-in", "invalid_request"),
        ("/\\evil.com", "invalid_request"),
        ("https:evil.com", "invalid_request"),
    ] {
        let (status, body) = app
            .post(
                "/v1/auth/magic-link",
                json!({"email": "r@example.com", "redirectUrl": url}),
            )
            .await;
        assert_eq!(error_code(&body), Some(code), "{url}: {body}");
        assert!(status.is_client_error());
        assert_eq!(body["error"]["field"], "redirectUrl", "{url}");
    }
    // O3: one address, strictly parsed.
    let (status, body) = app
        .post(
            "/v1/auth/magic-link",
            json!({"email": "r@example.com,attacker@evil.test"}),
        )
        .await;
    assert_eq!(
        (status, body["error"]["field"].as_str()),
        (StatusCode::BAD_REQUEST, Some("email"))
    );
    assert_eq!(
        app.count_emails("r@example.com", "magic_link").await,
        0,
        "nothing was sent"
    );
    let (status, _) = app
        .post(
            "/v1/auth/magic-link",
            json!({"email": "r@example.com", "redirectUrl": APP_URL}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    app
});

both_dbs_with!(
    texts_go_only_to_allowed_countries_l7,
    ProjectSettings {
        sms_allowed_countries: vec!["44".into()],
        ..with_redirect()
    },
    |app| async move {
        let (status, body) = app
            .post("/v1/auth/otp", json!({"phone": "+14155550123"}))
            .await;
        assert_eq!(
            (status, error_code(&body)),
            (StatusCode::UNPROCESSABLE_ENTITY, Some("value_not_allowed"))
        );
        assert_eq!(body["error"]["field"], "phone");
        let (status, _) = app
            .post(
                "/v1/auth/otp",
                json!({"phone": "+14155550123", "channel": "whatsapp"}),
            )
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        let (status, _) = app
            .post("/v1/auth/otp", json!({"phone": "+447700900123"}))
            .await;
        assert_eq!(status, StatusCode::OK);
        app.settle().await;
        assert!(texts(&app, "sms", "+14155550123").is_empty());
        assert_eq!(texts(&app, "sms", "+447700900123").len(), 1);
        // Malformed requests name their field.
        for (body, field) in [
            (json!({"phone": "447700900123"}), "phone"),
            (json!({"phone": "+44 7700 900123"}), "phone"),
            (
                json!({"email": "a@example.com", "channel": "sms"}),
                "channel",
            ),
            (
                json!({"phone": "+447700900123", "channel": "email"}),
                "channel",
            ),
            (json!({}), "email"),
        ] {
            let (status, answer) = app.post("/v1/auth/otp", body.clone()).await;
            assert_eq!(
                (status, answer["error"]["field"].as_str()),
                (StatusCode::BAD_REQUEST, Some(field)),
                "{body}"
            );
        }
        app
    }
);

/// A provider behind the signed SMS webhook that counts what it is asked to send.
async fn counting_provider() -> (String, std::sync::Arc<std::sync::Mutex<Vec<Value>>>) {
    use std::sync::{Arc, Mutex};
    let received: Arc<Mutex<Vec<Value>>> = Arc::default();
    let seen = Arc::clone(&received);
    let provider = axum::Router::new().route(
        "/send",
        axum::routing::post(move |axum::Json(body): axum::Json<Value>| {
            let seen = Arc::clone(&seen);
            async move {
                seen.lock().unwrap().push(body);
                axum::http::StatusCode::OK
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/send", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, provider).await.unwrap() });
    (url, received)
}

async fn fourth_text_to_a_number_is_refused(db: Db) {
    let (url, received) = counting_provider().await;
    let sms = protekt_core::delivery::sms::SmsConfig::Webhook {
        url,
        secret: "0123456789abcdef0123456789abcdef".into(),
    };
    let app = TestApp::spawn_with_sms(db, sms).await;
    let phone = "+14155550199";
    for channel in ["sms", "whatsapp", "sms"] {
        let (status, body) = app
            .post("/v1/auth/otp", json!({"phone": phone, "channel": channel}))
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    let resp = app
        .http
        .post(format!("{}/v1/auth/otp", app.base))
        .header("x-api-key", &app.api_key)
        .json(&json!({"phone": phone}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(resp.headers().contains_key("retry-after"));
    app.settle().await;
    let calls = received.lock().unwrap().clone();
    assert_eq!(calls.len(), 3, "the provider got 3 calls: {calls:?}");
    // Sent in the background, so in any order.
    assert_eq!(
        calls.iter().filter(|c| c["channel"] == "whatsapp").count(),
        1
    );
    assert!(calls
        .iter()
        .all(|c| c["to"] == phone && c["kind"] == "sign_in_code"));
    // The text says what it is and carries no more than the code and the project.
    assert!(calls[0]["text"]
        .as_str()
        .unwrap()
        .contains("Test Project sign-in code"));
    app.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_fourth_text_to_a_number_is_refused_l7_sqlite() {
    fourth_text_to_a_number_is_refused(Db::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_fourth_text_to_a_number_is_refused_l7_postgres() {
    fourth_text_to_a_number_is_refused(Db::Postgres).await;
}

/// WhatsApp through a Twilio-compatible API: `whatsapp:` addresses on both ends.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn whatsapp_goes_through_twilio_as_whatsapp_addresses() {
    use std::sync::{Arc, Mutex};
    let received: Arc<Mutex<Vec<String>>> = Arc::default();
    let seen = Arc::clone(&received);
    let provider = axum::Router::new().route(
        "/2010-04-01/Accounts/{sid}/Messages.json",
        axum::routing::post(move |body: String| {
            let seen = Arc::clone(&seen);
            async move {
                seen.lock().unwrap().push(body);
                (axum::http::StatusCode::CREATED, "{\"sid\":\"SM1\"}")
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, provider).await.unwrap() });
    let sms = protekt_core::delivery::sms::SmsConfig::Twilio {
        base_url: base,
        account_sid: "AC123".into(),
        auth_token: "secret-token".into(),
        from: "+15005550006".into(),
        whatsapp_from: Some("+14155238886".into()),
    };
    let app = TestApp::spawn_with_sms(Db::Sqlite, sms).await;
    let (status, _) = app
        .post(
            "/v1/auth/otp",
            json!({"phone": "+14155550123", "channel": "whatsapp"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    app.settle().await;
    let calls = received.lock().unwrap().clone();
    assert_eq!(calls.len(), 1);
    let form: std::collections::HashMap<String, String> =
        url::form_urlencoded::parse(calls[0].as_bytes())
            .into_owned()
            .collect();
    assert_eq!(form["To"], "whatsapp:+14155550123");
    assert_eq!(form["From"], "whatsapp:+14155238886");
    let code: String = form["Body"]
        .chars()
        .filter(char::is_ascii_digit)
        .take(6)
        .collect();
    let (status, body) = verify_otp(&app, json!({"phone": "+14155550123"}), &code).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    app.finish().await;
}

both_dbs_with!(
    links_and_codes_are_never_stored_in_clear_k1_o1,
    with_redirect(),
    |app| async move {
        let email = magic_link(&app, "clear@example.com", 1).await;
        app.post("/v1/auth/otp", json!({"phone": "+14155550142"}))
            .await;
        let sms_code = text_code(&app, "sms", "+14155550142", 1).await;
        let token = email["token"].as_str().unwrap();
        let code = email["code"].as_str().unwrap();
        let rows = app.dump_table("passwordless_code").await;
        assert!(
            !rows.contains(token) && !rows.contains(code) && !rows.contains(&sms_code),
            "{rows}"
        );
        let outbox = app.dump_table("email_outbox").await;
        assert!(
            !outbox.contains(token) && !outbox.contains(code),
            "sealed, then erased: {outbox}"
        );
        // 256-bit link tokens.
        let bytes = data_encoding::BASE64URL_NOPAD
            .decode(token.as_bytes())
            .unwrap();
        assert_eq!(bytes.len(), 32);
        app
    }
);

both_dbs!(passwordless_settings_are_validated, |app| async move {
    let path = format!("/v1/projects/{}", app.project.id);
    let mt = app.management_token().await;
    for (settings, field) in [
        (
            json!({"smsAllowedCountries": ["+44"]}),
            "settings.smsAllowedCountries",
        ),
        (
            json!({"smsAllowedCountries": ["0"]}),
            "settings.smsAllowedCountries",
        ),
        (json!({"magicLinkTtl": 7200}), "settings.magicLinkTtl"),
        (
            json!({"smsTemplates": {"sign_in_code": "{% if %}"}}),
            "settings.smsTemplates.sign_in_code",
        ),
        (
            json!({"rateLimits": {"passwordlessVerify": {"limit": 0, "windowSeconds": 60}}}),
            "settings.rateLimits.passwordlessVerify.limit",
        ),
    ] {
        let (status, body) = app
            .manage(
                Method::PATCH,
                &path,
                &mt,
                Some(json!({"settings": settings})),
            )
            .await;
        assert!(status.is_client_error(), "{settings}: {body}");
        assert_eq!(body["error"]["field"], field, "{settings}: {body}");
    }
    let (status, body) = app
        .manage(
            Method::PATCH,
            &path,
            &mt,
            Some(json!({"settings": {
                "smsTemplates": {"sign_in_code": "Code {{ code }} for {{ project }}"},
                "smsAllowedCountries": ["1"],
                "magicLinkTtl": 300,
            }})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["settings"]["smsAllowedCountries"], json!(["1"]));
    // The project's own text is what goes out.
    let (status, _) = app
        .post("/v1/auth/otp", json!({"phone": "+14155550177"}))
        .await;
    assert_eq!(status, StatusCode::OK);
    let code = text_code(&app, "sms", "+14155550177", 1).await;
    assert_eq!(
        texts(&app, "sms", "+14155550177")[0]["text"],
        format!("Code {code} for Test Project")
    );
    assert_eq!(
        body["settings"]["rateLimits"]["passwordlessVerify"],
        json!({"limit": 10, "windowSeconds": 900})
    );
    app
});
