//! Access tokens: signing keys, issuing and verifying JWTs.
//!
//! Each project has its own keys (ES256 by default; EdDSA and RS256 selectable). Verification
//! follows RFC 8725: the key is found by `kid` in our own key ring only (never from `jku`,
//! `jwk`, `x5u` or `x5c` headers), the header's `alg` must equal the key's algorithm (so `none`
//! and HS256-with-a-public-key cannot pass), `typ` must be `at+jwt` (RFC 9068), and `iss`,
//! `aud` and `exp` are checked against this project and our clock.
//!
//! A signature check costs tens of microseconds; a token is typically verified many times in its
//! short life. So the result of a successful signature check is cached, keyed by the SHA-256 of
//! (project, token). Time, revocation and user state are checked on every call, outside the cache.

use base64::Engine;
use jsonwebtoken::{DecodingKey, EncodingKey, Header, Validation};
use quick_cache::sync::Cache;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use crate::clock::Millis;
use crate::crypto::MasterKey;
use crate::error::{Error, Result};
use crate::model::{
    Aal, Amr, KeyId, Project, ProjectId, SessionId, SigningAlg, SigningKeyRow, UserId,
};
use crate::store::Store;

mod keys;
pub use keys::generate_signing_key;
use keys::jwt_alg;

const B64URL: base64::engine::GeneralPurpose = base64::engine::general_purpose::URL_SAFE_NO_PAD;
/// Tokens longer than this are refused before any parsing.
const MAX_TOKEN_BYTES: usize = 8 * 1024;
/// Allowed clock skew for `iat` in the future, in seconds.
const LEEWAY_SECS: i64 = 60;

/// Claims of a Protekt access token.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct AccessClaims {
    pub iss: String,
    pub sub: UserId,
    pub aud: String,
    pub exp: i64,
    pub iat: i64,
    /// Never issued by Protekt; honoured if present, and a wrongly typed one is refused
    /// (CVE-2026-25537 was a wrongly typed `nbf`/`exp` skipped silently).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nbf: Option<i64>,
    pub jti: String,
    pub sid: SessionId,
    pub amr: Vec<Amr>,
    pub aal: Aal,
    /// Absent for a phone-only user.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    pub email_verified: bool,
    /// OIDC's names for the phone, present when the user has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone_number: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone_number_verified: Option<bool>,
    /// The OAuth client the token was issued to (RFC 9068), absent for the project's own API.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    /// The scope an OAuth client was granted (space separated).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
}

/// Claims of a client-credentials (M2M) access token: no user and no session; `sub` is the
/// client. Told apart from a user's token by the absence of `sid`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ClientClaims {
    pub iss: String,
    pub sub: String,
    pub aud: String,
    pub exp: i64,
    pub iat: i64,
    pub jti: String,
    pub client_id: String,
    pub scope: String,
}

struct VerifyingKey {
    alg: SigningAlg,
    key: DecodingKey,
}

/// A project's keys in memory: the current signing key and every key that may verify.
struct ProjectKeys {
    current_kid: KeyId,
    signing: EncodingKey,
    current_alg: SigningAlg,
    verifying: HashMap<KeyId, VerifyingKey>,
    jwks: Vec<serde_json::Value>,
    loaded_generation: u64,
    loaded_at: Millis,
}

/// How often a project's keys are re-read even without a notification (covers `protekt keys
/// rotate` run as a separate process against the same SQLite file).
const KEY_RELOAD_MS: i64 = 30_000;

pub struct TokenService {
    store: Store,
    master: MasterKey,
    public_url: String,
    keys: RwLock<HashMap<ProjectId, Arc<ProjectKeys>>>,
    verified: Cache<[u8; 32], Arc<AccessClaims>>,
    verified_generation: std::sync::atomic::AtomicU64,
    /// The JWKS of each project by Login ID, as last read (see [`TokenService::published_jwks`]).
    published: RwLock<HashMap<String, Published>>,
}

struct Published {
    jwks: Arc<Vec<serde_json::Value>>,
    loaded_generation: u64,
    loaded_at: Millis,
}

impl TokenService {
    pub fn new(store: Store, master: MasterKey, public_url: &str) -> Self {
        Self {
            store,
            master,
            public_url: public_url.trim_end_matches('/').to_owned(),
            keys: RwLock::new(HashMap::new()),
            verified: Cache::new(100_000),
            verified_generation: std::sync::atomic::AtomicU64::new(0),
            published: RwLock::new(HashMap::new()),
        }
    }

    /// The issuer URL of a project: `<public-url>/p/<login-id>`.
    pub fn issuer(&self, project: &Project) -> String {
        format!("{}/p/{}", self.public_url, project.login_id)
    }

    async fn project_keys(
        &self,
        project: &Project,
        now: Millis,
        force: bool,
    ) -> Result<Arc<ProjectKeys>> {
        let generation = self.store.cache().keys_generation();
        if !force {
            let cached = self
                .keys
                .read()
                .ok()
                .and_then(|m| m.get(&project.id).cloned());
            if let Some(k) = cached {
                if k.loaded_generation == generation && now - k.loaded_at < KEY_RELOAD_MS {
                    return Ok(k);
                }
            }
        }
        let rows = self
            .store
            .signing_keys()
            .of_project(&project.id, now)
            .await?;
        let loaded = Arc::new(self.load(rows, generation, now)?);
        if let Ok(mut map) = self.keys.write() {
            map.insert(project.id.clone(), Arc::clone(&loaded));
        }
        self.sync_verified_cache(generation);
        Ok(loaded)
    }

    /// Drops cached signature results when keys changed anywhere (a key may have been revoked).
    fn sync_verified_cache(&self, generation: u64) {
        use std::sync::atomic::Ordering;
        if self.verified_generation.swap(generation, Ordering::SeqCst) != generation {
            self.verified.clear();
        }
    }

    fn load(&self, rows: Vec<SigningKeyRow>, generation: u64, now: Millis) -> Result<ProjectKeys> {
        let bad = |m: String| Error::Internal(anyhow::anyhow!(m));
        let current = rows
            .iter()
            .find(|r| r.retired_at.is_none())
            .ok_or_else(|| bad("project has no current signing key".into()))?;
        let current_alg = SigningAlg::parse(&current.alg)
            .ok_or_else(|| bad(format!("unknown alg {}", current.alg)))?;
        let pem = self
            .master
            .open(&current.private_key, &format!("signing_key:{}", current.id))
            .ok_or_else(|| bad("cannot open signing key: wrong master key?".into()))?;
        let signing = match current_alg {
            SigningAlg::Es256 => EncodingKey::from_ec_pem(&pem),
            SigningAlg::EdDsa => EncodingKey::from_ed_pem(&pem),
            SigningAlg::Rs256 => EncodingKey::from_rsa_pem(&pem),
        }
        .map_err(|e| bad(format!("signing key: {e}")))?;
        let mut verifying = HashMap::new();
        let mut jwks = Vec::new();
        for row in &rows {
            let Some(alg) = SigningAlg::parse(&row.alg) else {
                continue;
            };
            let jwk: serde_json::Value =
                serde_json::from_str(&row.public_jwk).map_err(|e| bad(format!("jwk: {e}")))?;
            let s = |k: &str| jwk[k].as_str().unwrap_or_default().to_owned();
            let key = match alg {
                SigningAlg::Es256 => DecodingKey::from_ec_components(&s("x"), &s("y")),
                SigningAlg::EdDsa => DecodingKey::from_ed_components(&s("x")),
                SigningAlg::Rs256 => DecodingKey::from_rsa_components(&s("n"), &s("e")),
            }
            .map_err(|e| bad(format!("verifying key: {e}")))?;
            verifying.insert(row.id.clone(), VerifyingKey { alg, key });
            jwks.push(jwk);
        }
        Ok(ProjectKeys {
            current_kid: current.id.clone(),
            signing,
            current_alg,
            verifying,
            jwks,
            loaded_generation: generation,
            loaded_at: now,
        })
    }

    /// The project's public keys as JWKS entries (current first).
    pub async fn jwks(&self, project: &Project, now: Millis) -> Result<Vec<serde_json::Value>> {
        Ok(self.project_keys(project, now, false).await?.jwks.clone())
    }

    /// The public keys of the project with this Login ID, for its JWKS endpoint (`None`: no such
    /// project). Answered from memory while fresh, so the endpoint costs no database read; and
    /// while the database fails, from the last good copy, so verifiers keep working (SECURITY
    /// D2).
    pub async fn published_jwks(
        &self,
        login_id: &str,
        now: Millis,
    ) -> Result<Option<Arc<Vec<serde_json::Value>>>> {
        let generation = self.store.cache().keys_generation();
        let cached = self.published.read().ok().and_then(|m| {
            m.get(login_id)
                .map(|p| (Arc::clone(&p.jwks), p.loaded_generation, p.loaded_at))
        });
        if let Some((jwks, loaded_generation, loaded_at)) = &cached {
            if *loaded_generation == generation && now - loaded_at < KEY_RELOAD_MS {
                return Ok(Some(Arc::clone(jwks)));
            }
        }
        let fresh = async {
            let Some(project) = self.store.projects().by_login_id(login_id).await? else {
                return Ok(None);
            };
            Ok::<_, Error>(Some(Arc::new(self.jwks(&project, now).await?)))
        };
        match fresh.await {
            Ok(Some(jwks)) => {
                if let Ok(mut map) = self.published.write() {
                    map.insert(
                        login_id.to_owned(),
                        Published {
                            jwks: Arc::clone(&jwks),
                            loaded_generation: generation,
                            loaded_at: now,
                        },
                    );
                }
                Ok(Some(jwks))
            }
            Ok(None) => {
                if let Ok(mut map) = self.published.write() {
                    map.remove(login_id);
                }
                Ok(None)
            }
            Err(e) => match cached {
                Some((jwks, _, _)) => {
                    tracing::warn!(error = ?e, "cannot reload a JWKS; serving the last good copy");
                    Ok(Some(jwks))
                }
                None => Err(e),
            },
        }
    }

    /// Signs an access token for a session.
    pub async fn issue(
        &self,
        project: &Project,
        claims: &AccessClaims,
        now: Millis,
    ) -> Result<String> {
        self.sign(project, claims, "at+jwt", now)
            .await
            .map(|(t, _)| t)
    }

    /// Signs a client-credentials access token.
    pub async fn issue_client(
        &self,
        project: &Project,
        claims: &ClientClaims,
        now: Millis,
    ) -> Result<String> {
        self.sign(project, claims, "at+jwt", now)
            .await
            .map(|(t, _)| t)
    }

    /// Signs any JWT with the project's current key: `typ` tells the kinds apart (`at+jwt` for
    /// access tokens, `JWT` for ID tokens, which are never accepted as access tokens, T3).
    /// Returns the token and the algorithm it was signed with.
    pub async fn sign<T: Serialize>(
        &self,
        project: &Project,
        claims: &T,
        typ: &str,
        now: Millis,
    ) -> Result<(String, SigningAlg)> {
        let keys = self.project_keys(project, now, false).await?;
        let mut header = Header::new(jwt_alg(keys.current_alg));
        header.kid = Some(keys.current_kid.to_string());
        header.typ = Some(typ.to_owned());
        let token = jsonwebtoken::encode(&header, claims, &keys.signing)
            .map_err(|e| Error::Internal(anyhow::anyhow!("signing: {e}")))?;
        Ok((token, keys.current_alg))
    }

    /// The algorithm of the project's current signing key.
    pub async fn current_alg(&self, project: &Project, now: Millis) -> Result<SigningAlg> {
        Ok(self.project_keys(project, now, false).await?.current_alg)
    }

    /// Verifies a client-credentials token's signature, type, issuer, audience and time
    /// (revocation and the client's existence are the caller's next step).
    pub async fn verify_client(
        &self,
        project: &Project,
        token: &str,
        now: Millis,
    ) -> Result<ClientClaims> {
        if token.len() > MAX_TOKEN_BYTES {
            return Err(Error::InvalidToken);
        }
        let claims: ClientClaims = self.verify_signature(project, token, "at+jwt", now).await?;
        let now_secs = now.div_euclid(1000);
        if claims.exp <= now_secs {
            return Err(Error::TokenExpired);
        }
        if claims.iat > now_secs + LEEWAY_SECS || claims.sub != claims.client_id {
            return Err(Error::InvalidToken);
        }
        Ok(claims)
    }

    /// Reads an ID token we issued (an `id_token_hint`), whatever its age; `None` if it is not
    /// one of ours. Its audience is the client it names.
    pub async fn read_id_token(
        &self,
        project: &Project,
        token: &str,
        now: Millis,
    ) -> Option<serde_json::Value> {
        if token.len() > MAX_TOKEN_BYTES {
            return None;
        }
        let header = jsonwebtoken::decode_header(token).ok()?;
        if header.typ.as_deref() != Some("JWT") {
            return None;
        }
        let keys = self.project_keys(project, now, false).await.ok()?;
        let key = keys.verifying.get(header.kid?.as_str())?;
        if header.alg != jwt_alg(key.alg) {
            return None;
        }
        let mut validation = Validation::new(jwt_alg(key.alg));
        validation.validate_exp = false;
        validation.validate_aud = false;
        validation.set_required_spec_claims(&["iss", "sub", "aud"]);
        validation.set_issuer(&[self.issuer(project)]);
        jsonwebtoken::decode::<serde_json::Value>(token, &key.key, &validation)
            .ok()
            .map(|d| d.claims)
    }

    /// Checks signature, algorithm, type, issuer, audience and time. Revocation is the caller's
    /// next step (see `auth::verify`).
    pub async fn verify(
        &self,
        project: &Project,
        token: &str,
        now: Millis,
    ) -> Result<Arc<AccessClaims>> {
        if token.len() > MAX_TOKEN_BYTES {
            return Err(Error::InvalidToken);
        }
        let mut digest = Sha256::new();
        digest.update(project.id.as_bytes());
        digest.update([0u8]);
        digest.update(token.as_bytes());
        let cache_key: [u8; 32] = digest.finalize().into();
        self.sync_verified_cache(self.store.cache().keys_generation());
        let claims = match self.verified.get(&cache_key) {
            Some(c) => c,
            None => {
                let claims = Arc::new(self.verify_signature(project, token, "at+jwt", now).await?);
                self.verified.insert(cache_key, Arc::clone(&claims));
                claims
            }
        };
        let now_secs = now.div_euclid(1000);
        if claims.exp <= now_secs {
            return Err(Error::TokenExpired);
        }
        if claims.iat > now_secs + LEEWAY_SECS || claims.nbf.is_some_and(|nbf| nbf > now_secs) {
            return Err(Error::InvalidToken);
        }
        Ok(claims)
    }

    async fn verify_signature<T: serde::de::DeserializeOwned>(
        &self,
        project: &Project,
        token: &str,
        typ: &str,
        now: Millis,
    ) -> Result<T> {
        let header = jsonwebtoken::decode_header(token).map_err(|_| Error::InvalidToken)?;
        if header.typ.as_deref() != Some(typ) {
            return Err(Error::InvalidToken);
        }
        let kid = header.kid.ok_or(Error::InvalidToken)?;
        let mut keys = self.project_keys(project, now, false).await?;
        if !keys.verifying.contains_key(kid.as_str()) && now - keys.loaded_at > 1_000 {
            // Perhaps rotated by another process a moment ago; re-read at most once a second.
            keys = self.project_keys(project, now, true).await?;
        }
        let key = keys
            .verifying
            .get(kid.as_str())
            .ok_or(Error::InvalidToken)?;
        if header.alg != jwt_alg(key.alg) {
            return Err(Error::InvalidToken);
        }
        let mut validation = Validation::new(jwt_alg(key.alg));
        // Time is checked against our clock by the caller, on every call.
        validation.validate_exp = false;
        validation.validate_nbf = false;
        validation.leeway = 0;
        validation.set_required_spec_claims(&["exp", "iat", "iss", "aud", "sub"]);
        validation.set_audience(&[&project.login_id]);
        validation.set_issuer(&[self.issuer(project)]);
        jsonwebtoken::decode::<T>(token, &key.key, &validation)
            .map(|d| d.claims)
            .map_err(|_| Error::InvalidToken)
    }

    /// Reads the claims of a token whose signature is valid for this project, whatever its age
    /// (revocation of an expired token is a no-op, not an error).
    pub async fn verify_ignoring_time(
        &self,
        project: &Project,
        token: &str,
        now: Millis,
    ) -> Result<AccessClaims> {
        if token.len() > MAX_TOKEN_BYTES {
            return Err(Error::InvalidToken);
        }
        self.verify_signature(project, token, "at+jwt", now).await
    }

    /// The refresh token that succeeds `token`: HMAC of it under a key derived from the master
    /// key. Deterministic, so a retry of a just-rotated token inside the grace window gets the
    /// same successor back without the server ever storing a refresh token in clear.
    pub fn refresh_successor(&self, token: &str) -> String {
        let key = self.master.derive("protekt/refresh-successor/v1");
        B64URL.encode(crate::crypto::hmac_sha256(&key, token.as_bytes()))
    }
}
