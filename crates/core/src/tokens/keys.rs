//! Signing keys: making a project's key pairs and naming their JWT algorithm.

use base64::Engine;
use jsonwebtoken::Algorithm;

use super::B64URL;
use crate::clock::Millis;
use crate::crypto::MasterKey;
use crate::error::{Error, Result};
use crate::model::{KeyId, ProjectId, SigningAlg, SigningKeyRow};

/// The JWT algorithm of a signing algorithm.
pub(super) fn jwt_alg(alg: SigningAlg) -> Algorithm {
    match alg {
        SigningAlg::Es256 => Algorithm::ES256,
        SigningAlg::EdDsa => Algorithm::EdDSA,
        SigningAlg::Rs256 => Algorithm::RS256,
    }
}

/// Makes a new key pair (P-256, Ed25519 or RSA-3072) for a project, sealed for storage.
pub fn generate_signing_key(
    master: &MasterKey,
    project_id: &ProjectId,
    alg: SigningAlg,
    now: Millis,
) -> Result<SigningKeyRow> {
    use p256::pkcs8::{EncodePrivateKey, LineEnding};
    let kid = crate::ids::new::<KeyId>();
    let mut rng = rand_core::OsRng;
    let err = |e: &dyn std::fmt::Display| Error::Internal(anyhow::anyhow!("key generation: {e}"));
    let (pem, mut jwk) = match alg {
        SigningAlg::Es256 => {
            let secret = p256::SecretKey::random(&mut rng);
            let pem = secret.to_pkcs8_pem(LineEnding::LF).map_err(|e| err(&e))?;
            let point = p256::elliptic_curve::sec1::ToEncodedPoint::to_encoded_point(
                &secret.public_key(),
                false,
            );
            let (x, y) = (
                point.x().ok_or_else(|| err(&"no x"))?,
                point.y().ok_or_else(|| err(&"no y"))?,
            );
            let jwk = serde_json::json!({"kty": "EC", "crv": "P-256", "x": B64URL.encode(x), "y": B64URL.encode(y)});
            (pem.to_string(), jwk)
        }
        SigningAlg::EdDsa => {
            let secret = ed25519_dalek::SigningKey::generate(&mut rng);
            let pem = secret.to_pkcs8_pem(LineEnding::LF).map_err(|e| err(&e))?;
            let jwk = serde_json::json!({"kty": "OKP", "crv": "Ed25519",
                "x": B64URL.encode(secret.verifying_key().to_bytes())});
            (pem.to_string(), jwk)
        }
        SigningAlg::Rs256 => {
            // AWS-LC generates and signs (constant-time, unlike the `rsa` crate).
            use aws_lc_rs::encoding::AsDer;
            use aws_lc_rs::rsa::{KeyPair, KeySize};
            use aws_lc_rs::signature::KeyPair as _;
            let secret = KeyPair::generate(KeySize::Rsa3072).map_err(|e| err(&e))?;
            let der = secret.as_der().map_err(|e| err(&e))?;
            let pem = pem::encode(&pem::Pem::new("PRIVATE KEY", der.as_ref()));
            let public = secret.public_key();
            let jwk = serde_json::json!({"kty": "RSA",
                "n": B64URL.encode(public.modulus().big_endian_without_leading_zero()),
                "e": B64URL.encode(public.exponent().big_endian_without_leading_zero())});
            (pem, jwk)
        }
    };
    jwk["kid"] = kid.to_string().into();
    jwk["alg"] = alg.as_str().into();
    jwk["use"] = "sig".into();
    Ok(SigningKeyRow {
        private_key: master.seal(pem.as_bytes(), &format!("signing_key:{kid}")),
        id: kid,
        project_id: project_id.clone(),
        alg: alg.as_str().to_owned(),
        public_jwk: jwk.to_string(),
        created_at: now,
        retired_at: None,
    })
}
