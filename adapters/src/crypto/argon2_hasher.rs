//! [`PasswordHasher`] with Argon2id (PHC strings), on the [`HashPool`].
//!
//! # Security
//! The dummy hash exists so that a login for an unknown email does the same work as one
//! with a wrong password: it is made once at start-up with the current parameters, so
//! its cost tracks the configuration. Verification is constant-time in the argon2 crate.

use std::sync::Arc;

use application::ports::{PasswordCheck, PasswordHasher};
use argon2::password_hash::phc::PasswordHash as Phc;
use argon2::{Algorithm, Argon2, Params, PasswordVerifier, Version};
use async_trait::async_trait;
use domain::{PasswordHash, PlaintextPassword};

use super::HashPool;
use crate::config::Argon2Settings;

/// Argon2id hashing and verification on a bounded thread pool.
pub struct Argon2PasswordHasher {
    params: Params,
    pool: Arc<HashPool>,
    dummy: PasswordHash,
}

impl Argon2PasswordHasher {
    /// Builds the hasher and computes the dummy hash (one hash at start-up).
    ///
    /// # Errors
    /// Invalid parameters.
    pub fn new(settings: Argon2Settings, pool: Arc<HashPool>) -> anyhow::Result<Self> {
        let params = Params::new(
            settings.memory_kib,
            settings.iterations,
            settings.parallelism,
            None,
        )
        .map_err(|e| anyhow::anyhow!("invalid Argon2 parameters: {e}"))?;
        let dummy = hash_with(&params, "gatehouse-dummy-password")?;
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

fn argon2(params: &Params) -> Argon2<'static> {
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone())
}

fn hash_with(params: &Params, password: &str) -> anyhow::Result<PasswordHash> {
    use argon2::PasswordHasher as _;
    let phc = argon2(params)
        .hash_password(password.as_bytes())
        .map_err(|e| anyhow::anyhow!("argon2 hashing failed: {e}"))?;
    Ok(PasswordHash::from_phc(phc.to_string()))
}

fn verify_with(
    params: &Params,
    password: &str,
    hash: &PasswordHash,
) -> anyhow::Result<PasswordCheck> {
    let phc =
        Phc::new(hash.as_str()).map_err(|e| anyhow::anyhow!("stored hash does not parse: {e}"))?;
    // Verification takes its parameters from the stored hash, whatever the current ones.
    let stored =
        Params::try_from(&phc).map_err(|e| anyhow::anyhow!("stored hash parameters: {e}"))?;
    match argon2(params).verify_password(password.as_bytes(), &phc) {
        Ok(()) => Ok(PasswordCheck::Match {
            needs_rehash: phc.algorithm.as_str() != "argon2id"
                || phc.version != Some(Version::V0x13.into())
                || stored.m_cost() != params.m_cost()
                || stored.t_cost() != params.t_cost()
                || stored.p_cost() != params.p_cost(),
        }),
        Err(argon2::password_hash::Error::PasswordInvalid) => Ok(PasswordCheck::Mismatch),
        Err(e) => Err(anyhow::anyhow!("argon2 verification failed: {e}")),
    }
}

#[async_trait]
impl PasswordHasher for Argon2PasswordHasher {
    async fn hash(&self, password: PlaintextPassword) -> anyhow::Result<PasswordHash> {
        let params = self.params.clone();
        self.pool
            .run(move || hash_with(&params, password.expose()))
            .await?
    }

    async fn verify(
        &self,
        password: PlaintextPassword,
        hash: PasswordHash,
    ) -> anyhow::Result<PasswordCheck> {
        let params = self.params.clone();
        self.pool
            .run(move || verify_with(&params, password.expose(), &hash))
            .await?
    }

    async fn verify_dummy(&self, password: PlaintextPassword) -> anyhow::Result<()> {
        let params = self.params.clone();
        let dummy = self.dummy.clone();
        self.pool
            .run(move || verify_with(&params, password.expose(), &dummy))
            .await??;
        Ok(())
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

    #[tokio::test]
    async fn dummy_verification_runs_one_job_on_the_pool() {
        let hasher = hasher(1024, 1);
        hasher.verify_dummy(pw("anything")).await.expect("dummy");
        assert_eq!(hasher.pool().stats().accepted, 1);
    }
}
