//! Bad input gets a clean 4xx JSON error, never a 500 (SECURITY I1-I3).

use protekt_testkit::both_dbs;
use protekt_testkit::*;
use reqwest::StatusCode;
use serde_json::{json, Value};

async fn raw(
    app: &TestApp,
    method: reqwest::Method,
    path: &str,
    content_type: Option<&str>,
    body: Vec<u8>,
) -> (StatusCode, Value) {
    // A fresh connection per request: after an early 413 the server closes the connection the
    // oversized body was on, and a pooled client would reuse it for the next case.
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .build()
        .unwrap();
    let mut req = http
        .request(method, format!("{}{path}", app.base))
        .header("x-api-key", &app.api_key)
        .body(body);
    if let Some(ct) = content_type {
        req = req.header("content-type", ct);
    }
    let resp = req.send().await.unwrap();
    let status = resp.status();
    (status, resp.json().await.unwrap_or(Value::Null))
}

/// (path, content type, body, expected status, expected code)
type BodyCase<'a> = (&'a str, Option<&'a str>, Vec<u8>, StatusCode, &'a str);

both_dbs!(
    malformed_and_oversized_bodies_get_clean_errors_i1_i2,
    |app| async move {
        let post = reqwest::Method::POST;
        let json_ct = Some("application/json");
        let cases: Vec<BodyCase> = vec![
            (
                "/v1/auth/login",
                json_ct,
                b"{not json".to_vec(),
                StatusCode::BAD_REQUEST,
                "invalid_request",
            ),
            (
                "/v1/auth/login",
                json_ct,
                b"".to_vec(),
                StatusCode::BAD_REQUEST,
                "invalid_request",
            ),
            (
                "/v1/auth/login",
                json_ct,
                b"[]".to_vec(),
                StatusCode::BAD_REQUEST,
                "invalid_request",
            ),
            (
                "/v1/auth/login",
                json_ct,
                br#"{"email":1,"password":"x"}"#.to_vec(),
                StatusCode::BAD_REQUEST,
                "invalid_request",
            ),
            (
                "/v1/auth/login",
                json_ct,
                br#"{"email":["victim@x.com","attacker@y.com"],"password":"x"}"#.to_vec(),
                StatusCode::BAD_REQUEST,
                "invalid_request",
            ),
            (
                "/v1/auth/signup",
                json_ct,
                br#"{"email":{"$ne":null},"password":"x"}"#.to_vec(),
                StatusCode::BAD_REQUEST,
                "invalid_request",
            ),
            (
                "/v1/auth/login",
                json_ct,
                br#"{"email":"a@x.com","email":"b@x.com","password":"x"}"#.to_vec(),
                StatusCode::BAD_REQUEST,
                "invalid_request",
            ),
            (
                "/v1/auth/signup",
                json_ct,
                br#"{"email":"a@x.com","password":"correct-horse-battery","emailVerified":true}"#
                    .to_vec(),
                StatusCode::BAD_REQUEST,
                "invalid_request",
            ),
            (
                "/v1/auth/signup",
                json_ct,
                br#"{"email":"a@x.com","password":"correct-horse-battery","metadata":[1]}"#
                    .to_vec(),
                StatusCode::BAD_REQUEST,
                "invalid_request",
            ),
            (
                "/v1/auth/signup",
                json_ct,
                br#"{"email":"a@x.com,b@y.com","password":"correct-horse-battery"}"#.to_vec(),
                StatusCode::BAD_REQUEST,
                "invalid_request",
            ),
            (
                "/v1/auth/login",
                None,
                br#"{"email":"a@x.com","password":"x"}"#.to_vec(),
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
            ),
            (
                "/v1/auth/login",
                Some("text/plain"),
                br#"{"email":"a@x.com","password":"x"}"#.to_vec(),
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
            ),
            (
                "/v1/auth/signup",
                json_ct,
                vec![b' '; 1024 * 1024],
                StatusCode::PAYLOAD_TOO_LARGE,
                "payload_too_large",
            ),
            (
                "/v1/nothing",
                json_ct,
                b"{}".to_vec(),
                StatusCode::NOT_FOUND,
                "not_found",
            ),
        ];
        for (path, ct, body, status, code) in cases {
            let shown = String::from_utf8_lossy(&body[..body.len().min(60)]).into_owned();
            let (got, answer) = raw(&app, post.clone(), path, ct, body).await;
            assert_eq!(got, status, "{path} {shown}: {answer}");
            assert_eq!(answer["error"]["code"], code, "{path} {shown}: {answer}");
            assert!(answer["error"]["message"].is_string());
        }
        // Metadata over 16 KiB is refused and names the field.
        let big = json!({"email": "m@x.com", "password": PASSWORD, "metadata": {"blob": "x".repeat(17 * 1024)}});
        let (status, body) = app.post("/v1/auth/signup", big).await;
        assert_eq!(
            (status, body["error"]["field"].as_str()),
            (StatusCode::BAD_REQUEST, Some("metadata"))
        );
        // Wrong method and unknown route.
        let (status, body) = raw(&app, reqwest::Method::GET, "/v1/auth/login", None, vec![]).await;
        assert_eq!(
            (status, body["error"]["code"].as_str()),
            (StatusCode::METHOD_NOT_ALLOWED, Some("method_not_allowed"))
        );
        let (status, body) = app.get("/no/such/route").await;
        assert_eq!(
            (status, body["error"]["code"].as_str()),
            (StatusCode::NOT_FOUND, Some("not_found"))
        );
        // Nothing stored was lost along the way: the server still signs people up.
        app.signup("still-fine@example.com", PASSWORD).await;
        app
    }
);

both_dbs!(health_readiness_jwks_and_openapi_answer, |app| async move {
    assert_eq!(
        app.get("/healthz").await,
        (StatusCode::OK, json!({"status": "ok"}))
    );
    assert_eq!(
        app.get("/readyz").await,
        (StatusCode::OK, json!({"status": "ready"}))
    );
    let (status, body) = app.get("/p/lp_doesnotexist/.well-known/jwks.json").await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (StatusCode::NOT_FOUND, Some("not_found"))
    );
    let resp = app
        .http
        .get(format!(
            "{}/p/{}/.well-known/jwks.json",
            app.base, app.project.login_id
        ))
        .send()
        .await
        .unwrap();
    assert!(resp.headers()["cache-control"]
        .to_str()
        .unwrap()
        .contains("max-age"));
    let (status, doc) = app.get("/openapi.json").await;
    assert_eq!(status, StatusCode::OK);
    assert!(doc["openapi"].as_str().unwrap().starts_with("3.1"));
    for path in [
        "/v1/auth/signup",
        "/v1/auth/login",
        "/v1/auth/logout",
        "/v1/auth/verify",
        "/v1/auth/refresh",
        "/v1/auth/revoke",
        "/p/{login_id}/.well-known/jwks.json",
        "/healthz",
        "/readyz",
        "/openapi.json",
    ] {
        assert!(
            doc["paths"][path].is_object(),
            "{path} missing from the OpenAPI document"
        );
    }
    let codes: Vec<&str> = doc["components"]["schemas"]["ErrorCode"]["enum"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap())
        .collect();
    let expected: Vec<&str> = protekt_api_types::ErrorCode::ALL
        .iter()
        .map(|c| c.as_str())
        .collect();
    assert_eq!(codes, expected);
    app
});
