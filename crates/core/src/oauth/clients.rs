//! OAuth clients: registering them (the management API and CLI) and authenticating them at the
//! token endpoint (`client_secret_basic`, `client_secret_post`, `private_key_jwt`, or none for
//! a public client).

use std::sync::Arc;

use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, Jwk, JwkSet};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use subtle::ConstantTimeEq;

use super::OAuthError;
use crate::clock::{Clock, Millis};
use crate::error::{Error, Result};
use crate::ids::{new_secret, secret_hash};
use crate::model::{
    AuthMethod, ClientId, ClientKind, GrantType, NewClient, OAuthClient, Project, SCOPES,
};
use crate::store::Store;

/// A client assertion may live at most this long (a long-lived one is a bearer credential).
const MAX_ASSERTION_LIFETIME_MS: Millis = 5 * 60 * 1000;
/// The longest overlap of a rotated secret.
pub const MAX_OVERLAP_SECONDS: u64 = 30 * 24 * 3600;
const MAX_REDIRECT_URIS: usize = 20;

/// What a token-endpoint request says about its client.
#[derive(Debug, Default, Clone)]
pub struct ClientAuth {
    /// From `Authorization: Basic` (already form-decoded).
    pub basic: Option<(String, String)>,
    pub client_id: Option<String>,
    pub client_secret: Option<String>,
    pub assertion_type: Option<String>,
    pub assertion: Option<String>,
}

#[derive(Clone)]
pub struct ClientService {
    store: Store,
    clock: Arc<Clock>,
}

/// A redirect URI a client may register: absolute, no fragment or user info; `https`, `http` on
/// a loopback host (RFC 8252 §7.3), or a private-use scheme with a dot (RFC 8252 §7.1).
fn check_redirect_uri(field: &str, uri: &str) -> Result<()> {
    let bad = |why: &str| Err(Error::not_allowed(field, format!("{uri:?} {why}")));
    if uri.len() > 2048 || uri.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return bad("must be at most 2048 characters, without spaces or control characters");
    }
    let Ok(url) = url::Url::parse(uri) else {
        return bad("is not an absolute URL");
    };
    if url.fragment().is_some() || !url.username().is_empty() || url.password().is_some() {
        return bad("must have no fragment and no user info");
    }
    match url.scheme() {
        "https" => Ok(()),
        "http" if is_loopback(&url) => Ok(()),
        "http" => bad("must use https (http only on a loopback host)"),
        "javascript" | "data" | "file" | "vbscript" => bad("has a forbidden scheme"),
        scheme if scheme.contains('.') => Ok(()),
        _ => {
            bad("must use https, http on loopback, or a private-use scheme such as com.example.app")
        }
    }
}

fn is_loopback(url: &url::Url) -> bool {
    matches!(url.host(), Some(url::Host::Ipv4(ip)) if ip.is_loopback())
        || matches!(url.host(), Some(url::Host::Ipv6(ip)) if ip.is_loopback())
        || url.host_str() == Some("localhost")
}

/// Whether `given` is one of the client's redirect URIs: the exact string, except that a
/// registered loopback IP URI matches any port (RFC 8252 §7.3; not `localhost`, §8.3).
pub fn redirect_matches(registered: &[String], given: &str) -> bool {
    if registered.iter().any(|r| r == given) {
        return true;
    }
    let Ok(url) = url::Url::parse(given) else {
        return false;
    };
    let ip_loopback = url.scheme() == "http"
        && match url.host() {
            Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
            Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
            _ => false,
        };
    if !ip_loopback || url.port().is_none() {
        return false;
    }
    let mut portless = url.clone();
    if portless.set_port(None).is_err() {
        return false;
    }
    // Compared as text after re-serialising only the port away: every other byte must match.
    let portless = portless.to_string();
    let given_without_port = given.replacen(&format!(":{}", url.port().unwrap_or(0)), "", 1);
    portless == given_without_port && registered.contains(&given_without_port)
}

/// The algorithms a registered public key signs with, or why it cannot be one.
fn key_algorithms(jwk: &Jwk) -> std::result::Result<Vec<Algorithm>, &'static str> {
    let all = match &jwk.algorithm {
        AlgorithmParameters::RSA(_) => vec![Algorithm::RS256, Algorithm::PS256],
        AlgorithmParameters::EllipticCurve(p) if p.curve == EllipticCurve::P256 => {
            vec![Algorithm::ES256]
        }
        AlgorithmParameters::OctetKeyPair(_) => vec![Algorithm::EdDSA],
        AlgorithmParameters::OctetKey(_) => return Err("symmetric keys are not accepted"),
        _ => return Err("only RSA, P-256 and Ed25519 keys are accepted"),
    };
    match jwk.common.key_algorithm {
        None => Ok(all),
        Some(alg) => {
            let alg: Algorithm = format!("{alg:?}").parse().map_err(|_| "unsupported alg")?;
            if all.contains(&alg) {
                Ok(vec![alg])
            } else {
                Err("its alg does not fit its key type")
            }
        }
    }
}

/// Parses a client's JWK Set: public keys only (no `d`), each of a type we verify.
fn check_jwks(jwks: &serde_json::Value) -> Result<JwkSet> {
    let bad = |why: String| Error::not_allowed("jwks", why);
    let keys = jwks
        .get("keys")
        .and_then(|k| k.as_array())
        .filter(|k| !k.is_empty() && k.len() <= 10)
        .ok_or_else(|| bad("jwks must be a JWK Set with 1 to 10 keys".into()))?;
    if keys
        .iter()
        .any(|k| k.get("d").is_some() || k.get("k").is_some())
    {
        return Err(bad("jwks must hold public keys only".into()));
    }
    let set: JwkSet =
        serde_json::from_value(jwks.clone()).map_err(|e| bad(format!("jwks: {e}")))?;
    for key in &set.keys {
        key_algorithms(key).map_err(|e| bad(format!("a key of jwks: {e}")))?;
        DecodingKey::from_jwk(key).map_err(|e| bad(format!("a key of jwks: {e}")))?;
    }
    Ok(set)
}

fn scope_token(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.bytes()
            .all(|b| b == 0x21 || (0x23..=0x5B).contains(&b) || (0x5D..=0x7E).contains(&b))
}

impl ClientService {
    pub fn new(store: Store, clock: Arc<Clock>) -> Self {
        Self { store, clock }
    }

    /// Registers a client; a confidential secret client gets its secret, shown once.
    pub async fn create(
        &self,
        project: &Project,
        new: NewClient,
    ) -> Result<(OAuthClient, Option<String>)> {
        let name = new.name.trim().to_owned();
        if name.is_empty() || name.chars().count() > 100 {
            return Err(Error::invalid("name", "name must be 1 to 100 characters"));
        }
        if new.redirect_uris.len() > MAX_REDIRECT_URIS
            || new.post_logout_redirect_uris.len() > MAX_REDIRECT_URIS
        {
            return Err(Error::invalid(
                "redirectUris",
                format!("at most {MAX_REDIRECT_URIS} redirect URIs"),
            ));
        }
        for uri in &new.redirect_uris {
            check_redirect_uri("redirectUris", uri)?;
        }
        for uri in &new.post_logout_redirect_uris {
            check_redirect_uri("postLogoutRedirectUris", uri)?;
        }
        let auth_method = match (new.kind, new.auth_method.as_deref()) {
            (ClientKind::Public, None | Some("none")) => AuthMethod::None,
            (ClientKind::Public, Some(_)) => {
                return Err(Error::not_allowed(
                    "tokenEndpointAuthMethod",
                    "a public client authenticates with none",
                ))
            }
            (ClientKind::Confidential, None) => AuthMethod::ClientSecretBasic,
            (ClientKind::Confidential, Some(m)) => match AuthMethod::parse(m) {
                Some(AuthMethod::None) | None => {
                    return Err(Error::not_allowed(
                        "tokenEndpointAuthMethod",
                        "a confidential client uses client_secret_basic, client_secret_post or private_key_jwt",
                    ))
                }
                Some(m) => m,
            },
        };
        let jwks = match (auth_method, &new.jwks) {
            (AuthMethod::PrivateKeyJwt, Some(jwks)) => {
                check_jwks(jwks)?;
                Some(jwks.clone())
            }
            (AuthMethod::PrivateKeyJwt, None) => {
                return Err(Error::not_allowed(
                    "jwks",
                    "private_key_jwt needs the client's jwks",
                ))
            }
            (_, Some(_)) => {
                return Err(Error::not_allowed(
                    "jwks",
                    "jwks is only for private_key_jwt",
                ))
            }
            (_, None) => None,
        };
        let grant_types = match new.grant_types {
            None => vec![GrantType::AuthorizationCode, GrantType::RefreshToken],
            Some(list) => {
                let mut grants = Vec::new();
                for g in &list {
                    let grant = GrantType::parse(g).ok_or_else(|| {
                        Error::not_allowed(
                            "grantTypes",
                            format!(
                                "{g:?} is not a grant Protekt offers (no implicit, no password)"
                            ),
                        )
                    })?;
                    if !grants.contains(&grant) {
                        grants.push(grant);
                    }
                }
                grants
            }
        };
        if new.kind == ClientKind::Public && grant_types.contains(&GrantType::ClientCredentials) {
            return Err(Error::not_allowed(
                "grantTypes",
                "a public client cannot use client_credentials",
            ));
        }
        let needs_redirect = grant_types.contains(&GrantType::AuthorizationCode);
        if needs_redirect && new.redirect_uris.is_empty() {
            return Err(Error::not_allowed(
                "redirectUris",
                "the authorization_code grant needs at least one redirect URI",
            ));
        }
        let scopes = match new.scopes {
            None => SCOPES.iter().map(|s| s.to_string()).collect(),
            Some(list) => {
                if list.len() > 50 || !list.iter().all(|s| scope_token(s)) {
                    return Err(Error::not_allowed(
                        "scopes",
                        "scopes are up to 50 names of 1 to 64 printable characters, no spaces",
                    ));
                }
                let mut unique: Vec<String> = Vec::new();
                for s in list {
                    if !unique.contains(&s) {
                        unique.push(s);
                    }
                }
                unique
            }
        };
        let secret = auth_method.uses_secret().then(|| new_secret("cs_"));
        let now = self.clock.now();
        let client = OAuthClient {
            id: crate::ids::new::<ClientId>(),
            name,
            kind: new.kind,
            redirect_uris: new.redirect_uris,
            post_logout_redirect_uris: new.post_logout_redirect_uris,
            grant_types,
            scopes,
            first_party: new.first_party,
            auth_method,
            jwks,
            secret_hash: secret.as_deref().map(secret_hash),
            previous_secret_hash: None,
            previous_secret_expires_at: None,
            created_at: now,
            updated_at: now,
        };
        self.store
            .oauth()
            .insert_client(&project.id, &client)
            .await?;
        Ok((client, secret))
    }

    pub async fn list(&self, project: &Project) -> Result<Vec<OAuthClient>> {
        self.store.oauth().clients(&project.id).await
    }

    pub async fn get(&self, project: &Project, id: &str) -> Result<OAuthClient> {
        self.store
            .oauth()
            .client(&project.id, id)
            .await?
            .ok_or(Error::NotFound)
    }

    /// A new secret; the old one keeps working for `overlap_seconds` (so deployments can roll).
    pub async fn rotate_secret(
        &self,
        project: &Project,
        id: &str,
        overlap_seconds: u64,
    ) -> Result<(String, Millis)> {
        if overlap_seconds > MAX_OVERLAP_SECONDS {
            return Err(Error::invalid(
                "overlapSeconds",
                format!("overlapSeconds must be 0 to {MAX_OVERLAP_SECONDS}"),
            ));
        }
        let client = self.get(project, id).await?;
        if !client.auth_method.uses_secret() {
            return Err(Error::conflict("this client has no secret to rotate"));
        }
        let secret = new_secret("cs_");
        let now = self.clock.now();
        let until = now + (overlap_seconds as i64) * 1000;
        if !self
            .store
            .oauth()
            .rotate_secret(&project.id, &client.id, &secret_hash(&secret), until, now)
            .await?
        {
            return Err(Error::NotFound);
        }
        Ok((secret, until))
    }

    pub async fn delete(&self, project: &Project, id: &str) -> Result<()> {
        if !self.store.oauth().delete_client(&project.id, id).await? {
            return Err(Error::NotFound);
        }
        Ok(())
    }

    /// The client a token-endpoint request authenticates as (RFC 6749 §2.3, RFC 7523 §3).
    /// `audiences` are what a client assertion's `aud` may name (the token endpoint, the
    /// issuer). Every failure is `invalid_client`.
    pub async fn authenticate(
        &self,
        project: &Project,
        auth: &ClientAuth,
        audiences: &[String],
    ) -> std::result::Result<OAuthClient, OAuthError> {
        let invalid = || OAuthError::invalid_client("client authentication failed");
        let methods = [
            auth.basic.is_some(),
            auth.client_secret.is_some(),
            auth.assertion.is_some(),
        ];
        if methods.iter().filter(|m| **m).count() > 1 {
            return Err(OAuthError::invalid_request(
                "use exactly one client authentication method",
            ));
        }
        let id = match (&auth.basic, &auth.client_id) {
            (Some((basic_id, _)), Some(form_id)) if basic_id != form_id => return Err(invalid()),
            (Some((basic_id, _)), _) => basic_id.clone(),
            (None, Some(id)) => id.clone(),
            (None, None) => match &auth.assertion {
                Some(assertion) => unverified_issuer(assertion).ok_or_else(invalid)?,
                None => return Err(invalid()),
            },
        };
        if id.len() > 128 {
            return Err(invalid());
        }
        let client = self
            .store
            .oauth()
            .client(&project.id, &id)
            .await?
            .ok_or_else(invalid)?;
        let secret = auth
            .basic
            .as_ref()
            .map(|(_, s)| s.as_str())
            .or(auth.client_secret.as_deref());
        let now = self.clock.now();
        let ok = match (client.auth_method, secret, &auth.assertion) {
            (m, Some(secret), None) if m.uses_secret() => self.secret_matches(&client, secret, now),
            (AuthMethod::PrivateKeyJwt, None, Some(assertion)) => {
                if auth.assertion_type.as_deref()
                    != Some("urn:ietf:params:oauth:client-assertion-type:jwt-bearer")
                {
                    return Err(OAuthError::invalid_request(
                        "unsupported client_assertion_type",
                    ));
                }
                self.assertion_valid(&client, assertion, audiences, now)
                    .await?
            }
            (AuthMethod::None, None, None) => true,
            _ => false,
        };
        if !ok {
            return Err(invalid());
        }
        Ok(client)
    }

    fn secret_matches(&self, client: &OAuthClient, secret: &str, now: Millis) -> bool {
        let given = secret_hash(secret);
        let current = client
            .secret_hash
            .as_ref()
            .is_some_and(|h| bool::from(h.as_bytes().ct_eq(given.as_bytes())));
        let previous = client.previous_secret_expires_at.is_some_and(|t| now < t)
            && client
                .previous_secret_hash
                .as_ref()
                .is_some_and(|h| bool::from(h.as_bytes().ct_eq(given.as_bytes())));
        current | previous
    }

    /// A `private_key_jwt` assertion (RFC 7523 §3): signed by a key of the client's JWKS with an
    /// algorithm that key allows, `iss` = `sub` = the client, `aud` one of ours, short-lived,
    /// and a `jti` never seen before (SECURITY AS6).
    async fn assertion_valid(
        &self,
        client: &OAuthClient,
        assertion: &str,
        audiences: &[String],
        now: Millis,
    ) -> std::result::Result<bool, OAuthError> {
        if assertion.len() > 8192 {
            return Ok(false);
        }
        let Some(jwks) = client.jwks.as_ref().and_then(|j| check_jwks(j).ok()) else {
            return Ok(false);
        };
        let Ok(header) = jsonwebtoken::decode_header(assertion) else {
            return Ok(false);
        };
        let key = match &header.kid {
            Some(kid) => jwks.find(kid),
            None if jwks.keys.len() == 1 => jwks.keys.first(),
            None => None,
        };
        let Some(key) = key else { return Ok(false) };
        if !key_algorithms(key).is_ok_and(|algs| algs.contains(&header.alg)) {
            return Ok(false);
        }
        let Ok(decoding) = DecodingKey::from_jwk(key) else {
            return Ok(false);
        };
        let mut validation = Validation::new(header.alg);
        validation.set_required_spec_claims(&["exp", "iss", "sub", "aud", "jti"]);
        validation.set_issuer(&[client.id.as_str()]);
        validation.sub = Some(client.id.to_string());
        validation.set_audience(audiences);
        validation.leeway = 30;
        #[derive(serde::Deserialize)]
        struct Assertion {
            exp: i64,
            jti: String,
        }
        let Ok(data) = jsonwebtoken::decode::<Assertion>(assertion, &decoding, &validation) else {
            return Ok(false);
        };
        let exp_ms = data.claims.exp.saturating_mul(1000);
        if exp_ms > now + MAX_ASSERTION_LIFETIME_MS || data.claims.jti.is_empty() {
            return Ok(false);
        }
        Ok(self
            .store
            .oauth()
            .record_assertion(&client.id, &data.claims.jti, exp_ms + 60_000)
            .await?)
    }
}

/// The `iss` of a client assertion, unverified: only which client to look up.
fn unverified_issuer(assertion: &str) -> Option<String> {
    use base64::Engine;
    let payload = assertion.split('.').nth(1)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .ok()?;
    let claims: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
    claims.get("iss")?.as_str().map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn as1_redirect_uris_match_exactly() {
        let registered = vec!["https://good.example/cb".to_owned()];
        assert!(redirect_matches(&registered, "https://good.example/cb"));
        for variant in [
            "https://good.example@evil.example/cb",
            "https://good.example.evil.example/cb",
            "https://good.example%2f@evil.example/cb",
            "https://good.example/cb/",
            "https://good.example/cb/../x",
            "https://GOOD.example/cb",
            "https://good.example./cb",
            "https://good.example/CB",
            "https://good.example/cb?x=1",
            "https://good.example/cb#f",
            "https://good.example:443/cb",
            "https://good.example:8443/cb",
            "http://good.example/cb",
            "https://xn--gd-ema.example/cb",
            "https://good.example/%63b",
            "https://good.example\\@evil.example/cb",
            "//good.example/cb",
        ] {
            assert!(!redirect_matches(&registered, variant), "{variant} matched");
        }
    }

    #[test]
    fn as1_loopback_ip_redirect_uris_match_any_port() {
        let registered = vec![
            "http://127.0.0.1/cb".to_owned(),
            "http://[::1]/cb".to_owned(),
            "http://localhost/cb".to_owned(),
        ];
        assert!(redirect_matches(&registered, "http://127.0.0.1:51234/cb"));
        assert!(redirect_matches(&registered, "http://[::1]:8080/cb"));
        assert!(!redirect_matches(&registered, "http://localhost:8080/cb"));
        assert!(!redirect_matches(
            &registered,
            "http://127.0.0.1:51234/cb/x"
        ));
        assert!(!redirect_matches(
            &registered,
            "http://127.0.0.1:51234/cb?x"
        ));
        assert!(!redirect_matches(&registered, "http://127.0.0.2:51234/cb"));
        assert!(!redirect_matches(&registered, "https://127.0.0.1:51234/cb"));
    }

    #[test]
    fn redirect_uris_to_register_are_checked() {
        for ok in [
            "https://app.example/cb",
            "http://127.0.0.1:3000/cb",
            "http://localhost/cb",
            "com.example.app:/oauth",
        ] {
            assert!(check_redirect_uri("f", ok).is_ok(), "{ok}");
        }
        for bad in [
            "http://app.example/cb",
            "https://u:p@app.example/cb",
            "https://app.example/cb#x",
            "javascript:alert(1)",
            "data:text/html,x",
            "/relative",
            "https://app.example/c b",
        ] {
            assert!(check_redirect_uri("f", bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn t1_client_keys_are_public_and_asymmetric() {
        let hmac = serde_json::json!({"keys": [{"kty": "oct", "k": "c2VjcmV0"}]});
        assert!(check_jwks(&hmac).is_err());
        let private = serde_json::json!({"keys": [{"kty": "EC", "crv": "P-256",
            "x": "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU",
            "y": "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0",
            "d": "jpsQnnGQmL-YBIffH1136cspYG6-0iY7X1fCE9-E9LI"}]});
        assert!(check_jwks(&private).is_err());
        let public = serde_json::json!({"keys": [{"kty": "EC", "crv": "P-256",
            "x": "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU",
            "y": "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"}]});
        assert!(check_jwks(&public).is_ok());
    }
}
