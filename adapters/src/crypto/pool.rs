//! A fixed pool of worker threads behind a bounded queue.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::thread;

use application::Unavailable;
use crossbeam_channel::{Sender, TrySendError, bounded};
use thread_priority::{ThreadPriority, set_current_thread_priority};
use tokio::sync::oneshot;

type Job = Box<dyn FnOnce() + Send + 'static>;

/// What the pool has done so far (for tests and metrics).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct HashPoolStats {
    /// Jobs accepted into the queue.
    pub accepted: u64,
    /// Jobs refused because the queue was full.
    pub rejected: u64,
}

/// Runs CPU-heavy jobs on `threads` long-lived threads; at most `queue_limit` jobs wait.
pub struct HashPool {
    sender: Sender<Job>,
    accepted: Arc<AtomicU64>,
    rejected: AtomicU64,
    /// Requests holding an [`Admitted`] place, and how many may at once: as many as the
    /// threads and the queue hold.
    admitted: Arc<AtomicUsize>,
    admit_limit: usize,
}

/// A place taken by [`HashPool::admit`], given back when dropped.
#[derive(Debug)]
pub struct Admitted(Arc<AtomicUsize>);

impl Drop for Admitted {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

/// The scheduling priority of the pool's threads: the lowest of the normal ones
/// (niceness 19 on Linux). A hash is tens of milliseconds of pure CPU; at the runtime's
/// priority a login flood takes the cores from every other request, and an
/// authenticated GET waited behind it (BENCHMARKS.md, scenario 4). At the lowest
/// priority the runtime's threads run first whenever they have work, and hashing gets
/// every cycle they leave. Lowering one's own priority needs no privilege.
const THREAD_PRIORITY: ThreadPriority = ThreadPriority::Min;

/// The refusal of a job while the queue is full: the client is told to wait a second.
const SATURATED: Unavailable = Unavailable {
    retry_after_secs: 1,
    what: "password hashing",
};

impl HashPool {
    /// Starts the threads.
    ///
    /// # Errors
    /// When the OS refuses to start a thread.
    pub fn new(threads: usize, queue_limit: usize) -> anyhow::Result<Self> {
        let (sender, receiver) = bounded::<Job>(queue_limit);
        for index in 0..threads.max(1) {
            let receiver = receiver.clone();
            thread::Builder::new()
                .name(format!("gatehouse-hash-{index}"))
                .spawn(move || {
                    if let Err(err) = set_current_thread_priority(THREAD_PRIORITY) {
                        // Hashing still works at the normal priority, only less politely.
                        tracing::warn!(error = %err, "could not lower the hashing thread's priority");
                    }
                    // Ends when the pool (the only sender) is dropped.
                    while let Ok(job) = receiver.recv() {
                        job();
                    }
                })?;
        }
        Ok(Self {
            sender,
            accepted: Arc::new(AtomicU64::new(0)),
            rejected: AtomicU64::new(0),
            admitted: Arc::new(AtomicUsize::new(0)),
            admit_limit: threads.max(1) + queue_limit,
        })
    }

    /// Runs `job` on the pool and waits for its result without blocking the runtime.
    ///
    /// # Errors
    /// [`Unavailable`] when the queue is full; an error if the worker died mid-job.
    pub async fn run<T, F>(&self, job: F) -> anyhow::Result<T>
    where
        T: Send + 'static,
        F: FnOnce() -> T + Send + 'static,
    {
        let (tx, rx) = oneshot::channel();
        let job: Job = Box::new(move || {
            // The receiver is gone when the request was cancelled (its deadline passed,
            // its client left) while the job queued: nobody waits for the hash, so the
            // cores go to the requests still waiting instead.
            if tx.is_closed() {
                return;
            }
            let _ = tx.send(job());
        });
        match self.sender.try_send(job) {
            Ok(()) => {
                self.accepted.fetch_add(1, Ordering::Relaxed);
            }
            Err(TrySendError::Full(_)) => {
                self.rejected.fetch_add(1, Ordering::Relaxed);
                return Err(SATURATED.into());
            }
            Err(TrySendError::Disconnected(_)) => {
                anyhow::bail!("password hashing pool has stopped")
            }
        }
        rx.await
            .map_err(|_| anyhow::anyhow!("password hashing worker dropped its job"))
    }

    /// A place for a request that will hash: refused with [`Unavailable`] (counted as
    /// a refusal) while as many requests as the threads and the queue hold are admitted
    /// already, or while the queue is full. A later [`HashPool::run`] may still be
    /// refused: jobs of requests that were not admitted (signups) share the queue.
    ///
    /// # Errors
    /// [`Unavailable`], as above.
    pub fn admit(&self) -> Result<Admitted, Unavailable> {
        // The place is taken first (one atomic step) and given back on refusal, so that
        // two racing requests cannot both take the last one.
        let taken_before = self.admitted.fetch_add(1, Ordering::AcqRel);
        let place = Admitted(Arc::clone(&self.admitted));
        if taken_before >= self.admit_limit || self.sender.is_full() {
            drop(place);
            self.rejected.fetch_add(1, Ordering::Relaxed);
            return Err(SATURATED);
        }
        Ok(place)
    }

    /// Counters since start.
    pub fn stats(&self) -> HashPoolStats {
        HashPoolStats {
            accepted: self.accepted.load(Ordering::Relaxed),
            rejected: self.rejected.load(Ordering::Relaxed),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::mpsc;
    use std::time::Duration;

    use super::*;

    #[tokio::test]
    async fn a_job_runs_on_a_pool_thread_and_returns_its_value() {
        let pool = HashPool::new(1, 4).expect("pool");
        let name = pool
            .run(|| thread::current().name().map(str::to_owned))
            .await
            .expect("runs");
        assert_eq!(name.as_deref(), Some("gatehouse-hash-0"));
    }

    /// The niceness of the calling thread, from `/proc/thread-self/stat` (field 19).
    fn own_niceness() -> i32 {
        let stat = std::fs::read_to_string("/proc/thread-self/stat").expect("stat");
        // Fields after the command name, which is in parentheses and may hold spaces.
        let rest = &stat[stat.rfind(')').expect("comm") + 2..];
        rest.split(' ')
            .nth(16)
            .expect("nice")
            .parse()
            .expect("number")
    }

    #[tokio::test]
    async fn pool_threads_run_at_a_lower_priority_than_the_caller() {
        let pool = HashPool::new(1, 4).expect("pool");
        let caller = own_niceness();
        let worker = pool.run(own_niceness).await.expect("runs");
        assert_eq!(worker, 19, "the lowest normal priority");
        assert!(worker > caller, "worker {worker}, caller {caller}");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_full_queue_refuses_with_unavailable_instead_of_waiting() {
        let pool = Arc::new(HashPool::new(1, 1).expect("pool"));
        drop(pool.admit().expect("an empty queue admits"));
        let (release_tx, release_rx) = mpsc::channel::<()>();
        let (started_tx, started_rx) = mpsc::channel::<()>();
        // Occupy the only worker until released.
        let busy = {
            let pool = Arc::clone(&pool);
            tokio::spawn(async move {
                pool.run(move || {
                    let _ = started_tx.send(());
                    let _ = release_rx.recv_timeout(Duration::from_secs(10));
                })
                .await
            })
        };
        started_rx
            .recv_timeout(Duration::from_secs(10))
            .expect("worker started");
        // One job fits in the queue...
        let queued = {
            let pool = Arc::clone(&pool);
            tokio::spawn(async move { pool.run(|| 1).await })
        };
        tokio::task::yield_now().await;
        while pool.stats().accepted < 2 {
            tokio::task::yield_now().await;
        }
        // ...the next one is refused at once, and the pool says so beforehand.
        assert_eq!(
            pool.admit().map(drop).map_err(|u| u.what),
            Err("password hashing")
        );
        let err = pool.run(|| 2).await.expect_err("queue full");
        assert_eq!(
            Unavailable::find_in(&err).map(|u| u.what),
            Some("password hashing")
        );
        assert_eq!(
            pool.stats(),
            HashPoolStats {
                accepted: 2,
                rejected: 2
            }
        );
        release_tx.send(()).expect("release");
        busy.await.expect("join").expect("busy job ran");
        assert_eq!(queued.await.expect("join").expect("queued job ran"), 1);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_queued_job_whose_request_gave_up_is_not_run() {
        let pool = Arc::new(HashPool::new(1, 4).expect("pool"));
        let (release_tx, release_rx) = mpsc::channel::<()>();
        let (started_tx, started_rx) = mpsc::channel::<()>();
        let busy = {
            let pool = Arc::clone(&pool);
            tokio::spawn(async move {
                pool.run(move || {
                    let _ = started_tx.send(());
                    let _ = release_rx.recv_timeout(Duration::from_secs(10));
                })
                .await
            })
        };
        started_rx
            .recv_timeout(Duration::from_secs(10))
            .expect("worker started");
        let ran = Arc::new(AtomicUsize::new(0));
        let abandoned = {
            let (pool, ran) = (Arc::clone(&pool), Arc::clone(&ran));
            tokio::spawn(async move { pool.run(move || ran.fetch_add(1, Ordering::SeqCst)).await })
        };
        while pool.stats().accepted < 2 {
            tokio::task::yield_now().await;
        }
        // The request waiting for the queued job gives up (as at its deadline).
        abandoned.abort();
        assert!(abandoned.await.expect_err("aborted").is_cancelled());
        release_tx.send(()).expect("release");
        busy.await.expect("join").expect("busy job ran");
        // A job queued after it runs, so the abandoned one has had its turn.
        assert_eq!(pool.run(|| 7).await.expect("runs"), 7);
        assert_eq!(ran.load(Ordering::SeqCst), 0, "nobody waited for that hash");
    }

    #[tokio::test]
    async fn as_many_requests_as_threads_and_queue_hold_are_admitted_and_a_dropped_place_is_given_back()
     {
        let pool = HashPool::new(2, 3).expect("pool");
        let places: Vec<_> = (0..5)
            .map(|n| pool.admit().unwrap_or_else(|_| panic!("place {n}")))
            .collect();
        assert!(pool.admit().is_err(), "a sixth is refused");
        assert_eq!(pool.stats().rejected, 1);
        drop(places);
        let again: Vec<_> = (0..5).map(|_| pool.admit()).collect();
        assert!(again.iter().all(Result::is_ok), "every place came back");
    }
}
