//! The master key and what it protects. Private signing keys (and, later, TOTP seeds and provider
//! secrets) are sealed with AES-256-GCM under the master key, with the row's id as associated
//! data so a ciphertext moved to another row fails to open (SECURITY K1). Keys for other purposes
//! are derived from the master key with HMAC-SHA256 and a purpose label, never reused directly.

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::Engine;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use std::path::Path;

use crate::ids::random_bytes;

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

#[derive(Debug, thiserror::Error)]
pub enum MasterKeyError {
    #[error(
        "PROTEKT_MASTER_KEY must be 32 random bytes in base64 (44 characters); got something else"
    )]
    Malformed,
    #[error("the master key must not be a repeated or trivial value")]
    Weak,
    #[error("cannot read or create the master key file {path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
}

/// 256-bit master key. `Debug` never prints it.
#[derive(Clone)]
pub struct MasterKey([u8; 32]);

impl std::fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MasterKey(<redacted>)")
    }
}

impl MasterKey {
    /// Parses a base64 key (from `PROTEKT_MASTER_KEY` or the key file). Short, malformed or
    /// trivially weak keys are refused, so a `changeme` never reaches production (SECURITY T6).
    pub fn parse(text: &str) -> Result<Self, MasterKeyError> {
        let bytes = B64
            .decode(text.trim())
            .map_err(|_| MasterKeyError::Malformed)?;
        let key: [u8; 32] = bytes.try_into().map_err(|_| MasterKeyError::Malformed)?;
        let distinct = key.iter().collect::<std::collections::HashSet<_>>().len();
        if distinct < 8 {
            return Err(MasterKeyError::Weak);
        }
        Ok(Self(key))
    }

    pub fn generate() -> Self {
        Self(random_bytes::<32>())
    }

    pub fn to_base64(&self) -> String {
        B64.encode(self.0)
    }

    /// Reads `<data_dir>/master.key`, creating it (mode 0600) on first start.
    pub fn load_or_create(data_dir: &Path) -> Result<Self, MasterKeyError> {
        let path = data_dir.join("master.key");
        let io = |source| MasterKeyError::Io {
            path: path.display().to_string(),
            source,
        };
        match std::fs::read_to_string(&path) {
            Ok(text) => Self::parse(&text),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                std::fs::create_dir_all(data_dir).map_err(io)?;
                let key = Self::generate();
                write_private(&path, &key.to_base64()).map_err(io)?;
                Ok(key)
            }
            Err(e) => Err(io(e)),
        }
    }

    /// A subkey for one purpose: HMAC-SHA256(master, label).
    pub fn derive(&self, label: &str) -> [u8; 32] {
        hmac_sha256(&self.0, label.as_bytes())
    }

    /// Seals `plaintext` bound to `aad`; the output is base64(nonce || ciphertext).
    pub fn seal(&self, plaintext: &[u8], aad: &str) -> String {
        let cipher = Aes256Gcm::new(&self.0.into());
        let nonce = random_bytes::<12>();
        let payload = Payload {
            msg: plaintext,
            aad: aad.as_bytes(),
        };
        // Encryption with a fresh 96-bit nonce and an in-memory buffer cannot fail.
        let sealed = cipher
            .encrypt(&Nonce::from(nonce), payload)
            .unwrap_or_default();
        let mut out = nonce.to_vec();
        out.extend_from_slice(&sealed);
        B64.encode(out)
    }

    /// Opens what [`seal`](Self::seal) produced with the same `aad`; `None` if anything differs.
    pub fn open(&self, sealed: &str, aad: &str) -> Option<Vec<u8>> {
        let bytes = B64.decode(sealed).ok()?;
        if bytes.len() < 12 + 16 {
            return None;
        }
        let (nonce, ciphertext) = bytes.split_at(12);
        let nonce: [u8; 12] = nonce.try_into().ok()?;
        let cipher = Aes256Gcm::new(&self.0.into());
        cipher
            .decrypt(
                &Nonce::from(nonce),
                Payload {
                    msg: ciphertext,
                    aad: aad.as_bytes(),
                },
            )
            .ok()
    }
}

pub fn hmac_sha256(key: &[u8], data: &[u8]) -> [u8; 32] {
    // HMAC accepts keys of any length, so `new_from_slice` cannot fail here.
    let mut mac = match <Hmac<Sha256> as Mac>::new_from_slice(key) {
        Ok(mac) => mac,
        Err(_) => return [0u8; 32],
    };
    mac.update(data);
    mac.finalize().into_bytes().into()
}

fn write_private(path: &Path, contents: &str) -> std::io::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path)?;
    file.write_all(contents.as_bytes())?;
    file.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_values_open_only_with_the_same_aad_k1() {
        let key = MasterKey::generate();
        let sealed = key.seal(b"secret", "signing_key:kid_a");
        assert_eq!(
            key.open(&sealed, "signing_key:kid_a").as_deref(),
            Some(&b"secret"[..])
        );
        // K1: a ciphertext swapped onto another row does not decrypt.
        assert!(key.open(&sealed, "signing_key:kid_b").is_none());
        assert!(MasterKey::generate()
            .open(&sealed, "signing_key:kid_a")
            .is_none());
    }

    #[test]
    fn weak_or_malformed_master_keys_are_refused_t6() {
        assert!(matches!(
            MasterKey::parse("changeme"),
            Err(MasterKeyError::Malformed)
        ));
        assert!(matches!(
            MasterKey::parse(&B64.encode([7u8; 32])),
            Err(MasterKeyError::Weak)
        ));
        assert!(MasterKey::parse(&MasterKey::generate().to_base64()).is_ok());
    }

    #[test]
    fn debug_does_not_print_the_key_k3() {
        let key = MasterKey::generate();
        assert!(!format!("{key:?}").contains(&key.to_base64()));
    }

    #[test]
    fn key_file_is_created_once_and_reused() {
        let dir = std::env::temp_dir().join(crate::ids::new_id("mk"));
        let first = MasterKey::load_or_create(&dir).map(|k| k.to_base64()).ok();
        let second = MasterKey::load_or_create(&dir).map(|k| k.to_base64()).ok();
        assert!(first.is_some());
        assert_eq!(first, second);
        let _ = std::fs::remove_dir_all(dir);
    }
}
