//! Access-token verification against forged and foreign tokens (SECURITY T1-T4) and JWKS.

use base64::Engine;
use p256::ecdsa::{signature::Signer, Signature, SigningKey};
use protekt_testkit::both_dbs;
use protekt_testkit::*;
use reqwest::StatusCode;
use serde_json::{json, Value};

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// A JWT with the given header and claims, signed ES256 by `key`.
fn es256(header: &Value, claims: &Value, key: &SigningKey) -> String {
    let input = format!(
        "{}.{}",
        b64(header.to_string().as_bytes()),
        b64(claims.to_string().as_bytes())
    );
    let sig: Signature = key.sign(input.as_bytes());
    format!("{input}.{}", b64(&sig.to_bytes()))
}

fn hs256(header: &Value, claims: &Value, secret: &[u8]) -> String {
    let input = format!(
        "{}.{}",
        b64(header.to_string().as_bytes()),
        b64(claims.to_string().as_bytes())
    );
    let key = jsonwebtoken::EncodingKey::from_secret(secret);
    let sig =
        jsonwebtoken::crypto::sign(input.as_bytes(), &key, jsonwebtoken::Algorithm::HS256).unwrap();
    format!("{input}.{sig}")
}

async fn rejected(app: &TestApp, token: &str, why: &str) {
    let (status, body) = app.verify(token).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{why}: {body}");
    assert!(
        body["error"]["code"] == "invalid_token" || body["error"]["code"] == "token_expired",
        "{why}: {body}"
    );
}

both_dbs!(forged_tokens_are_rejected_t1_t2_t3, |app| async move {
    let body = app.signup("forge@example.com", PASSWORD).await;
    let good = body["accessToken"].as_str().unwrap().to_owned();
    assert_eq!(app.verify(&good).await.0, StatusCode::OK);
    let header = jwt_header(&good);
    let claims = jwt_claims(&good);
    let parts: Vec<&str> = good.split('.').collect();

    // Tampered payload under the original signature.
    let mut tampered = claims.clone();
    tampered["sub"] = json!("usr_someoneelse");
    rejected(
        &app,
        &format!(
            "{}.{}.{}",
            parts[0],
            b64(tampered.to_string().as_bytes()),
            parts[2]
        ),
        "tampered",
    )
    .await;
    // Signature stripped or zeroed (CVE-2022-21449 "psychic signatures").
    rejected(&app, &format!("{}.{}.", parts[0], parts[1]), "stripped").await;
    rejected(
        &app,
        &format!("{}.{}.{}", parts[0], parts[1], b64(&[0u8; 64])),
        "zero signature",
    )
    .await;
    // T1: alg none.
    let none = json!({"alg": "none", "typ": "at+jwt", "kid": header["kid"]});
    rejected(
        &app,
        &format!("{}.{}.", b64(none.to_string().as_bytes()), parts[1]),
        "alg none",
    )
    .await;
    // T1: HS256 keyed with the public key (as PEM and as the JWK JSON).
    let (_, jwks) = app
        .get(&format!(
            "/p/{}/.well-known/jwks.json",
            app.project.login_id
        ))
        .await;
    let jwk = &jwks["keys"][0];
    let point = [
        vec![4u8],
        base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(jwk["x"].as_str().unwrap())
            .unwrap(),
        base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(jwk["y"].as_str().unwrap())
            .unwrap(),
    ]
    .concat();
    let public = p256::PublicKey::from_sec1_bytes(&point).unwrap();
    let pem = p256::pkcs8::EncodePublicKey::to_public_key_pem(&public, p256::pkcs8::LineEnding::LF)
        .unwrap();
    let hs = json!({"alg": "HS256", "typ": "at+jwt", "kid": header["kid"]});
    rejected(&app, &hs256(&hs, &claims, pem.as_bytes()), "HS256 with PEM").await;
    rejected(
        &app,
        &hs256(&hs, &claims, jwk.to_string().as_bytes()),
        "HS256 with JWK",
    )
    .await;
    // T1: alg in the header differs from the key's.
    let attacker = SigningKey::random(&mut rand_core::OsRng);
    let mismatched = json!({"alg": "ES384", "typ": "at+jwt", "kid": header["kid"]});
    rejected(
        &app,
        &es256(&mismatched, &claims, &attacker),
        "alg mismatch",
    )
    .await;
    // T2: an embedded attacker key is ignored; a forged kid is unknown.
    let attacker_point = attacker.verifying_key().to_encoded_point(false);
    let embedded = json!({"alg": "ES256", "typ": "at+jwt", "kid": header["kid"], "jwk": {
        "kty": "EC", "crv": "P-256", "x": b64(attacker_point.x().unwrap()), "y": b64(attacker_point.y().unwrap())}});
    rejected(&app, &es256(&embedded, &claims, &attacker), "embedded jwk").await;
    let jku = json!({"alg": "ES256", "typ": "at+jwt", "kid": "attacker", "jku": "https://evil.example/jwks.json"});
    rejected(&app, &es256(&jku, &claims, &attacker), "jku").await;
    let traversal = json!({"alg": "ES256", "typ": "at+jwt", "kid": "../../dev/null"});
    rejected(
        &app,
        &es256(&traversal, &claims, &attacker),
        "kid traversal",
    )
    .await;
    // T3: a token of another type (no typ, or an ID-token typ) is not an access token.
    let no_typ = json!({"alg": "ES256", "kid": header["kid"]});
    rejected(&app, &es256(&no_typ, &claims, &attacker), "no typ").await;
    // Garbage.
    for junk in ["", "a.b.c", "not a jwt", &"x".repeat(10_000)] {
        rejected(&app, junk, "junk").await;
    }
    app
});

both_dbs!(another_projects_token_is_rejected_t3, |app| async move {
    let (_, other_key) = app.other_project().await;
    let (status, body) = app
        .post_with_key(
            &other_key,
            "/v1/auth/signup",
            json!({"email": "b@example.com", "password": PASSWORD}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let foreign = body["accessToken"].as_str().unwrap();
    // Wrong audience and issuer (and an unknown kid) for this project.
    rejected(&app, foreign, "foreign project").await;
    app
});

both_dbs!(
    expired_tokens_are_rejected_as_expired_t3,
    |app| async move {
        let body = app.signup("exp@example.com", PASSWORD).await;
        let access = body["accessToken"].as_str().unwrap();
        assert_eq!(app.verify(access).await.0, StatusCode::OK);
        app.clock.advance(std::time::Duration::from_secs(901));
        let (status, body) = app.verify(access).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        assert_eq!(body["error"]["code"], "token_expired");
        app
    }
);

both_dbs!(
    clients_may_ask_for_shorter_tokens_never_longer_t5,
    |app| async move {
        app.signup("ttl@example.com", PASSWORD).await;
        let (_, short) = app
            .post(
                "/v1/auth/login",
                json!({"email": "ttl@example.com", "password": PASSWORD, "tokenExpiry": 60}),
            )
            .await;
        assert_eq!(short["expiresIn"], 60);
        let c = jwt_claims(short["accessToken"].as_str().unwrap());
        assert_eq!(c["exp"].as_i64().unwrap() - c["iat"].as_i64().unwrap(), 60);
        let (_, long) = app
            .post(
                "/v1/auth/login",
                json!({"email": "ttl@example.com", "password": PASSWORD, "tokenExpiry": 86400}),
            )
            .await;
        assert_eq!(long["expiresIn"], 900);
        let (status, body) = app
            .post(
                "/v1/auth/login",
                json!({"email": "ttl@example.com", "password": PASSWORD, "tokenExpiry": 1}),
            )
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(body["error"]["field"], "tokenExpiry");
        app
    }
);

both_dbs!(
    key_rotation_keeps_issued_tokens_valid_t4,
    |app| async move {
        let body = app.signup("rot@example.com", PASSWORD).await;
        let old = body["accessToken"].as_str().unwrap().to_owned();
        let old_kid = jwt_header(&old)["kid"].clone();
        let new_kid = protekt_core::projects::rotate_keys(
            &app.store,
            &app.master,
            &app.project,
            app.clock.now(),
        )
        .await
        .unwrap();
        assert_eq!(
            app.verify(&old).await.0,
            StatusCode::OK,
            "a token signed before rotation still verifies"
        );
        let (_, fresh) = app.login("rot@example.com", PASSWORD).await;
        let fresh = fresh["accessToken"].as_str().unwrap();
        assert_eq!(jwt_header(fresh)["kid"], new_kid.as_str());
        assert_eq!(app.verify(fresh).await.0, StatusCode::OK);
        let (status, jwks) = app
            .get(&format!(
                "/p/{}/.well-known/jwks.json",
                app.project.login_id
            ))
            .await;
        assert_eq!(status, StatusCode::OK);
        let kids: Vec<&Value> = jwks["keys"]
            .as_array()
            .unwrap()
            .iter()
            .map(|k| &k["kid"])
            .collect();
        assert_eq!(
            kids,
            vec![&json!(new_kid), &old_kid],
            "current key first, the previous one kept"
        );
        for key in jwks["keys"].as_array().unwrap() {
            assert!(key.get("d").is_none(), "no private material in the JWKS");
            assert_eq!(key["alg"], "ES256");
            assert_eq!(key["use"], "sig");
        }
        app
    }
);

both_dbs!(
    tokens_verify_with_jsonwebtoken_against_the_published_jwks,
    |app| async move {
        let body = app.signup("jwks@example.com", PASSWORD).await;
        let token = body["accessToken"].as_str().unwrap();
        let (_, jwks) = app
            .get(&format!(
                "/p/{}/.well-known/jwks.json",
                app.project.login_id
            ))
            .await;
        let set: jsonwebtoken::jwk::JwkSet = serde_json::from_value(jwks).unwrap();
        let kid = jwt_header(token)["kid"].as_str().unwrap().to_owned();
        let jwk = set.find(&kid).unwrap();
        let key = jsonwebtoken::DecodingKey::from_jwk(jwk).unwrap();
        let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::ES256);
        validation.set_audience(&[&app.project.login_id]);
        validation.set_issuer(&[format!("{}/p/{}", app.base, app.project.login_id)]);
        let data = jsonwebtoken::decode::<Value>(token, &key, &validation).unwrap();
        assert_eq!(data.claims["sub"], body["user"]["id"]);
        assert_eq!(data.header.typ.as_deref(), Some("at+jwt"));
        app
    }
);

/// EdDSA and RS256 projects sign and verify too, with the right key types published (T6:
/// Ed25519 and RSA-3072).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn eddsa_and_rs256_projects_work_t6() {
    use protekt_core::model::SigningAlg;
    for (alg, kty) in [(SigningAlg::EdDsa, "OKP"), (SigningAlg::Rs256, "RSA")] {
        let settings = protekt_core::model::ProjectSettings {
            signing_alg: alg,
            ..Default::default()
        };
        let app = TestApp::spawn_with(Db::Sqlite, settings).await;
        let body = app.signup("alg@example.com", PASSWORD).await;
        let token = body["accessToken"].as_str().unwrap();
        assert_eq!(jwt_header(token)["alg"], alg.as_str());
        assert_eq!(app.verify(token).await.0, StatusCode::OK);
        let (_, jwks) = app
            .get(&format!(
                "/p/{}/.well-known/jwks.json",
                app.project.login_id
            ))
            .await;
        assert_eq!(jwks["keys"][0]["kty"], kty);
        if kty == "RSA" {
            let n = base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(jwks["keys"][0]["n"].as_str().unwrap())
                .unwrap();
            assert_eq!(n.len() * 8, 3072);
        }
        app.finish().await;
    }
}

both_dbs!(
    wrongly_typed_or_future_time_claims_are_refused_cve_2026_25537,
    |app| async move {
        let body = app.signup("typed@example.com", PASSWORD).await;
        let good = body["accessToken"].as_str().unwrap().to_owned();
        // Sign with the project's own key, as only a key holder could.
        let row = app
            .store
            .signing_keys()
            .of_project(&app.project.id, app.clock.now())
            .await
            .unwrap()
            .into_iter()
            .find(|k| k.retired_at.is_none())
            .unwrap();
        let pem = app
            .master
            .open(&row.private_key, &format!("signing_key:{}", row.id))
            .unwrap();
        let key = <SigningKey as p256::pkcs8::DecodePrivateKey>::from_pkcs8_pem(
            std::str::from_utf8(&pem).unwrap(),
        )
        .unwrap();
        let header = jwt_header(&good);
        let claims = jwt_claims(&good);
        // The same claims re-signed verify: the signing here is right.
        assert_eq!(
            app.verify(&es256(&header, &claims, &key)).await.0,
            StatusCode::OK
        );
        let now = app.clock.now() / 1000;
        for (name, value) in [
            ("exp", json!("0")),
            ("exp", json!(null)),
            ("nbf", json!("later")),
            ("nbf", json!(now + 3600)),
            ("iat", json!("now")),
        ] {
            let mut changed = claims.clone();
            changed[name] = value.clone();
            rejected(
                &app,
                &es256(&header, &changed, &key),
                &format!("{name}: {value}"),
            )
            .await;
        }
        app
    }
);
