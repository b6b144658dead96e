//! Fault injection (SECURITY X1): a crash between the steps of a multi-row transition leaves no
//! half state. Each test makes one step fail at a fail point (the store's `step!`, built in by
//! the test kit's `failpoints` feature), checks the invariants, and then runs the operation again
//! to show it still works. Fail points are global to a process; nextest gives every test its own.

use crate::mfa::{enrol_totp, now_code};
use protekt_testkit::both_dbs;
use protekt_testkit::*;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use std::time::Duration;

/// Makes the fail point `name` fail every time until dropped.
struct FailAt(&'static str);

impl FailAt {
    fn new(name: &'static str) -> Self {
        fail::cfg(name, "return").unwrap();
        FailAt(name)
    }
}

impl Drop for FailAt {
    fn drop(&mut self) {
        fail::remove(self.0);
    }
}

fn is_internal_error(status: StatusCode, body: &Value) -> bool {
    status == StatusCode::INTERNAL_SERVER_ERROR && body["error"]["code"] == "internal_error"
}

/// Sessions of the project with more than one refresh token still unused.
async fn sessions_with_two_live_refresh_tokens(app: &TestApp) -> i64 {
    app.count(
        "select count(*) from (select session_id from refresh_token where used_at is null \
         group by session_id having count(*) > 1) t",
    )
    .await
}

both_dbs!(
    a_crash_inside_a_refresh_rotation_leaves_the_old_token_working_x1,
    |app| async move {
        let body = app.signup("rotate@example.com", PASSWORD).await;
        let refresh = body["refreshToken"].as_str().unwrap().to_owned();
        for step in [
            "refresh.rotate.after_mark",
            "refresh.rotate.after_successor",
        ] {
            let fault = FailAt::new(step);
            let (status, body) = app.refresh(&refresh).await;
            assert!(is_internal_error(status, &body), "{step}: {status} {body}");
            drop(fault);
            assert_eq!(
                app.count("select count(*) from refresh_token where used_at is not null")
                    .await,
                0,
                "{step}: the old token is not marked used"
            );
            assert_eq!(
                app.count("select count(*) from refresh_token").await,
                1,
                "{step}: no successor was left behind"
            );
        }
        let (status, body) = app.refresh(&refresh).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(sessions_with_two_live_refresh_tokens(&app).await, 0);
        app
    }
);

both_dbs!(
    a_crash_inside_a_sign_in_leaves_no_session_without_its_refresh_token_x1,
    |app| async move {
        app.signup("login@example.com", PASSWORD).await;
        let fault = FailAt::new("session.create.after_session");
        let (status, body) = app.login("login@example.com", PASSWORD).await;
        assert!(is_internal_error(status, &body), "{status} {body}");
        drop(fault);
        assert_eq!(
            app.count(
                "select count(*) from session s where not exists \
             (select 1 from refresh_token r where r.session_id = s.id)"
            )
            .await,
            0,
            "every session has its refresh token"
        );
        assert_eq!(
            app.count("select count(*) from session").await,
            1,
            "only the sign-up's"
        );
        let (status, body) = app.login("login@example.com", PASSWORD).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        app
    }
);

both_dbs!(
    a_crash_inside_a_password_reset_changes_nothing_x1,
    |app| async move {
        let body = app.signup("redeem@example.com", PASSWORD).await;
        let access = body["accessToken"].as_str().unwrap().to_owned();
        let token = app.reset_token("redeem@example.com").await;
        let confirm = json!({"resetToken": token, "newPassword": "a-brand-new-passphrase"});
        for step in [
            "emailed_token.redeem.after_use",
            "emailed_token.redeem.after_user",
        ] {
            let fault = FailAt::new(step);
            let (status, body) = app
                .post("/v1/auth/password-reset/confirm", confirm.clone())
                .await;
            assert!(is_internal_error(status, &body), "{step}: {status} {body}");
            drop(fault);
            // The token is not used up, the password is the old one, the session lives on.
            assert_eq!(
                app.count("select count(*) from one_time_token where used_at is not null")
                    .await,
                0,
                "{step}"
            );
            let (status, _) = app.login("redeem@example.com", PASSWORD).await;
            assert_eq!(
                status,
                StatusCode::OK,
                "{step}: the old password still works"
            );
            let (status, _) = app.verify(&access).await;
            assert_eq!(status, StatusCode::OK, "{step}: the session was not ended");
        }
        let (status, body) = app.post("/v1/auth/password-reset/confirm", confirm).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let (status, _) = app
            .login("redeem@example.com", "a-brand-new-passphrase")
            .await;
        assert_eq!(status, StatusCode::OK);
        app
    }
);

both_dbs!(
    a_crash_inside_a_factor_confirmation_leaves_no_half_enrolled_factor_x1,
    |app| async move {
        let body = app.signup("factor@example.com", PASSWORD).await;
        let access = body["accessToken"].as_str().unwrap().to_owned();
        // A second session: confirming the first factor ends it (S5), but only if the step commits.
        let (_, other) = app.login("factor@example.com", PASSWORD).await;
        let other = other["accessToken"].as_str().unwrap().to_owned();
        let secret = enrol_totp(&app, &access).await;
        for step in [
            "factor.confirm.after_confirm",
            "factor.confirm.after_backup_codes",
        ] {
            let fault = FailAt::new(step);
            let code = now_code(&app, &secret);
            let (status, body) = app
                .request(
                    Method::POST,
                    "/v1/mfa/verify",
                    Some(&access),
                    Some(json!({"code": code})),
                )
                .await;
            assert!(is_internal_error(status, &body), "{step}: {status} {body}");
            drop(fault);
            assert_eq!(
                app.count("select count(*) from mfa_factor where confirmed_at is not null")
                    .await,
                0,
                "{step}: no confirmed factor"
            );
            assert_eq!(
                app.count("select count(*) from backup_code").await,
                0,
                "{step}"
            );
            let (status, _) = app.verify(&other).await;
            assert_eq!(status, StatusCode::OK, "{step}: the other session lives on");
            let (status, body) = app.login("factor@example.com", PASSWORD).await;
            assert_eq!(
                status,
                StatusCode::OK,
                "{step}: no second factor is asked for: {body}"
            );
            // The code's time step is spent (M2); the next attempt uses the next one.
            app.clock.advance(Duration::from_secs(30));
        }
        let code = now_code(&app, &secret);
        let (status, body) = app
            .request(
                Method::POST,
                "/v1/mfa/verify",
                Some(&access),
                Some(json!({"code": code})),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["backupCodes"].as_array().map(Vec::len), Some(10));
        let (status, body) = app.login("factor@example.com", PASSWORD).await;
        assert_eq!(
            (status, &body["error"]["code"]),
            (StatusCode::UNAUTHORIZED, &json!("mfa_required"))
        );
        app
    }
);
