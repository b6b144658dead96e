//! Identifiers and one-time secrets. Every id is a prefix naming what it is (`usr_`, `ses_`,
//! `lp_`, …) followed by 128 random bits from the OS CSPRNG, so a log line says what it names
//! and nothing is guessable. Secrets (API keys, refresh tokens) carry 256 bits and are stored
//! only as their SHA-256 ([`secret_hash`]): at that entropy a fast hash is the right tool.

use base64::Engine;
use rand_core::{OsRng, RngCore};
use sha2::{Digest, Sha256};

/// `n` bytes from the operating system's CSPRNG.
pub fn random_bytes<const N: usize>() -> [u8; N] {
    let mut bytes = [0u8; N];
    OsRng.fill_bytes(&mut bytes);
    bytes
}

fn base32(bytes: &[u8]) -> String {
    data_encoding::BASE32_NOPAD
        .encode(bytes)
        .to_ascii_lowercase()
}

/// A new identifier: `prefix_` + 26 base32 characters (128 random bits).
pub fn new_id(prefix: &str) -> String {
    format!("{prefix}_{}", base32(&random_bytes::<16>()))
}

/// A fresh id of a typed kind (`ids::new::<UserId>()` → `usr_…`).
pub fn new<T: crate::model::Id>() -> T {
    T::from(new_id(T::PREFIX))
}

/// A new secret: `prefix` + 52 base32 characters (256 random bits).
pub fn new_secret(prefix: &str) -> String {
    format!("{prefix}{}", base32(&random_bytes::<32>()))
}

/// An opaque refresh token: 256 random bits, base64url without padding.
/// A uniformly random 6-digit code (rejection sampling: no modulo bias).
pub fn new_numeric_code() -> String {
    loop {
        let n = u32::from_be_bytes(random_bytes::<4>());
        if n < 4_294_000_000 {
            return format!("{:06}", n % 1_000_000);
        }
    }
}

pub fn new_refresh_token() -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(random_bytes::<32>())
}

/// The at-rest form of a high-entropy secret: lowercase hex SHA-256.
pub fn secret_hash(secret: &str) -> String {
    data_encoding::HEXLOWER.encode(&Sha256::digest(secret.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_carry_their_prefix_and_128_bits() {
        let id = new_id("usr");
        assert!(id.starts_with("usr_"));
        assert_eq!(id.len(), 4 + 26);
        assert_ne!(new_id("usr"), new_id("usr"));
    }

    #[test]
    fn typed_ids_take_their_prefix_from_their_type() {
        use crate::model::{ProjectId, UserId};
        assert!(new::<UserId>().starts_with("usr_"));
        assert!(new::<ProjectId>().starts_with("prj_"));
    }

    #[test]
    fn secrets_carry_256_bits() {
        let key = new_secret("pk_live_");
        assert_eq!(key.len(), "pk_live_".len() + 52);
        assert_eq!(new_refresh_token().len(), 43);
    }

    #[test]
    fn secret_hash_is_sha256_hex() {
        assert_eq!(
            secret_hash("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}

/// SECURITY K4: the checks that keep every secret on the OS CSPRNG and every code comparison
/// constant-time. They read the repository's sources, so they catch a new file too.
#[cfg(test)]
mod k4 {
    use std::path::{Path, PathBuf};

    fn repository() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
    }

    fn rust_sources(dir: &Path, out: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                rust_sources(&path, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push(path);
            }
        }
    }

    #[test]
    fn clippy_forbids_the_non_os_random_generators_k4() {
        let config = std::fs::read_to_string(repository().join("clippy.toml")).unwrap();
        for method in [concat!("rand::thread", "_rng"), concat!("rand::", "random")] {
            assert!(
                config.contains(&format!("path = \"{method}\"")),
                "clippy.toml must list {method} under disallowed-methods"
            );
        }
    }

    #[test]
    fn no_source_draws_randomness_from_anything_but_the_os_k4() {
        let mut files = Vec::new();
        rust_sources(&repository().join("crates"), &mut files);
        assert!(files.len() > 20, "the walk found the sources");
        let forbidden = [
            concat!("thread", "_rng"),
            concat!("rand::", "random"),
            concat!("Small", "Rng"),
            concat!("from", "_entropy"),
            concat!("fast", "rand"),
        ];
        for file in &files {
            let text = std::fs::read_to_string(file).unwrap();
            for needle in forbidden {
                assert!(!text.contains(needle), "{} uses {needle}", file.display());
            }
        }
    }

    #[test]
    fn one_time_codes_are_compared_in_constant_time_k4() {
        let core = repository().join("crates/core/src");
        for file in ["mfa/totp.rs", "mfa/sms.rs", "password.rs"] {
            let text = std::fs::read_to_string(core.join(file)).unwrap();
            assert!(
                text.contains("subtle::ConstantTimeEq::ct_eq("),
                "{file} compares a secret without subtle::ConstantTimeEq"
            );
        }
    }
}
