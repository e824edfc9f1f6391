//! [`PasswordHasher`] with Argon2id (PHC strings), on the [`HashPool`].
//!
//! # Security
//! The dummy hash exists so that a login for an unknown email does the same work as one
//! with a wrong password: it is made once at start-up with the current parameters, so
//! its cost tracks the configuration. Verification compares the outputs in constant time
//! (the PHC `Output` type's equality).
//!
//! # Memory
//! Argon2 needs `ARGON2_MEMORY_KIB` of block memory per hash. The argon2 crate's
//! allocating API takes a fresh block array for every hash and frees it afterwards; under
//! a login flood glibc keeps those freed 19 MiB arrays in its per-thread arenas, and the
//! process's resident memory grew to over 300 MiB (BENCHMARKS.md, scenario 5). Each
//! hashing thread therefore owns one block array for its life, reused by every job it
//! runs: resident memory is `HASH_CONCURRENCY` arrays, whatever the load. Like the
//! crate's own path, the arrays are not wiped between jobs.

use std::cell::RefCell;
use std::sync::Arc;

use application::ports::{PasswordCheck, PasswordHasher};
use argon2::password_hash::phc::{Output, ParamsString, PasswordHash as Phc, Salt};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use async_trait::async_trait;
use domain::{PasswordHash, PlaintextPassword};

use super::HashPool;
use crate::config::Argon2Settings;

/// Bytes of salt in a new hash (the PHC recommendation, as the crate's default).
const SALT_LEN: usize = 16;

/// Bytes of output in a new hash (the crate's default).
const OUTPUT_LEN: usize = Params::DEFAULT_OUTPUT_LEN;

thread_local! {
    /// This thread's Argon2 block memory, kept between jobs (grown, never shrunk).
    static BLOCKS: RefCell<Vec<Block>> = const { RefCell::new(Vec::new()) };
}

/// Where a hash gets its block memory.
#[derive(Clone, Copy)]
enum Memory {
    /// The calling thread's kept array (on the pool's long-lived threads).
    ThreadLocal,
    /// A fresh array freed afterwards (one-off hashes at start-up).
    Fresh,
}

impl Memory {
    fn with_blocks<R>(self, count: usize, f: impl FnOnce(&mut [Block]) -> R) -> R {
        match self {
            Memory::ThreadLocal => BLOCKS.with_borrow_mut(|blocks| {
                if blocks.len() < count {
                    *blocks = vec![Block::default(); count];
                }
                f(&mut blocks[..count])
            }),
            Memory::Fresh => f(&mut vec![Block::default(); count]),
        }
    }
}

/// Argon2id hashing and verification on a bounded thread pool.
pub struct Argon2PasswordHasher {
    params: Params,
    pool: Arc<HashPool>,
    dummy: PasswordHash,
}

impl Argon2PasswordHasher {
    /// Builds the hasher and computes the dummy hash (one hash at start-up) on the
    /// calling thread.
    ///
    /// # Errors
    /// Invalid parameters.
    pub fn new(settings: Argon2Settings, pool: Arc<HashPool>) -> anyhow::Result<Self> {
        let params = params(settings)?;
        let dummy = hash_with(&params, "gatehouse-dummy-password", Memory::Fresh)?;
        Ok(Self {
            params,
            pool,
            dummy,
        })
    }

    /// As [`Argon2PasswordHasher::new`], with the dummy hash computed on the pool: start-up
    /// goes on meanwhile (connecting to the database), and the hashing thread that makes
    /// it has its block memory ready for the first login.
    ///
    /// # Errors
    /// Invalid parameters; the pool refusing or losing the job.
    pub async fn start(settings: Argon2Settings, pool: Arc<HashPool>) -> anyhow::Result<Self> {
        let params = params(settings)?;
        let dummy = {
            let params = params.clone();
            pool.run(move || hash_with(&params, "gatehouse-dummy-password", Memory::ThreadLocal))
                .await??
        };
        Ok(Self {
            params,
            pool,
            dummy,
        })
    }

    /// The pool's counters (for tests and metrics).
    pub fn pool(&self) -> &HashPool {
        &self.pool
    }
}

fn params(settings: Argon2Settings) -> anyhow::Result<Params> {
    Params::new(
        settings.memory_kib,
        settings.iterations,
        settings.parallelism,
        Some(OUTPUT_LEN),
    )
    .map_err(|e| anyhow::anyhow!("invalid Argon2 parameters: {e}"))
}

/// Argon2 over `memory`'s blocks into `out` (whose length is the output length).
fn compute(
    argon2: &Argon2<'_>,
    params: &Params,
    password: &str,
    salt: &[u8],
    out: &mut [u8],
    memory: Memory,
) -> anyhow::Result<()> {
    memory
        .with_blocks(params.block_count(), |blocks| {
            argon2.hash_password_into_with_memory(password.as_bytes(), salt, out, blocks)
        })
        .map_err(|e| anyhow::anyhow!("argon2 hashing failed: {e}"))
}

fn hash_with(params: &Params, password: &str, memory: Memory) -> anyhow::Result<PasswordHash> {
    let salt = argon2::password_hash::try_generate_salt()
        .map_err(|e| anyhow::anyhow!("no randomness for a salt: {e}"))?;
    debug_assert_eq!(salt.len(), SALT_LEN);
    let mut out = [0u8; OUTPUT_LEN];
    let algorithm = Algorithm::Argon2id;
    let argon2 = Argon2::new(algorithm, Version::V0x13, params.clone());
    compute(&argon2, params, password, &salt, &mut out, memory)?;
    let phc = Phc {
        algorithm: algorithm.ident(),
        version: Some(Version::V0x13.into()),
        params: ParamsString::try_from(params)
            .map_err(|e| anyhow::anyhow!("argon2 parameters: {e}"))?,
        salt: Some(Salt::new(&salt).map_err(|e| anyhow::anyhow!("argon2 salt: {e}"))?),
        hash: Some(Output::new(&out).map_err(|e| anyhow::anyhow!("argon2 output: {e}"))?),
    };
    Ok(PasswordHash::from_phc(phc.to_string()))
}

fn verify_with(
    params: &Params,
    password: &str,
    hash: &PasswordHash,
    memory: Memory,
) -> anyhow::Result<PasswordCheck> {
    let phc =
        Phc::new(hash.as_str()).map_err(|e| anyhow::anyhow!("stored hash does not parse: {e}"))?;
    // Verification takes its parameters from the stored hash, whatever the current ones.
    let stored =
        Params::try_from(&phc).map_err(|e| anyhow::anyhow!("stored hash parameters: {e}"))?;
    let algorithm = Algorithm::try_from(phc.algorithm.as_str())
        .map_err(|e| anyhow::anyhow!("stored hash algorithm: {e}"))?;
    let version = phc
        .version
        .map(Version::try_from)
        .transpose()
        .map_err(|e| anyhow::anyhow!("stored hash version: {e}"))?
        .unwrap_or_default();
    let (Some(salt), Some(expected)) = (&phc.salt, &phc.hash) else {
        anyhow::bail!("stored hash has no salt or no output");
    };
    let mut buffer = [0u8; Output::MAX_LENGTH];
    let out = buffer
        .get_mut(..expected.len())
        .ok_or_else(|| anyhow::anyhow!("stored hash output is too long"))?;
    let argon2 = Argon2::new(algorithm, version, stored.clone());
    compute(&argon2, &stored, password, salt.as_ref(), out, memory)?;
    let computed = Output::new(out).map_err(|e| anyhow::anyhow!("argon2 output: {e}"))?;
    // `Output`'s equality is constant-time.
    if computed != *expected {
        return Ok(PasswordCheck::Mismatch);
    }
    Ok(PasswordCheck::Match {
        needs_rehash: algorithm != Algorithm::Argon2id
            || version != Version::V0x13
            || stored.m_cost() != params.m_cost()
            || stored.t_cost() != params.t_cost()
            || stored.p_cost() != params.p_cost()
            || expected.len() != OUTPUT_LEN,
    })
}

#[async_trait]
impl PasswordHasher for Argon2PasswordHasher {
    async fn hash(&self, password: PlaintextPassword) -> anyhow::Result<PasswordHash> {
        let params = self.params.clone();
        self.pool
            .run(move || hash_with(&params, password.expose(), Memory::ThreadLocal))
            .await?
    }

    async fn verify(
        &self,
        password: PlaintextPassword,
        hash: PasswordHash,
    ) -> anyhow::Result<PasswordCheck> {
        let params = self.params.clone();
        self.pool
            .run(move || verify_with(&params, password.expose(), &hash, Memory::ThreadLocal))
            .await?
    }

    async fn verify_dummy(&self, password: PlaintextPassword) -> anyhow::Result<()> {
        let params = self.params.clone();
        let dummy = self.dummy.clone();
        self.pool
            .run(move || verify_with(&params, password.expose(), &dummy, Memory::ThreadLocal))
            .await??;
        Ok(())
    }

    fn admit(&self) -> Result<application::ports::HashAdmission, application::Unavailable> {
        self.pool
            .admit()
            .map(application::ports::HashAdmission::new)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hasher(memory_kib: u32, iterations: u32) -> Argon2PasswordHasher {
        let pool = Arc::new(HashPool::new(1, 8).expect("pool"));
        Argon2PasswordHasher::new(
            Argon2Settings {
                memory_kib,
                iterations,
                parallelism: 1,
            },
            pool,
        )
        .expect("hasher")
    }

    fn pw(s: &str) -> PlaintextPassword {
        PlaintextPassword::new(s.to_owned())
    }

    #[tokio::test]
    async fn a_hash_is_an_argon2id_phc_string_with_the_configured_parameters() {
        let h = hasher(19_456, 2)
            .hash(pw("Correct1horse"))
            .await
            .expect("hash");
        assert!(
            h.as_str().starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
            "{}",
            h.as_str()
        );
    }

    #[tokio::test]
    async fn the_right_password_matches_and_a_wrong_one_does_not() {
        let hasher = hasher(1024, 1);
        let h = hasher.hash(pw("Correct1horse")).await.expect("hash");
        assert_eq!(
            hasher
                .verify(pw("Correct1horse"), h.clone())
                .await
                .expect("verify"),
            PasswordCheck::Match {
                needs_rehash: false
            }
        );
        assert_eq!(
            hasher.verify(pw("Wrong1horse"), h).await.expect("verify"),
            PasswordCheck::Mismatch
        );
    }

    #[tokio::test]
    async fn a_hash_with_older_parameters_asks_for_a_rehash() {
        let old = hasher(1024, 1)
            .hash(pw("Correct1horse"))
            .await
            .expect("hash");
        assert_eq!(
            hasher(2048, 1)
                .verify(pw("Correct1horse"), old)
                .await
                .expect("verify"),
            PasswordCheck::Match { needs_rehash: true }
        );
    }

    #[tokio::test]
    async fn a_corrupt_stored_hash_is_an_error_not_a_mismatch() {
        let result = hasher(1024, 1)
            .verify(pw("x"), PasswordHash::from_phc("not-a-phc".into()))
            .await;
        assert!(result.is_err());
    }

    /// The address and length of the block memory kept by the pool's only thread.
    async fn kept_blocks(hasher: &Argon2PasswordHasher) -> (usize, usize) {
        hasher
            .pool()
            .run(|| BLOCKS.with_borrow(|b| (b.as_ptr() as usize, b.len())))
            .await
            .expect("runs")
    }

    #[tokio::test]
    async fn a_hashing_thread_keeps_one_block_array_for_every_job() {
        let hasher = hasher(1024, 1);
        let h = hasher.hash(pw("Correct1horse")).await.expect("hash");
        let first = kept_blocks(&hasher).await;
        assert_eq!(first.1, 1024, "one 1 KiB block per KiB of memory");
        hasher.verify(pw("Correct1horse"), h).await.expect("verify");
        hasher.verify_dummy(pw("x")).await.expect("dummy");
        hasher.hash(pw("Another1horse")).await.expect("hash");
        assert_eq!(kept_blocks(&hasher).await, first, "no new array per job");
    }

    #[tokio::test]
    async fn hashes_are_interchangeable_with_the_argon2_crates_own() {
        use argon2::{PasswordHasher as _, PasswordVerifier as _};
        let params = Params::new(1024, 1, 1, None).expect("params");
        let crate_argon2 = Argon2::new(Algorithm::Argon2id, Version::V0x13, params);
        let hasher = hasher(1024, 1);

        let theirs = crate_argon2
            .hash_password(b"Correct1horse")
            .expect("crate hash")
            .to_string();
        assert_eq!(
            hasher
                .verify(pw("Correct1horse"), PasswordHash::from_phc(theirs.clone()))
                .await
                .expect("verify"),
            PasswordCheck::Match {
                needs_rehash: false
            }
        );
        assert_eq!(
            hasher
                .verify(pw("Wrong1horse"), PasswordHash::from_phc(theirs))
                .await
                .expect("verify"),
            PasswordCheck::Mismatch
        );

        let ours = hasher.hash(pw("Correct1horse")).await.expect("hash");
        let parsed = Phc::new(ours.as_str()).expect("PHC");
        assert_eq!(parsed.salt.map(|s| s.len()), Some(SALT_LEN));
        assert!(
            crate_argon2
                .verify_password(b"Correct1horse", &parsed)
                .is_ok()
        );
        assert!(
            crate_argon2
                .verify_password(b"Wrong1horse", &parsed)
                .is_err()
        );
    }

    #[tokio::test]
    async fn hashes_of_other_sizes_verify_on_the_same_thread() {
        let small = hasher(512, 1)
            .hash(pw("Correct1horse"))
            .await
            .expect("hash");
        let large = hasher(2048, 1)
            .hash(pw("Correct1horse"))
            .await
            .expect("hash");
        let hasher = hasher(1024, 1);
        let current = hasher.hash(pw("Correct1horse")).await.expect("hash");
        for old in [small, current, large.clone()] {
            assert!(matches!(
                hasher
                    .verify(pw("Correct1horse"), old)
                    .await
                    .expect("verify"),
                PasswordCheck::Match { .. }
            ));
        }
        // The larger hash grew the kept array; a wrong password still does not match.
        assert_eq!(kept_blocks(&hasher).await.1, 2048);
        assert_eq!(
            hasher
                .verify(pw("Wrong1horse"), large)
                .await
                .expect("verify"),
            PasswordCheck::Mismatch
        );
    }

    #[tokio::test]
    async fn a_hash_with_a_different_output_length_or_algorithm_asks_for_a_rehash() {
        use argon2::PasswordHasher as _;
        for (algorithm, output_len) in [(Algorithm::Argon2id, 64), (Algorithm::Argon2i, 32)] {
            let params = Params::new(1024, 1, 1, Some(output_len)).expect("params");
            let old = Argon2::new(algorithm, Version::V0x13, params)
                .hash_password(b"Correct1horse")
                .expect("hash")
                .to_string();
            assert_eq!(
                hasher(1024, 1)
                    .verify(pw("Correct1horse"), PasswordHash::from_phc(old))
                    .await
                    .expect("verify"),
                PasswordCheck::Match { needs_rehash: true },
                "{algorithm:?} with {output_len} bytes"
            );
        }
    }

    #[tokio::test]
    async fn started_on_the_pool_the_dummy_hash_is_made_there_with_the_current_parameters() {
        let pool = Arc::new(HashPool::new(1, 8).expect("pool"));
        let hasher = Argon2PasswordHasher::start(
            Argon2Settings {
                memory_kib: 1024,
                iterations: 1,
                parallelism: 1,
            },
            Arc::clone(&pool),
        )
        .await
        .expect("hasher");
        assert_eq!(pool.stats().accepted, 1, "the dummy hash ran on the pool");
        assert!(
            hasher
                .dummy
                .as_str()
                .starts_with("$argon2id$v=19$m=1024,t=1,p=1$"),
            "{}",
            hasher.dummy.as_str()
        );
        assert_eq!(kept_blocks(&hasher).await.1, 1024, "its memory is kept");
    }

    #[tokio::test]
    async fn dummy_verification_runs_one_job_on_the_pool() {
        let hasher = hasher(1024, 1);
        hasher.verify_dummy(pw("anything")).await.expect("dummy");
        assert_eq!(hasher.pool().stats().accepted, 1);
    }
}
