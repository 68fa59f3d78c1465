//! A small dedicated thread pool for argon2 password hashing.
//!
//! Each argon2id hash takes ~19 MiB. On tokio's blocking pool, every thread that ever hashed
//! keeps that memory in its own malloc arena, so a burst of sign-ups grew the server by
//! gigabytes. A fixed pool bounds both CPU and memory: `threads` × 19 MiB at most.

use std::sync::mpsc::{Sender, channel};
use std::sync::{Arc, Mutex};

type Job = Box<dyn FnOnce() + Send>;

/// The hashing threads went away (only at shutdown).
#[derive(Debug, thiserror::Error)]
#[error("password hashing is unavailable")]
pub struct HashingUnavailable;

pub struct HashingPool {
    jobs: Mutex<Sender<Job>>,
}

impl HashingPool {
    /// Starts `threads` (at least one) hashing threads.
    pub fn new(threads: usize) -> Self {
        let (tx, rx) = channel::<Job>();
        let rx = Arc::new(Mutex::new(rx));
        for i in 0..threads.max(1) {
            let rx = rx.clone();
            let spawned = std::thread::Builder::new()
                .name(format!("argon2-{i}"))
                .spawn(move || {
                    loop {
                        // The lock is held only while waiting for the next job.
                        let job = match rx.lock() {
                            Ok(rx) => rx.recv(),
                            Err(_) => return,
                        };
                        match job {
                            Ok(job) => job(),
                            Err(_) => return,
                        }
                    }
                });
            // A pool with fewer threads than asked still works; with none, jobs fail cleanly.
            drop(spawned);
        }
        Self {
            jobs: Mutex::new(tx),
        }
    }

    /// Runs `work` on a hashing thread and waits for its result without blocking the runtime.
    pub async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, HashingUnavailable> {
        let (done, result) = tokio::sync::oneshot::channel();
        let job: Job = Box::new(move || {
            let _ = done.send(work());
        });
        self.jobs
            .lock()
            .map_err(|_| HashingUnavailable)?
            .send(job)
            .map_err(|_| HashingUnavailable)?;
        result.await.map_err(|_| HashingUnavailable)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn runs_work_on_pool_threads() {
        let pool = HashingPool::new(2);
        let name = pool
            .run(|| std::thread::current().name().map(str::to_owned))
            .await
            .expect("pool runs");
        assert!(name.is_some_and(|n| n.starts_with("argon2-")));
        let sums = futures::future::join_all((0..10u64).map(|i| pool.run(move || i * 2))).await;
        assert_eq!(sums.into_iter().map(|r| r.expect("ok")).sum::<u64>(), 90);
    }
}
