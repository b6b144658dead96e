//! Passwords: the policy a new password must meet, and the hashing pool.
//!
//! Policy follows NIST SP 800-63B: a minimum length (project setting, default 8), a maximum of
//! 1024 characters (4 KiB at most) so hashing cannot be turned into a DoS, no composition rules, and a strength check
//! with zxcvbn's dictionaries (common passwords, names, the user's email and the project's name
//! as context words). Passwords are NFKC-normalised before hashing, so the same passphrase typed
//! on different keyboards matches.
//!
//! Hashing is argon2id (m=19456 KiB, t=2, p=1, PHC strings). It runs on a small dedicated pool
//! of OS threads at lower scheduling priority, never on the async executor: a login flood queues
//! there while token verification keeps its share of the CPU, and a full queue answers
//! `server_busy` rather than growing without bound. Callers must not hold a database connection
//! or transaction while they wait for a hash.

use argon2::password_hash::PasswordHash;
use argon2::{Algorithm, Argon2, Params, Version};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use unicode_normalization::UnicodeNormalization;

use crate::error::{Error, Result};

/// Longest accepted password, in characters (before normalisation): at most 4 KiB to hash.
pub const MAX_PASSWORD_CHARS: usize = 1024;
/// zxcvbn cost grows quickly with length; a passphrase this long is judged by its start.
const STRENGTH_CHECK_CHARS: usize = 100;

/// Checks a new password against the policy. `context` holds words the password must not be
/// built from (the email, the project name).
pub fn check_policy(password: &str, min_chars: usize, context: &[&str]) -> Result<()> {
    let weak = |m: &str| {
        Err(Error::WeakPassword {
            field: "password".to_owned(),
            message: m.to_owned(),
        })
    };
    if password.chars().count() > MAX_PASSWORD_CHARS {
        return Err(Error::invalid(
            "password",
            format!("password must be at most {MAX_PASSWORD_CHARS} characters"),
        ));
    }
    let normalized = normalize(password);
    if normalized.chars().count() < min_chars {
        return weak(&format!("password must be at least {min_chars} characters"));
    }
    let sample: String = normalized.chars().take(STRENGTH_CHECK_CHARS).collect();
    let mut words: Vec<&str> = Vec::new();
    for c in context {
        words.push(c);
        words.extend(
            c.split(|ch: char| !ch.is_alphanumeric())
                .filter(|w| w.len() >= 3),
        );
    }
    let score = u8::from(zxcvbn::zxcvbn(&sample, &words).score());
    // Score 2 means at least 10^6 guesses: it blocks the common and pattern-built passwords
    // (NIST's blocklist) while accepting ordinary passphrases such as the SDK guide's own.
    if score < 2 {
        return weak("password is too common or easy to guess; try a longer passphrase");
    }
    Ok(())
}

/// NFKC normalisation (NIST SP 800-63B §5.1.1.2). Nothing is truncated or case-folded.
pub fn normalize(password: &str) -> String {
    password.nfkc().collect()
}

/// Argon2id parameters. The defaults are OWASP's baseline.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HashParams {
    pub memory_kib: u32,
    pub iterations: u32,
    pub parallelism: u32,
}

impl Default for HashParams {
    fn default() -> Self {
        Self {
            memory_kib: 19_456,
            iterations: 2,
            parallelism: 1,
        }
    }
}

thread_local! {
    /// Each hashing thread keeps its argon2 working memory (19 MiB with the defaults) between
    /// hashes instead of allocating and faulting it in for every login.
    static MEMORY: std::cell::RefCell<Vec<argon2::Block>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Raw argon2id of `password` into `out`, in this thread's reused working memory.
fn argon2id_into(params: &Params, password: &[u8], salt: &[u8], out: &mut [u8]) -> Result<()> {
    let argon = Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone());
    MEMORY.with(|memory| {
        let mut memory = memory.borrow_mut();
        let blocks = params.block_count();
        if memory.len() < blocks {
            memory.resize(blocks, argon2::Block::default());
        }
        argon
            .hash_password_into_with_memory(password, salt, out, &mut memory[..blocks])
            .map_err(|e| Error::Internal(anyhow::anyhow!("hashing: {e}")))
    })
}

/// Frees this thread's argon2 working memory (for threads that hash once, not the pool's).
fn release_memory() {
    MEMORY.with(|memory| *memory.borrow_mut() = Vec::new());
}

const B64: data_encoding::Encoding = data_encoding::BASE64_NOPAD;

/// Hashes with the given parameters into a PHC string (blocking; call through [`Hasher`]).
pub fn hash_blocking(params: HashParams, password: &str) -> Result<String> {
    let salt = crate::ids::random_bytes::<16>();
    let mut out = [0u8; 32];
    let argon_params = Params::new(
        params.memory_kib,
        params.iterations,
        params.parallelism,
        Some(out.len()),
    )
    .map_err(|e| anyhow::anyhow!("argon2 parameters: {e}"))?;
    argon2id_into(
        &argon_params,
        normalize(password).as_bytes(),
        &salt,
        &mut out,
    )?;
    Ok(format!(
        "$argon2id$v=19$m={},t={},p={}${}${}",
        params.memory_kib,
        params.iterations,
        params.parallelism,
        B64.encode(&salt),
        B64.encode(&out)
    ))
}

/// Outcome of checking a password against a stored hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verified {
    No,
    Yes,
    /// Correct, and the stored hash used other parameters: store this new hash.
    YesRehashed(String),
}

/// Verifies (blocking). Hashes that are not argon2id, or whose cost is outside sane bounds, are
/// refused without being computed (SECURITY P6).
pub fn verify_blocking(params: HashParams, password: &str, stored: &str) -> Result<Verified> {
    let parsed = match PasswordHash::new(stored) {
        Ok(p) => p,
        Err(_) => return Ok(Verified::No),
    };
    if parsed.algorithm.as_str() != "argon2id" {
        return Ok(Verified::No);
    }
    let stored_params = match Params::try_from(&parsed) {
        Ok(p) => p,
        Err(_) => return Ok(Verified::No),
    };
    if stored_params.m_cost() > 262_144 || stored_params.t_cost() > 16 || stored_params.p_cost() > 8
    {
        return Ok(Verified::No);
    }
    if parsed.version != Some(0x13) {
        return Ok(Verified::No);
    }
    let (Some(salt), Some(expected)) = (parsed.salt, parsed.hash) else {
        return Ok(Verified::No);
    };
    let mut salt_buf = [0u8; 64];
    let Ok(salt) = salt.decode_b64(&mut salt_buf) else {
        return Ok(Verified::No);
    };
    let expected = expected.as_bytes();
    let mut out = vec![0u8; expected.len()];
    let Ok(params_for_output) = Params::new(
        stored_params.m_cost(),
        stored_params.t_cost(),
        stored_params.p_cost(),
        Some(expected.len()),
    ) else {
        return Ok(Verified::No);
    };
    argon2id_into(
        &params_for_output,
        normalize(password).as_bytes(),
        salt,
        &mut out,
    )?;
    let ok: bool = subtle::ConstantTimeEq::ct_eq(out.as_slice(), expected).into();
    if !ok {
        return Ok(Verified::No);
    }
    let current = (
        stored_params.m_cost(),
        stored_params.t_cost(),
        stored_params.p_cost(),
    ) == (params.memory_kib, params.iterations, params.parallelism);
    if current {
        Ok(Verified::Yes)
    } else {
        Ok(Verified::YesRehashed(hash_blocking(params, password)?))
    }
}

type Job = Box<dyn FnOnce() + Send + 'static>;

/// The bounded hashing pool. Cloning shares the pool.
#[derive(Clone)]
pub struct Hasher {
    params: HashParams,
    jobs: mpsc::SyncSender<Job>,
    /// A hash of a random password with the current parameters: unknown emails are verified
    /// against it so they cost the same time as known ones (SECURITY L5).
    dummy_hash: Arc<String>,
}

impl Hasher {
    /// Starts `threads` hashing threads with room for `queue` waiting jobs.
    pub fn start(params: HashParams, threads: usize, queue: usize) -> Result<Self> {
        let (tx, rx) = mpsc::sync_channel::<Job>(queue);
        let rx = Arc::new(Mutex::new(rx));
        for i in 0..threads.max(1) {
            let rx = Arc::clone(&rx);
            std::thread::Builder::new()
                .name(format!("protekt-hash-{i}"))
                .spawn(move || {
                    lower_thread_priority();
                    loop {
                        let job = match rx.lock() {
                            Ok(guard) => guard.recv(),
                            Err(_) => return,
                        };
                        match job {
                            Ok(job) => job(),
                            Err(_) => return,
                        }
                    }
                })
                .map_err(|e| anyhow::anyhow!("cannot start hashing thread: {e}"))?;
        }
        let dummy = hash_blocking(params, &crate::ids::new_secret(""));
        // The starting thread is not a hashing thread: it must not keep 19 MiB for nothing.
        release_memory();
        let dummy = dummy?;
        Ok(Self {
            params,
            jobs: tx,
            dummy_hash: Arc::new(dummy),
        })
    }

    pub fn params(&self) -> HashParams {
        self.params
    }

    async fn run<T: Send + 'static>(&self, f: impl FnOnce() -> T + Send + 'static) -> Result<T> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let job: Job = Box::new(move || {
            let _ = tx.send(f());
        });
        self.jobs.try_send(job).map_err(|e| match e {
            mpsc::TrySendError::Full(_) => Error::ServerBusy,
            mpsc::TrySendError::Disconnected(_) => {
                Error::Internal(anyhow::anyhow!("hashing pool stopped"))
            }
        })?;
        rx.await
            .map_err(|_| Error::Internal(anyhow::anyhow!("hashing job dropped")))
    }

    pub async fn hash(&self, password: &str) -> Result<String> {
        let params = self.params;
        let password = password.to_owned();
        self.run(move || hash_blocking(params, &password)).await?
    }

    /// Verifies against `stored`, or against the dummy hash when there is no stored hash, so
    /// both cases take the same time. `Verified::No` for the dummy.
    pub async fn verify(&self, password: &str, stored: Option<&str>) -> Result<Verified> {
        let params = self.params;
        let password = password.to_owned();
        let (hash, real) = match stored {
            Some(s) => (s.to_owned(), true),
            None => (self.dummy_hash.as_ref().clone(), false),
        };
        let verified = self
            .run(move || verify_blocking(params, &password, &hash))
            .await??;
        Ok(if real { verified } else { Verified::No })
    }
}

/// Hashing threads run at nice +5 so that, under a login flood, the async workers that verify
/// tokens still get the CPU first. Linux applies the nice value to the calling thread only.
fn lower_thread_priority() {
    #[cfg(target_os = "linux")]
    // SAFETY: gettid and setpriority take no pointers and only affect this thread's priority.
    unsafe {
        let tid = libc::syscall(libc::SYS_gettid) as libc::id_t;
        libc::setpriority(libc::PRIO_PROCESS, tid, 5);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fast() -> HashParams {
        HashParams {
            memory_kib: 1024,
            iterations: 1,
            parallelism: 1,
        }
    }

    #[test]
    fn hashes_are_argon2id_phc_with_owasp_parameters_p1() {
        let hash =
            hash_blocking(HashParams::default(), "correct horse battery").unwrap_or_default();
        assert!(
            hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
            "{hash}"
        );
        // 16-byte salt: 22 base64 characters between the 4th and 5th `$`.
        let salt = hash.split('$').nth(4).unwrap_or_default();
        assert!(salt.len() >= 22, "salt {salt}");
    }

    #[test]
    fn hashes_interoperate_with_the_reference_phc_implementation() {
        use argon2::password_hash::{PasswordHasher, PasswordVerifier, SaltString};
        let ours = hash_blocking(fast(), "interop-passphrase-1").unwrap();
        let parsed = PasswordHash::new(&ours).unwrap();
        assert!(Argon2::default()
            .verify_password(b"interop-passphrase-1", &parsed)
            .is_ok());
        let salt = SaltString::from_b64("c29tZXNhbHRzb21lc2FsdA").unwrap();
        let argon = Argon2::new(
            Algorithm::Argon2id,
            Version::V0x13,
            Params::new(1024, 1, 1, None).unwrap(),
        );
        let theirs = argon
            .hash_password(b"interop-passphrase-2", &salt)
            .unwrap()
            .to_string();
        assert_eq!(
            verify_blocking(fast(), "interop-passphrase-2", &theirs).ok(),
            Some(Verified::Yes)
        );
        assert_eq!(
            verify_blocking(fast(), "interop-passphrase-3", &theirs).ok(),
            Some(Verified::No)
        );
    }

    #[test]
    fn every_byte_counts_no_truncation_p2() {
        let long = "x".repeat(199) + "a";
        let hash = hash_blocking(fast(), &long).unwrap_or_default();
        let other = "x".repeat(199) + "b";
        assert_eq!(
            verify_blocking(fast(), &long, &hash).ok(),
            Some(Verified::Yes)
        );
        assert_eq!(
            verify_blocking(fast(), &other, &hash).ok(),
            Some(Verified::No)
        );
        // A change after byte 72 (where bcrypt would truncate) still fails.
        let mut changed = long.clone().into_bytes();
        changed[100] = b'y';
        let changed = String::from_utf8(changed).unwrap_or_default();
        assert_eq!(
            verify_blocking(fast(), &changed, &hash).ok(),
            Some(Verified::No)
        );
        // Case is significant.
        assert_eq!(
            verify_blocking(fast(), &long.to_uppercase(), &hash).ok(),
            Some(Verified::No)
        );
    }

    #[test]
    fn nfkc_equivalent_passwords_match_p4() {
        let hash = hash_blocking(fast(), "ﬁnancial-plan-2031-x").unwrap_or_default();
        assert_eq!(
            verify_blocking(fast(), "financial-plan-2031-x", &hash).ok(),
            Some(Verified::Yes)
        );
    }

    #[test]
    fn policy_length_bounds_p3() {
        assert!(matches!(
            check_policy("kq8#Zr1", 8, &[]),
            Err(Error::WeakPassword { .. })
        ));
        assert!(check_policy("kq8#Zr1!", 8, &[]).is_ok());
        assert!(matches!(
            check_policy("kq8#Zr1!vb", 15, &[]),
            Err(Error::WeakPassword { .. })
        ));
        let passphrase = "correcthorsebatterystaplepurpleelephantdancesonthemoonlitbeachxx";
        assert_eq!(passphrase.len(), 64);
        assert!(check_policy(passphrase, 8, &[]).is_ok());
        let huge = "a".repeat(MAX_PASSWORD_CHARS + 1);
        assert!(matches!(
            check_policy(&huge, 8, &[]),
            Err(Error::InvalidRequest { .. })
        ));
    }

    #[test]
    fn policy_rejects_common_and_context_passwords_p4() {
        assert!(check_policy("password123!", 8, &[]).is_err());
        assert!(check_policy("qwertyuiop", 8, &[]).is_err());
        assert!(check_policy("acmecorp2024", 8, &["Acmecorp"]).is_err());
        // The guide's own example must be usable.
        assert!(check_policy("supersecret123", 8, &["user@example.com"]).is_ok());
    }

    #[test]
    fn extreme_imported_parameters_are_refused_without_hashing_p6() {
        let extreme = "$argon2id$v=19$m=4194304,t=3,p=1$c29tZXNhbHRzb21lc2FsdA$YWJjZGVmZ2hpamtsbW5vcHFyc3R1dnd4eXoxMjM0NTY";
        let start = std::time::Instant::now();
        assert_eq!(
            verify_blocking(fast(), "x", extreme).ok(),
            Some(Verified::No)
        );
        assert!(start.elapsed() < std::time::Duration::from_secs(1));
        assert_eq!(
            verify_blocking(fast(), "x", "$2b$10$abc").ok(),
            Some(Verified::No)
        );
    }

    #[test]
    fn outdated_parameters_are_rehashed_on_verify_p1() {
        let old = hash_blocking(fast(), "sunflower-granite-42").unwrap_or_default();
        let result = verify_blocking(HashParams::default(), "sunflower-granite-42", &old).ok();
        match result {
            Some(Verified::YesRehashed(new)) => {
                assert!(new.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"))
            }
            other => panic!("expected a rehash, got {other:?}"),
        }
    }

    #[tokio::test]
    async fn a_full_queue_answers_server_busy_p6() {
        let hasher = Hasher::start(HashParams::default(), 1, 1).unwrap_or_else(|e| panic!("{e}"));
        let jobs: Vec<_> = (0..8)
            .map(|_| hasher.hash("some-long-password-x"))
            .collect();
        let results = futures::future::join_all(jobs).await;
        assert!(results.iter().any(|r| matches!(r, Err(Error::ServerBusy))));
        assert!(results.iter().any(|r| r.is_ok()));
    }
}
