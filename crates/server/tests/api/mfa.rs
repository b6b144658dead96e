//! MFA: TOTP and SMS factors, the login challenge, backup codes (SECURITY M1-M8, K1, L2, AU1).

use protekt_core::model::UserId;
use protekt_testkit::both_dbs;
use protekt_testkit::*;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use std::time::Duration;

fn secret_of(uri: &str) -> Vec<u8> {
    let url = url::Url::parse(uri).unwrap();
    let secret = url
        .query_pairs()
        .find(|(k, _)| k == "secret")
        .unwrap()
        .1
        .into_owned();
    totp_rs::Secret::Encoded(secret).to_bytes().unwrap()
}

fn code_at(secret: &[u8], unix_secs: u64) -> String {
    totp_rs::TOTP::new_unchecked(
        totp_rs::Algorithm::SHA1,
        6,
        1,
        30,
        secret.to_vec(),
        None,
        String::new(),
    )
    .generate(unix_secs)
}

pub(crate) fn now_code(app: &TestApp, secret: &[u8]) -> String {
    code_at(secret, (app.clock.now() / 1000) as u64)
}

/// Signs up, enrols and confirms TOTP; returns (access token, secret).
pub(crate) async fn with_totp(app: &TestApp, email: &str) -> (String, Vec<u8>) {
    let (access, secret, _) = with_totp_codes(app, email).await;
    (access, secret)
}

/// Signs up, enrols and confirms TOTP; returns (access token, secret, the backup codes the
/// confirmation handed out).
async fn with_totp_codes(app: &TestApp, email: &str) -> (String, Vec<u8>, Vec<String>) {
    let body = app.signup(email, PASSWORD).await;
    let access = body["accessToken"].as_str().unwrap().to_owned();
    let (secret, codes) = confirm_totp(app, &access).await;
    (access, secret, codes)
}

/// Starts a TOTP enrolment with `access`; returns the secret.
pub(crate) async fn enrol_totp(app: &TestApp, access: &str) -> Vec<u8> {
    let (status, enrolled) = app
        .request(
            Method::POST,
            "/v1/mfa/enroll",
            Some(access),
            Some(json!({"method": "totp"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{enrolled}");
    let uri = enrolled["totpUri"].as_str().unwrap();
    assert!(uri.starts_with("otpauth://totp/Test%20Project:"), "{uri}");
    assert!(uri.contains("issuer=Test%20Project"));
    assert!(enrolled["qrCode"]
        .as_str()
        .unwrap()
        .starts_with("data:image/svg+xml;base64,"));
    let secret = secret_of(uri);
    assert!(secret.len() * 8 >= 160, "M1: a 160-bit seed");
    secret
}

/// Enrols and confirms TOTP with `access`; returns the secret and the backup codes handed out.
async fn confirm_totp(app: &TestApp, access: &str) -> (Vec<u8>, Vec<String>) {
    let secret = enrol_totp(app, access).await;
    let (status, confirmed) = app
        .request(
            Method::POST,
            "/v1/mfa/verify",
            Some(access),
            Some(json!({"code": now_code(app, &secret)})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{confirmed}");
    assert!(confirmed["accessToken"].is_null());
    let codes: Vec<String> = confirmed["backupCodes"]
        .as_array()
        .map(|a| a.iter().map(|c| c.as_str().unwrap().to_owned()).collect())
        .unwrap_or_default();
    // The code used to confirm cannot be used again: move to the next time step.
    app.clock.advance(Duration::from_secs(30));
    (secret, codes)
}

async fn mfa_token(app: &TestApp, email: &str) -> String {
    let (status, body) = app.login(email, PASSWORD).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    assert_eq!(body["error"]["code"], "mfa_required");
    assert!(
        body.get("accessToken").is_none() && body["error"].get("accessToken").is_none(),
        "no tokens before the second factor"
    );
    body["error"]["mfaToken"].as_str().unwrap().to_owned()
}

async fn verify(app: &TestApp, token: &str, code: &str) -> (StatusCode, Value) {
    app.post("/v1/mfa/verify", json!({"code": code, "mfaToken": token}))
        .await
}

both_dbs!(totp_enrol_login_and_verify_m1_m2_m4, |app| async move {
    let (aal1, secret) = with_totp(&app, "totp@example.com").await;
    let (_, user) = app.verify(&aal1).await;
    assert_eq!(user["user"]["mfaMethods"], json!(["totp"]));
    let token = mfa_token(&app, "totp@example.com").await;
    let code = now_code(&app, &secret);
    let (status, done) = verify(&app, &token, &code).await;
    assert_eq!(status, StatusCode::OK, "{done}");
    let access = done["accessToken"].as_str().unwrap();
    let claims = jwt_claims(access);
    assert_eq!(claims["aal"], "aal2");
    assert_eq!(claims["amr"], json!(["pwd", "otp"]));
    assert_eq!(app.verify(access).await.0, StatusCode::OK);
    // M4: refresh keeps the level; the old password-only session stays aal1.
    let (_, refreshed) = app.refresh(done["refreshToken"].as_str().unwrap()).await;
    assert_eq!(
        jwt_claims(refreshed["accessToken"].as_str().unwrap())["aal"],
        "aal2"
    );
    assert_eq!(jwt_claims(&aal1)["aal"], "aal1");
    // M2: the same code, on a fresh challenge, is refused.
    let again = mfa_token(&app, "totp@example.com").await;
    let (status, body) = verify(&app, &again, &code).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("invalid_code"))
    );
    // M1: a code from two steps back is refused; from the next step it is accepted.
    let now = (app.clock.now() / 1000) as u64;
    let (status, _) = verify(&app, &again, &code_at(&secret, now - 60)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _) = verify(&app, &again, &code_at(&secret, now + 30)).await;
    assert_eq!(status, StatusCode::OK);
    app
});

both_dbs!(
    concurrent_submissions_of_one_totp_code_succeed_once_m2,
    |app| async move {
        let (_, secret) = with_totp(&app, "race-totp@example.com").await;
        let mut tokens = Vec::new();
        for _ in 0..5 {
            tokens.push(mfa_token(&app, "race-totp@example.com").await);
        }
        let code = now_code(&app, &secret);
        let results =
            futures::future::join_all(tokens.iter().map(|t| verify(&app, t, &code))).await;
        assert_eq!(
            results.iter().filter(|(s, _)| *s == StatusCode::OK).count(),
            1,
            "{results:?}"
        );
        app
    }
);

both_dbs!(
    mfa_tokens_expire_are_single_use_and_bound_to_their_user,
    |app| async move {
        let (_, secret) = with_totp(&app, "a-mfa@example.com").await;
        let (_, other_secret) = with_totp(&app, "b-mfa@example.com").await;
        // Used once.
        let token = mfa_token(&app, "a-mfa@example.com").await;
        assert_eq!(
            verify(&app, &token, &now_code(&app, &secret)).await.0,
            StatusCode::OK
        );
        app.clock.advance(Duration::from_secs(30));
        let (status, body) = verify(&app, &token, &now_code(&app, &secret)).await;
        assert_eq!(
            (status, body["error"]["code"].as_str()),
            (StatusCode::UNAUTHORIZED, Some("invalid_token"))
        );
        // Bound to its user: B's valid code does not finish A's login.
        let token = mfa_token(&app, "a-mfa@example.com").await;
        let (status, body) = verify(&app, &token, &now_code(&app, &other_secret)).await;
        assert_eq!(
            (status, body["error"]["code"].as_str()),
            (StatusCode::UNAUTHORIZED, Some("invalid_code"))
        );
        // Expired after 5 minutes.
        app.clock.advance(Duration::from_secs(301));
        let (status, body) = verify(&app, &token, &now_code(&app, &secret)).await;
        assert_eq!(
            (status, body["error"]["code"].as_str()),
            (StatusCode::UNAUTHORIZED, Some("invalid_token"))
        );
        // Another project's key cannot use it.
        let fresh = mfa_token(&app, "a-mfa@example.com").await;
        let (_, other_key) = app.other_project().await;
        let (status, _) = app
            .post_with_key(
                &other_key,
                "/v1/mfa/verify",
                json!({"code": now_code(&app, &secret), "mfaToken": fresh}),
            )
            .await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        // Garbage.
        assert_eq!(
            verify(&app, "nonsense", "123456").await.1["error"]["code"],
            "invalid_token"
        );
        app
    }
);

both_dbs!(
    five_wrong_codes_kill_the_token_even_for_a_right_sixth_m3_l2,
    |app| async move {
        let (_, secret) = with_totp(&app, "brute@example.com").await;
        let token = mfa_token(&app, "brute@example.com").await;
        for _ in 0..5 {
            let (status, body) = verify(&app, &token, "000000").await;
            assert_eq!(
                (status, body["error"]["code"].as_str()),
                (StatusCode::UNAUTHORIZED, Some("invalid_code"))
            );
        }
        let (status, body) = verify(&app, &token, &now_code(&app, &secret)).await;
        assert_eq!(
            (status, body["error"]["code"].as_str()),
            (StatusCode::UNAUTHORIZED, Some("invalid_token"))
        );
        // Across tokens the user is throttled too: after five failures in a row, a back-off.
        let mut last = (StatusCode::OK, Value::Null);
        for _ in 0..6 {
            let t = mfa_token(&app, "brute@example.com").await;
            last = verify(&app, &t, "000000").await;
        }
        assert_eq!(last.0, StatusCode::TOO_MANY_REQUESTS, "{}", last.1);
        assert!(last.1["error"]["retryAfter"].as_u64().unwrap() > 0);
        // Password logins still answer (the password lockout is separate); the MFA step stays blocked.
        let t = mfa_token(&app, "brute@example.com").await;
        assert_eq!(
            verify(&app, &t, &now_code(&app, &secret)).await.0,
            StatusCode::TOO_MANY_REQUESTS
        );
        app.clock.advance(Duration::from_secs(15 * 60));
        let t = mfa_token(&app, "brute@example.com").await;
        assert_eq!(
            verify(&app, &t, &now_code(&app, &secret)).await.0,
            StatusCode::OK
        );
        app
    }
);

fn sms_codes(app: &TestApp, phone: &str) -> Vec<String> {
    app.outbox()
        .into_iter()
        .filter(|m| m["kind"] == "sms" && m["to"] == phone)
        .map(|m| m["code"].as_str().unwrap().to_owned())
        .collect()
}

both_dbs!(sms_enrol_login_and_verify_m7, |app| async move {
    let body = app.signup("sms@example.com", PASSWORD).await;
    let access = body["accessToken"].as_str().unwrap().to_owned();
    let (status, body) = app
        .request(
            Method::POST,
            "/v1/mfa/enroll",
            Some(&access),
            Some(json!({"method": "sms", "phone": "0123"})),
        )
        .await;
    assert_eq!(
        (status, body["error"]["field"].as_str()),
        (StatusCode::BAD_REQUEST, Some("phone"))
    );
    let phone = "+14155550123";
    let (status, enrolled) = app
        .request(
            Method::POST,
            "/v1/mfa/enroll",
            Some(&access),
            Some(json!({"method": "sms", "phone": phone})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{enrolled}");
    assert!(enrolled["totpUri"].is_null());
    let code = sms_codes(&app, phone)
        .pop()
        .expect("an SMS with the enrolment code");
    let (status, _) = app
        .request(
            Method::POST,
            "/v1/mfa/verify",
            Some(&access),
            Some(json!({"code": "999999"})),
        )
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _) = app
        .request(
            Method::POST,
            "/v1/mfa/verify",
            Some(&access),
            Some(json!({"code": code})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    // M8/K1: the number is sealed at rest (only its last two digits are kept for display).
    let dump = app.dump_table("mfa_factor").await;
    assert!(dump.contains("sms"));
    assert!(
        !dump.contains("4155550123"),
        "phone number in clear: {dump}"
    );

    // Login: the challenge texts a code at once.
    let first = mfa_token(&app, "sms@example.com").await;
    let first_code = sms_codes(&app, phone).pop().unwrap();
    // M7: a code is bound to its challenge.
    let second = mfa_token(&app, "sms@example.com").await;
    let (status, _) = verify(&app, &second, &first_code).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, done) = verify(&app, &first, &first_code).await;
    assert_eq!(status, StatusCode::OK, "{done}");
    assert_eq!(
        jwt_claims(done["accessToken"].as_str().unwrap())["amr"],
        json!(["pwd", "sms"])
    );
    // Resend gives the challenge a new code (in a new SMS window: 3 per number per 10 minutes).
    app.clock.advance(Duration::from_secs(600));
    let third = mfa_token(&app, "sms@example.com").await;
    assert_eq!(
        app.post("/v1/mfa/resend", json!({"mfaToken": third}))
            .await
            .0,
        StatusCode::OK
    );
    let resent = sms_codes(&app, phone).pop().unwrap();
    assert_eq!(verify(&app, &third, &resent).await.0, StatusCode::OK);
    app
});

both_dbs!(sms_sends_are_limited_per_number_l7, |app| async move {
    let body = app.signup("sms-limit@example.com", PASSWORD).await;
    let access = body["accessToken"].as_str().unwrap().to_owned();
    let phone = "+14155550999";
    for _ in 0..3 {
        let (status, _) = app
            .request(
                Method::POST,
                "/v1/mfa/enroll",
                Some(&access),
                Some(json!({"method": "sms", "phone": phone})),
            )
            .await;
        assert_eq!(status, StatusCode::OK);
    }
    let (status, body) = app
        .request(
            Method::POST,
            "/v1/mfa/enroll",
            Some(&access),
            Some(json!({"method": "sms", "phone": phone})),
        )
        .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (StatusCode::TOO_MANY_REQUESTS, Some("rate_limited"))
    );
    assert_eq!(
        sms_codes(&app, phone).len(),
        3,
        "the 4th message was not sent"
    );
    app
});

both_dbs!(
    backup_codes_work_once_and_regeneration_voids_them_m6,
    |app| async move {
        let (aal1, secret) = with_totp(&app, "backup@example.com").await;
        // Making codes once a factor exists needs an aal2 session.
        let (status, body) = app
            .request(Method::POST, "/v1/mfa/backup-codes", Some(&aal1), None)
            .await;
        assert_eq!(
            (status, body["error"]["code"].as_str()),
            (StatusCode::FORBIDDEN, Some("mfa_step_up_required"))
        );
        let token = mfa_token(&app, "backup@example.com").await;
        let (_, done) = verify(&app, &token, &now_code(&app, &secret)).await;
        let aal2 = done["accessToken"].as_str().unwrap().to_owned();
        let (status, codes) = app
            .request(Method::POST, "/v1/mfa/backup-codes", Some(&aal2), None)
            .await;
        assert_eq!(status, StatusCode::OK);
        let codes: Vec<String> = codes["backupCodes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c.as_str().unwrap().to_owned())
            .collect();
        assert_eq!(codes.len(), 10);
        assert!(
            codes.iter().all(|c| c.replace('-', "").len() * 5 >= 112),
            "each code carries at least 112 bits"
        );
        let token = mfa_token(&app, "backup@example.com").await;
        let (status, done) = verify(&app, &token, &codes[0].to_uppercase()).await;
        assert_eq!(status, StatusCode::OK, "{done}");
        assert_eq!(
            jwt_claims(done["accessToken"].as_str().unwrap())["amr"],
            json!(["pwd", "backup_code"])
        );
        let token = mfa_token(&app, "backup@example.com").await;
        assert_eq!(
            verify(&app, &token, &codes[0]).await.0,
            StatusCode::UNAUTHORIZED,
            "single use"
        );
        // Regenerating voids the old set.
        app.request(Method::POST, "/v1/mfa/backup-codes", Some(&aal2), None)
            .await;
        let token = mfa_token(&app, "backup@example.com").await;
        assert_eq!(
            verify(&app, &token, &codes[1]).await.0,
            StatusCode::UNAUTHORIZED
        );
        let dump = app.dump_table("backup_code").await;
        for c in &codes {
            assert!(
                !dump.contains(&c.replace('-', "")) && !dump.contains(c.as_str()),
                "no backup code in clear"
            );
        }
        app
    }
);

both_dbs!(
    unenrol_needs_aal2_and_secrets_are_sealed_m5_m8_k1,
    |app| async move {
        let (aal1, secret) = with_totp(&app, "un@example.com").await;
        let (status, body) = app
            .request(
                Method::POST,
                "/v1/mfa/unenroll",
                Some(&aal1),
                Some(json!({"method": "totp"})),
            )
            .await;
        assert_eq!(
            (status, body["error"]["code"].as_str()),
            (StatusCode::FORBIDDEN, Some("mfa_step_up_required"))
        );
        // M8/K1: the seed is not in the database in clear, nor readable through the API.
        let b32 = data_encoding::BASE32_NOPAD.encode(&secret);
        let dump = app.dump_table("mfa_factor").await;
        assert!(dump.contains("totp"));
        assert!(
            !dump.contains(&b32) && !dump.contains(&b32.to_lowercase()),
            "TOTP seed in clear"
        );
        let (_, user) = app.verify(&aal1).await;
        assert!(!user.to_string().contains(&b32));
        // Enrolling again while a factor exists needs aal2 too (S6).
        let (status, _) = app
            .request(
                Method::POST,
                "/v1/mfa/enroll",
                Some(&aal1),
                Some(json!({"method": "sms", "phone": "+14155550100"})),
            )
            .await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        // M5: another user's aal2 session removes only its own factors.
        let token = mfa_token(&app, "un@example.com").await;
        let (_, done) = verify(&app, &token, &now_code(&app, &secret)).await;
        let aal2 = done["accessToken"].as_str().unwrap().to_owned();
        let (status, _) = app
            .request(
                Method::POST,
                "/v1/mfa/unenroll",
                Some(&aal2),
                Some(json!({"method": "sms"})),
            )
            .await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        let (status, _) = app
            .request(
                Method::POST,
                "/v1/mfa/unenroll",
                Some(&aal2),
                Some(json!({"method": "totp"})),
            )
            .await;
        assert_eq!(status, StatusCode::OK);
        // The last factor is gone: password login signs in again, and the removal was audited.
        let (status, body) = app.login("un@example.com", PASSWORD).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["user"]["mfaMethods"], json!([]));
        let events = app
            .store
            .ops()
            .recent_events(&app.project.id, 100)
            .await
            .unwrap();
        for kind in ["mfa.enroll", "mfa.challenge", "mfa.verify", "mfa.unenroll"] {
            assert!(
                events.iter().any(|e| e.kind == kind),
                "AU1: {kind} not audited"
            );
        }
        app
    }
);

/// SMS through a Twilio-compatible API: the request a provider receives.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sms_goes_through_a_twilio_compatible_api() {
    use std::sync::{Arc, Mutex};
    let received: Arc<Mutex<Vec<(String, String, String)>>> = Arc::default();
    let seen = Arc::clone(&received);
    let provider = axum::Router::new().route(
        "/2010-04-01/Accounts/{sid}/Messages.json",
        axum::routing::post(
            move |axum::extract::Path(sid): axum::extract::Path<String>,
                  headers: axum::http::HeaderMap,
                  body: String| {
                let seen = Arc::clone(&seen);
                async move {
                    let auth = headers
                        .get("authorization")
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or_default()
                        .to_owned();
                    seen.lock().unwrap().push((sid, auth, body));
                    (axum::http::StatusCode::CREATED, "{\"sid\":\"SM1\"}")
                }
            },
        ),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, provider).await.unwrap() });
    let sms = protekt_core::delivery::sms::SmsConfig::Twilio {
        base_url: base,
        account_sid: "AC123".into(),
        auth_token: "secret-token".into(),
        from: "+15005550006".into(),
        whatsapp_from: None,
    };
    let app = TestApp::spawn_with_sms(Db::Sqlite, sms).await;
    let body = app.signup("twilio@example.com", PASSWORD).await;
    let (status, _) = app
        .request(
            Method::POST,
            "/v1/mfa/enroll",
            Some(body["accessToken"].as_str().unwrap()),
            Some(json!({"method": "sms", "phone": "+14155550123"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let calls = received.lock().unwrap().clone();
    assert_eq!(calls.len(), 1);
    let (sid, auth, form) = &calls[0];
    assert_eq!(sid, "AC123");
    use base64::Engine;
    assert_eq!(
        auth,
        &format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode("AC123:secret-token")
        )
    );
    let form: std::collections::HashMap<String, String> =
        url::form_urlencoded::parse(form.as_bytes())
            .into_owned()
            .collect();
    assert_eq!(form["To"], "+14155550123");
    assert_eq!(form["From"], "+15005550006");
    assert!(form["Body"].contains("verification code"));
    assert!(
        app.outbox().iter().all(|m| m["kind"] != "sms"),
        "nothing in the dev outbox"
    );
    app.finish().await;
}

both_dbs!(
    a_bad_token_expiry_does_not_spend_the_challenge,
    |app| async move {
        let (_, secret) = with_totp(&app, "ttl-mfa@example.com").await;
        let token = mfa_token(&app, "ttl-mfa@example.com").await;
        let code = now_code(&app, &secret);
        let (status, body) = app
            .post(
                "/v1/mfa/verify",
                json!({"code": code, "mfaToken": token, "tokenExpiry": 5}),
            )
            .await;
        assert_eq!(
            (status, body["error"]["field"].as_str()),
            (StatusCode::BAD_REQUEST, Some("tokenExpiry"))
        );
        let (status, done) = app
            .post(
                "/v1/mfa/verify",
                json!({"code": code, "mfaToken": token, "tokenExpiry": 60}),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{done}");
        assert_eq!(done["expiresIn"], 60);
        app
    }
);

both_dbs!(
    a_pending_enrolment_can_be_cancelled_and_a_refused_send_keeps_the_last_code,
    |app| async move {
        let body = app.signup("pending@example.com", PASSWORD).await;
        let access = body["accessToken"].as_str().unwrap().to_owned();
        let (status, body) = app
            .request(
                Method::POST,
                "/v1/mfa/unenroll",
                Some(&access),
                Some(json!({"method": "fax"})),
            )
            .await;
        assert_eq!(
            (status, body["error"]["field"].as_str()),
            (StatusCode::BAD_REQUEST, Some("method"))
        );
        let phone = "+14155550777";
        for _ in 0..3 {
            app.request(
                Method::POST,
                "/v1/mfa/enroll",
                Some(&access),
                Some(json!({"method": "sms", "phone": phone})),
            )
            .await;
        }
        let last = sms_codes(&app, phone).pop().unwrap();
        let (status, _) = app
            .request(
                Method::POST,
                "/v1/mfa/enroll",
                Some(&access),
                Some(json!({"method": "sms", "phone": phone})),
            )
            .await;
        assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
        // The refused send changed nothing: the last code that arrived still confirms (spaces allowed).
        let (status, _) = app
            .request(
                Method::POST,
                "/v1/mfa/verify",
                Some(&access),
                Some(json!({"code": format!(" {last} ")})),
            )
            .await;
        assert_eq!(status, StatusCode::OK);
        // A pending TOTP enrolment is cancelled from this aal1 session without a step-up...
        let body = app.signup("pending2@example.com", PASSWORD).await;
        let access2 = body["accessToken"].as_str().unwrap().to_owned();
        app.request(
            Method::POST,
            "/v1/mfa/enroll",
            Some(&access2),
            Some(json!({"method": "totp"})),
        )
        .await;
        let (status, _) = app
            .request(
                Method::POST,
                "/v1/mfa/unenroll",
                Some(&access2),
                Some(json!({"method": "totp"})),
            )
            .await;
        assert_eq!(status, StatusCode::OK);
        // ...while the confirmed SMS factor of the first user needs one.
        let (status, _) = app
            .request(
                Method::POST,
                "/v1/mfa/unenroll",
                Some(&access),
                Some(json!({"method": "sms"})),
            )
            .await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        app
    }
);

// ---- Fixes from the security review (issue 8) ----

async fn backup_codes(app: &TestApp, access: &str) -> Vec<String> {
    let (status, body) = app
        .request(Method::POST, "/v1/mfa/backup-codes", Some(access), None)
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["backupCodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap().to_owned())
        .collect()
}

both_dbs!(
    codes_and_sessions_from_before_the_first_factor_do_not_survive_it_m6_s5_s6,
    |app| async move {
        // The attack as reproduced: an aal1 session (someone who got the password, or a stolen
        // token) makes backup codes while the user has no factor.
        let owner = app.signup("victim@example.com", PASSWORD).await;
        let owner_access = owner["accessToken"].as_str().unwrap().to_owned();
        let (_, attacker) = app.login("victim@example.com", PASSWORD).await;
        let attacker_access = attacker["accessToken"].as_str().unwrap().to_owned();
        let planted = backup_codes(&app, &attacker_access).await;
        // The owner enrols TOTP and confirms it: the answer hands out a fresh set.
        let (secret, fresh) = confirm_totp(&app, &owner_access).await;
        assert_eq!(
            fresh.len(),
            10,
            "M6: a fresh set comes with the first factor"
        );
        assert!(fresh.iter().all(|c| !planted.contains(c)));
        // S5: the attacker's session is over; the owner's stays.
        assert_eq!(
            app.verify(&attacker_access).await.0,
            StatusCode::UNAUTHORIZED
        );
        assert_eq!(app.verify(&owner_access).await.0, StatusCode::OK);
        // M6: the planted codes do not finish a login; the fresh ones do.
        let token = mfa_token(&app, "victim@example.com").await;
        let (status, body) = verify(&app, &token, &planted[0]).await;
        assert_eq!(
            (status, body["error"]["code"].as_str()),
            (StatusCode::UNAUTHORIZED, Some("invalid_code"))
        );
        let (status, done) = verify(&app, &token, &fresh[0]).await;
        assert_eq!(status, StatusCode::OK, "{done}");
        assert_eq!(
            jwt_claims(done["accessToken"].as_str().unwrap())["aal"],
            "aal2"
        );
        let token = mfa_token(&app, "victim@example.com").await;
        let (_, done) = verify(&app, &token, &now_code(&app, &secret)).await;
        // S6: with a factor, the password cannot be changed from an aal1 session...
        let change =
            json!({"currentPassword": PASSWORD, "newPassword": "another-long-passphrase-9"});
        let (status, body) = app
            .request(
                Method::POST,
                "/v1/auth/change-password",
                Some(&owner_access),
                Some(change.clone()),
            )
            .await;
        assert_eq!(
            (status, body["error"]["code"].as_str()),
            (StatusCode::FORBIDDEN, Some("mfa_step_up_required"))
        );
        // A second factor added later hands out no new codes (the set stays).
        let body = app
            .request(
                Method::POST,
                "/v1/mfa/enroll",
                done["accessToken"].as_str(),
                Some(json!({"method": "sms", "phone": "+14155550142"})),
            )
            .await;
        assert_eq!(body.0, StatusCode::OK, "{}", body.1);
        let code = sms_codes(&app, "+14155550142").pop().unwrap();
        let (status, confirmed) = app
            .request(
                Method::POST,
                "/v1/mfa/verify",
                done["accessToken"].as_str(),
                Some(json!({"code": code})),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{confirmed}");
        assert!(confirmed["backupCodes"].is_null());
        let token = mfa_token(&app, "victim@example.com").await;
        assert_eq!(verify(&app, &token, &fresh[1]).await.0, StatusCode::OK);
        app.clock.advance(Duration::from_secs(30));
        let token = mfa_token(&app, "victim@example.com").await;
        let (_, done) = verify(&app, &token, &now_code(&app, &secret)).await;
        // ...but can from an aal2 one.
        let (status, body) = app
            .request(
                Method::POST,
                "/v1/auth/change-password",
                done["accessToken"].as_str(),
                Some(change),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        app
    }
);

both_dbs!(
    a_project_may_keep_other_sessions_when_a_factor_is_added_s5,
    |app| async move {
        protekt_core::projects::update(
            &app.store,
            &app.master,
            &app.project.id,
            None,
            Some(&json!({"endOtherSessionsOnMfaChange": false})),
            app.clock.now(),
        )
        .await
        .unwrap();
        let owner = app.signup("keep@example.com", PASSWORD).await;
        let (_, other) = app.login("keep@example.com", PASSWORD).await;
        confirm_totp(&app, owner["accessToken"].as_str().unwrap()).await;
        assert_eq!(
            app.verify(other["accessToken"].as_str().unwrap()).await.0,
            StatusCode::OK
        );
        app
    }
);

both_dbs!(
    one_session_cannot_pump_sms_through_many_numbers_l7,
    |app| async move {
        let body = app.signup("pump@example.com", PASSWORD).await;
        let access = body["accessToken"].as_str().unwrap().to_owned();
        let mut limited = None;
        for i in 0..12 {
            let (status, body) = app
                .request(
                    Method::POST,
                    "/v1/mfa/enroll",
                    Some(&access),
                    Some(json!({"method": "sms", "phone": format!("+1415555{:04}", 1000 + i)})),
                )
                .await;
            if status == StatusCode::TOO_MANY_REQUESTS {
                assert_eq!(body["error"]["code"], "rate_limited");
                assert!(body["error"]["retryAfter"].as_u64().unwrap() > 0);
                limited.get_or_insert(i);
            }
        }
        assert_eq!(limited, Some(6), "the 7th number in an hour is refused");
        let sent = app.outbox().iter().filter(|m| m["kind"] == "sms").count();
        assert_eq!(sent, 6, "12 numbers enrolled, only 6 SMS sent");
        // The next hour the user may try again.
        app.clock.advance(Duration::from_secs(3600));
        let (_, again) = app.login("pump@example.com", PASSWORD).await;
        let (status, _) = app
            .request(
                Method::POST,
                "/v1/mfa/enroll",
                again["accessToken"].as_str(),
                Some(json!({"method": "sms", "phone": "+14155559999"})),
            )
            .await;
        assert_eq!(status, StatusCode::OK);
        app
    }
);

both_dbs!(
    sms_are_capped_per_end_user_address_and_per_project_l7,
    |app| async move {
        // Per end-user address (as told by the backend): 10 an hour, across users.
        let mut statuses = Vec::new();
        for i in 0..11 {
            let body = app.signup(&format!("ip{i}@example.com"), PASSWORD).await;
            let resp = app
                .http
                .post(format!("{}/v1/mfa/enroll", app.base))
                .header("x-api-key", &app.api_key)
                .header("x-client-ip", "203.0.113.7")
                .bearer_auth(body["accessToken"].as_str().unwrap())
                .json(&json!({"method": "sms", "phone": format!("+1415556{:04}", i)}))
                .send()
                .await
                .unwrap();
            statuses.push(resp.status());
        }
        assert!(
            statuses[..10].iter().all(|s| *s == StatusCode::OK),
            "{statuses:?}"
        );
        assert_eq!(statuses[10], StatusCode::TOO_MANY_REQUESTS);
        // Per project: a ceiling for all users together.
        app.clock.advance(Duration::from_secs(3600));
        protekt_core::projects::update(
            &app.store,
            &app.master,
            &app.project.id,
            None,
            Some(&json!({"smsPerHour": 2})),
            app.clock.now(),
        )
        .await
        .unwrap();
        let mut statuses = Vec::new();
        for i in 0..3 {
            let body = app.signup(&format!("prj{i}@example.com"), PASSWORD).await;
            let (status, _) = app
                .request(
                    Method::POST,
                    "/v1/mfa/enroll",
                    body["accessToken"].as_str(),
                    Some(json!({"method": "sms", "phone": format!("+1415557{:04}", i)})),
                )
                .await;
            statuses.push(status);
        }
        assert_eq!(
            statuses,
            [
                StatusCode::OK,
                StatusCode::OK,
                StatusCode::TOO_MANY_REQUESTS
            ]
        );
        app
    }
);

both_dbs!(
    no_phone_number_is_stored_in_clear_in_any_table_m8,
    |app| async move {
        let body = app.signup("clear@example.com", PASSWORD).await;
        let access = body["accessToken"].as_str().unwrap().to_owned();
        let phone = "+14155550188";
        let (status, _) = app
            .request(
                Method::POST,
                "/v1/mfa/enroll",
                Some(&access),
                Some(json!({"method": "sms", "phone": phone})),
            )
            .await;
        assert_eq!(status, StatusCode::OK);
        let code = sms_codes(&app, phone).pop().unwrap();
        app.request(
            Method::POST,
            "/v1/mfa/verify",
            Some(&access),
            Some(json!({"code": code})),
        )
        .await;
        // A login texts a code too (counted against the number's quota).
        mfa_token(&app, "clear@example.com").await;
        let dump = app.dump_all_tables().await;
        assert!(dump.contains("## rate_limit"), "every table is read");
        if app.db == Db::Postgres {
            // On SQLite the limiter counts in memory: nothing of it is at rest.
            assert!(dump.contains("sms:number:"), "the quota was counted");
        }
        assert!(
            !dump.contains("4155550188"),
            "a phone number in clear at rest: {dump}"
        );
        app
    }
);

both_dbs!(
    wrong_codes_back_off_then_lock_after_100_and_a_backup_code_unlocks_m3_l1,
    |app| async move {
        let email = "lock@example.com";
        let (_, secret, codes) = with_totp_codes(&app, email).await;
        let mut token = String::new();
        let mut on_token = 5;
        let mut waits = Vec::new();
        for failure in 1..=100i64 {
            if on_token == 5 {
                // A challenge dies after five wrong codes; the attacker knows the password.
                token = mfa_token(&app, email).await;
                on_token = 0;
            }
            let (status, body) = verify(&app, &token, "000000").await;
            on_token += 1;
            let expected = if failure == 100 {
                "mfa_locked"
            } else {
                "invalid_code"
            };
            assert_eq!(body["error"]["code"], expected, "failure {failure}: {body}");
            assert!(status.is_client_error());
            // The first four failures cost nothing (the loop's next attempt comes at once);
            // from the fifth on, the next attempt must wait, longer and longer, up to 15 min.
            if failure < 5 {
                continue;
            }
            if on_token == 5 {
                token = mfa_token(&app, email).await;
            }
            let (status, body) = verify(&app, &token, "000000").await;
            assert_eq!(
                status,
                StatusCode::TOO_MANY_REQUESTS,
                "failure {failure}: {body}"
            );
            let wait = body["error"]["retryAfter"].as_u64().unwrap();
            waits.push(wait);
            app.clock.advance(Duration::from_secs(wait));
            // A challenge lives five minutes; the waits outgrow it.
            on_token = 5;
        }
        assert!(waits.windows(2).all(|w| w[0] <= w[1]), "{waits:?}");
        assert_eq!(*waits.last().unwrap(), 15 * 60);
        // Locked: a right TOTP code no longer works...
        let token = mfa_token(&app, email).await;
        let (status, body) = verify(&app, &token, &now_code(&app, &secret)).await;
        assert_eq!(
            (status, body["error"]["code"].as_str()),
            (StatusCode::FORBIDDEN, Some("mfa_locked"))
        );
        // ...the user was told, once...
        app.wait_for_email(email, "mfa_locked", 1).await;
        assert_eq!(app.count_emails(email, "mfa_locked").await, 1);
        // ...and a backup code signs in and unlocks.
        let wait = verify(&app, &token, &codes[0]).await;
        assert_eq!(
            wait.0,
            StatusCode::TOO_MANY_REQUESTS,
            "the back-off still applies"
        );
        app.clock.advance(Duration::from_secs(
            wait.1["error"]["retryAfter"].as_u64().unwrap(),
        ));
        let token = mfa_token(&app, email).await;
        let (status, body) = verify(&app, &token, &codes[0]).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        app.clock.advance(Duration::from_secs(30));
        let token = mfa_token(&app, email).await;
        assert_eq!(
            verify(&app, &token, &now_code(&app, &secret)).await.0,
            StatusCode::OK
        );
        // Support can unlock a user without backup codes, with the project's API key.
        let user_id = UserId::from(
            jwt_claims(&mfa_login(&app, email, &secret).await)["sub"]
                .as_str()
                .unwrap(),
        );
        let (status, _) = app
            .request(Method::POST, "/v1/users/usr_nobody/mfa/unlock", None, None)
            .await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        let (status, _) = app
            .request(
                Method::POST,
                &format!("/v1/users/{user_id}/mfa/unlock"),
                None,
                None,
            )
            .await;
        assert_eq!(status, StatusCode::OK);
        let guard = app
            .store
            .mfa()
            .guard(&app.project.id, &user_id)
            .await
            .unwrap();
        assert_eq!((guard.failures, guard.locked_at), (0, None));
        app
    }
);

/// A full TOTP login at the next time step; returns the access token.
async fn mfa_login(app: &TestApp, email: &str, secret: &[u8]) -> String {
    app.clock.advance(Duration::from_secs(30));
    let token = mfa_token(app, email).await;
    let (status, done) = verify(app, &token, &now_code(app, secret)).await;
    assert_eq!(status, StatusCode::OK, "{done}");
    done["accessToken"].as_str().unwrap().to_owned()
}

both_dbs!(
    concurrent_guesses_cannot_run_past_the_back_off_m3,
    |app| async move {
        let email = "parallel@example.com";
        with_totp(&app, email).await;
        let mut tokens = Vec::new();
        for _ in 0..4 {
            tokens.push(mfa_token(&app, email).await);
        }
        // 16 wrong guesses at once, four per challenge: each is counted before it is checked,
        // so at most the five free ones get an answer; the rest must wait.
        let guesses = tokens
            .iter()
            .flat_map(|t| std::iter::repeat_n(t, 4))
            .map(|t| verify(&app, t, "000000"));
        let results = futures::future::join_all(guesses).await;
        let answered = results
            .iter()
            .filter(|(_, b)| b["error"]["code"] == "invalid_code")
            .count();
        let limited = results
            .iter()
            .filter(|(s, _)| *s == StatusCode::TOO_MANY_REQUESTS)
            .count();
        // (One more may slip in if the machine takes over a second: the first wait is 1 s.)
        assert!(answered <= 6, "{answered} guesses checked: {results:?}");
        assert_eq!(answered + limited, 16, "{results:?}");
        app
    }
);

both_dbs!(
    a_password_reset_does_not_get_around_the_second_factor_f4,
    |app| async move {
        let (_, secret) = with_totp(&app, "f4@example.com").await;
        let token = app.reset_token("f4@example.com").await;
        let (status, body) = app
            .post(
                "/v1/auth/password-reset/confirm",
                json!({"resetToken": token, "newPassword": "a-brand-new-passphrase"}),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        // The reset hands out no session, and the new password alone is still one factor.
        assert!(body.get("accessToken").is_none(), "{body}");
        let (status, body) = app.login("f4@example.com", "a-brand-new-passphrase").await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
        assert_eq!(body["error"]["code"], "mfa_required");
        // Only with the factor does the session reach aal2.
        let mfa_token = body["error"]["mfaToken"].as_str().unwrap();
        let (status, body) = verify(&app, mfa_token, &now_code(&app, &secret)).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(
            jwt_claims(body["accessToken"].as_str().unwrap())["aal"],
            "aal2"
        );
        app
    }
);
