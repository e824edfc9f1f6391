//! Password hashing with Argon2id on a fixed pool of long-lived threads.
//!
//! Why a pool and not `spawn_blocking`: each Argon2 hash takes `ARGON2_MEMORY_KIB` of
//! memory for tens of milliseconds. `spawn_blocking` grows its pool to hundreds of
//! threads under a login flood, so memory grows with the flood and the async runtime's
//! cores are starved. A fixed set of `HASH_CONCURRENCY` threads bounds both; a bounded
//! queue of `HASH_QUEUE_LIMIT` jobs in front of them turns overload into an immediate
//! 503 (`Unavailable`) instead of a pile of waiting requests.

mod argon2_hasher;
mod pool;

pub use argon2_hasher::Argon2PasswordHasher;
pub use pool::{HashPool, HashPoolStats};
