//! Upgrading (SECURITY X3): a database the previous release wrote, with data in it, is migrated
//! by this build and everything in it keeps working: keys, passwords, sessions, refresh tokens,
//! second factors, settings, management tokens. The fixture is made by that release's binary
//! (`tests/fixtures/make-release-fixture.py`); a migration that breaks old rows, or an edit to a
//! migration that was already released (sqlx checks their checksums), fails here.

use protekt_testkit::*;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

fn fixture() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/previous-release")
}

fn totp(secret: &str, unix_secs: u64) -> String {
    let key = data_encoding::BASE32_NOPAD
        .decode(secret.as_bytes())
        .expect("a base32 secret");
    totp_rs::TOTP::new_unchecked(totp_rs::Algorithm::SHA1, 6, 1, 30, key, None, String::new())
        .generate(unix_secs)
}

fn text<'a>(v: &'a Value, key: &str) -> &'a str {
    v[key].as_str().unwrap_or_else(|| panic!("{key} in {v}"))
}

async fn a_database_of_the_previous_release_upgrades_with_its_data_x3(db: Db) {
    let (app, old) = TestApp::spawn_on_release_fixture(db, &fixture()).await;

    // The API key, the user's password and metadata, and an access token signed back then.
    let (status, body) = app
        .login(text(&old, "plainEmail"), text(&old, "password"))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["user"]["metadata"], json!({"plan": "pro"}));
    let (status, body) = app.verify(text(&old, "accessToken")).await;
    assert_eq!(
        status,
        StatusCode::OK,
        "an access token of the old release: {body}"
    );
    // Its signing key is still published.
    let kid = jwt_header(text(&old, "accessToken"))["kid"].clone();
    let (_, jwks) = app
        .get(&format!(
            "/p/{}/.well-known/jwks.json",
            text(&old, "loginId")
        ))
        .await;
    assert!(
        jwks["keys"]
            .as_array()
            .unwrap()
            .iter()
            .any(|k| k["kid"] == kid),
        "{jwks}"
    );
    // The refresh token rotates, and its session goes on.
    let (status, body) = app.refresh(text(&old, "refreshToken")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, _) = app.verify(text(&body, "accessToken")).await;
    assert_eq!(status, StatusCode::OK);

    // The second factor: its sealed seed still opens with the master key.
    let (status, body) = app
        .login(text(&old, "totpEmail"), text(&old, "password"))
        .await;
    assert_eq!(
        (status, &body["error"]["code"]),
        (StatusCode::UNAUTHORIZED, &json!("mfa_required")),
        "{body}"
    );
    let code = totp(text(&old, "totpSecret"), (app.clock.now() / 1000) as u64);
    let (status, body) = app
        .post(
            "/v1/mfa/verify",
            json!({"mfaToken": body["error"]["mfaToken"], "code": code}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(jwt_claims(text(&body, "accessToken"))["aal"], "aal2");
    // A backup code made back then still works, once.
    let (_, body) = app
        .login(text(&old, "totpEmail"), text(&old, "password"))
        .await;
    let backup = old["backupCodes"][0].clone();
    let (status, body) = app
        .post(
            "/v1/mfa/verify",
            json!({"mfaToken": body["error"]["mfaToken"], "code": backup}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");

    // The operator's side: the management token and the project's settings.
    let (status, body) = app
        .manage(
            Method::GET,
            &format!("/v1/projects/{}", text(&old, "projectId")),
            text(&old, "managementToken"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        body["settings"]["allowedRedirectUrls"],
        json!(["https://app.upgrade.test/welcome"])
    );
    assert_eq!(body["settings"]["refreshGrace"], 5);
    app.finish().await;
}

mod a_database_of_the_previous_release_upgrades_with_its_data_x3 {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sqlite() {
        super::a_database_of_the_previous_release_upgrades_with_its_data_x3(Db::Sqlite).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn postgres() {
        super::a_database_of_the_previous_release_upgrades_with_its_data_x3(Db::Postgres).await;
    }
}
