//! argon2id password hashes (PHC strings), and a verifier that costs the same for unknown users.
//!
//! Every hash runs on a fixed pool of threads, one per core by default, each owning its argon2
//! working memory (19 MiB at the default cost) allocated once and reused: memory stays bounded
//! however many sign-ins arrive, no hash pays for fresh page faults, and when more are waiting
//! than the queue holds, callers are told at once (`HashError::Busy`) instead of piling up.

use argon2::password_hash::{Output, ParamsString, SaltString};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use serde::{Deserialize, Serialize};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, TrySendError, sync_channel};
use std::sync::{Arc, Mutex};

/// An argon2id hash in PHC string form. Stored, never sent: API views are built without it.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct PasswordHash(String);

impl std::fmt::Debug for PasswordHash {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PasswordHash(<redacted>)")
    }
}

#[derive(Debug, thiserror::Error)]
pub enum HashError {
    /// Every hashing thread is busy and the queue is full: try again shortly (429/503).
    #[error("password hashing is at capacity")]
    Busy,
    #[error("password hashing failed: {0}")]
    Failed(String),
}

/// How many hashes run at once and how many may wait.
#[derive(Debug, Clone, Copy)]
pub struct PoolSize {
    pub workers: usize,
    pub queue: usize,
}

impl Default for PoolSize {
    /// One worker per core; four waiting per worker.
    fn default() -> Self {
        let workers = std::thread::available_parallelism().map_or(2, usize::from);
        Self {
            workers,
            queue: workers * 4,
        }
    }
}

/// What the pool has done, for tests and the load tool.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolStats {
    /// The most hashes that ever ran at the same moment.
    pub peak_running: usize,
    /// Requests refused because the queue was full.
    pub refused: usize,
}

type Job = Box<dyn FnOnce(&mut Vec<Block>) + Send>;

struct Pool {
    jobs: SyncSender<Job>,
    running: AtomicUsize,
    peak: AtomicUsize,
    refused: AtomicUsize,
}

impl Pool {
    fn start(size: PoolSize) -> Result<Arc<Self>, HashError> {
        let (jobs, queue) = sync_channel::<Job>(size.queue);
        let pool = Arc::new(Self {
            jobs,
            running: AtomicUsize::new(0),
            peak: AtomicUsize::new(0),
            refused: AtomicUsize::new(0),
        });
        let queue = Arc::new(Mutex::new(queue));
        for n in 0..size.workers.max(1) {
            let queue = queue.clone();
            std::thread::Builder::new()
                .name(format!("argon2-{n}"))
                .spawn(move || worker(&queue))
                .map_err(|e| HashError::Failed(format!("cannot start a hashing thread: {e}")))?;
        }
        Ok(pool)
    }

    /// Runs `f` on a pool thread with its working memory and waits for the answer.
    fn run<T: Send + 'static>(
        self: &Arc<Self>,
        f: impl FnOnce(&mut Vec<Block>) -> T + Send + 'static,
    ) -> Result<T, HashError> {
        let (reply, answer) = sync_channel(1);
        let pool = self.clone();
        let job: Job = Box::new(move |memory| {
            let now = pool.running.fetch_add(1, Ordering::SeqCst) + 1;
            pool.peak.fetch_max(now, Ordering::SeqCst);
            let out = f(memory);
            pool.running.fetch_sub(1, Ordering::SeqCst);
            let _ = reply.send(out);
        });
        match self.jobs.try_send(job) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) => {
                self.refused.fetch_add(1, Ordering::SeqCst);
                return Err(HashError::Busy);
            }
            Err(TrySendError::Disconnected(_)) => {
                return Err(HashError::Failed("the hashing pool stopped".into()));
            }
        }
        answer
            .recv()
            .map_err(|_| HashError::Failed("a hashing thread stopped".into()))
    }
}

fn worker(queue: &Mutex<Receiver<Job>>) {
    // Allocated at this thread's first hash, then reused by every later one (an idle server
    // holds none of it).
    let mut memory = Vec::new();
    loop {
        let job = {
            let Ok(queue) = queue.lock() else { return };
            match queue.recv() {
                Ok(job) => job,
                Err(_) => return,
            }
        };
        job(&mut memory);
    }
}

/// Computes the argon2 output into `out` with `memory`, growing it only for a stored hash made
/// with a higher memory cost than the current one.
fn compute(
    argon2: &Argon2<'_>,
    params: &Params,
    password: &[u8],
    salt: &[u8],
    out: &mut [u8],
    memory: &mut Vec<Block>,
) -> Result<(), argon2::Error> {
    if memory.len() < params.block_count() {
        memory.resize(params.block_count(), Block::default());
    }
    argon2.hash_password_into_with_memory(password, salt, out, &mut memory[..])
}

/// Hashes and verifies passwords with one set of argon2id parameters, on the shared pool.
#[derive(Clone)]
pub struct PasswordHasher {
    params: Params,
    /// A hash of a random password, verified against when the user is unknown so that an
    /// unknown username costs the same time as a wrong password.
    decoy: PasswordHash,
    pool: Arc<Pool>,
}

impl PasswordHasher {
    /// OWASP's argon2id baseline: 19 MiB, 2 passes, 1 lane, one worker per core.
    pub fn new() -> Result<Self, HashError> {
        Self::with_pool(
            Params::DEFAULT_M_COST,
            Params::DEFAULT_T_COST,
            1,
            PoolSize::default(),
        )
    }

    pub fn with_params(m_cost_kib: u32, t_cost: u32, lanes: u32) -> Result<Self, HashError> {
        Self::with_pool(m_cost_kib, t_cost, lanes, PoolSize::default())
    }

    pub fn with_pool(
        m_cost_kib: u32,
        t_cost: u32,
        lanes: u32,
        size: PoolSize,
    ) -> Result<Self, HashError> {
        let params = Params::new(m_cost_kib, t_cost, lanes, None)
            .map_err(|e| HashError::Failed(e.to_string()))?;
        let pool = Pool::start(size)?;
        // Made here with memory that is freed at once, so that start-up leaves the pool's
        // threads without working memory until the first sign-in.
        let decoy = hash_with(
            &params,
            super::new_secret(16).expose().as_bytes(),
            &mut Vec::new(),
        )?;
        Ok(Self {
            params,
            decoy,
            pool,
        })
    }

    /// What the pool has done so far.
    pub fn stats(&self) -> PoolStats {
        PoolStats {
            peak_running: self.pool.peak.load(Ordering::SeqCst),
            refused: self.pool.refused.load(Ordering::SeqCst),
        }
    }

    /// A new PHC string for `password` with a fresh salt.
    pub fn hash(&self, password: &str) -> Result<PasswordHash, HashError> {
        let params = self.params.clone();
        let password = password.as_bytes().to_vec();
        self.pool
            .run(move |memory| hash_with(&params, &password, memory))?
    }

    /// Verifies `password` against `hash`, or against the decoy when there is no hash, so that
    /// both paths do the same work. A malformed stored hash verifies as false; `Busy` when the
    /// pool is full.
    pub fn verify(&self, password: &str, hash: Option<&PasswordHash>) -> Result<bool, HashError> {
        let target = hash.unwrap_or(&self.decoy).0.clone();
        let password = password.as_bytes().to_vec();
        let matches = self
            .pool
            .run(move |memory| verify_with(&target, &password, memory))?;
        Ok(matches && hash.is_some())
    }
}

fn hash_with(
    params: &Params,
    password: &[u8],
    memory: &mut Vec<Block>,
) -> Result<PasswordHash, HashError> {
    let failed = |e: &dyn std::fmt::Display| HashError::Failed(e.to_string());
    let argon2 = Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone());
    let salt = SaltString::generate(&mut argon2::password_hash::rand_core::OsRng);
    let mut raw_salt = [0u8; 64];
    let salt_bytes = salt
        .as_salt()
        .decode_b64(&mut raw_salt)
        .map_err(|e| failed(&e))?;
    let mut out = [0u8; Params::DEFAULT_OUTPUT_LEN];
    compute(&argon2, params, password, salt_bytes, &mut out, memory).map_err(|e| failed(&e))?;
    let phc = argon2::password_hash::PasswordHash {
        algorithm: Algorithm::Argon2id.ident(),
        version: Some(Version::V0x13.into()),
        params: ParamsString::try_from(params).map_err(|e| failed(&e))?,
        salt: Some(salt.as_salt()),
        hash: Some(Output::new(&out).map_err(|e| failed(&e))?),
    };
    Ok(PasswordHash(phc.to_string()))
}

fn verify_with(stored: &str, password: &[u8], memory: &mut Vec<Block>) -> bool {
    let Ok(parsed) = argon2::password_hash::PasswordHash::new(stored) else {
        return false;
    };
    let (Some(salt), Some(expected)) = (parsed.salt, parsed.hash) else {
        return false;
    };
    let (Ok(algorithm), Ok(params)) = (
        Algorithm::try_from(parsed.algorithm),
        Params::try_from(&parsed),
    ) else {
        return false;
    };
    let version = parsed
        .version
        .and_then(|v| Version::try_from(v).ok())
        .unwrap_or_default();
    let mut raw_salt = [0u8; 64];
    let Ok(salt_bytes) = salt.decode_b64(&mut raw_salt) else {
        return false;
    };
    let argon2 = Argon2::new(algorithm, version, params.clone());
    let mut out = vec![0u8; expected.len()];
    if compute(&argon2, &params, password, salt_bytes, &mut out, memory).is_err() {
        return false;
    }
    // `Output` compares in constant time.
    Output::new(&out).is_ok_and(|computed| computed == expected)
}

#[cfg(test)]
mod tests {
    use super::*;
    use argon2::password_hash::PasswordVerifier as _;

    fn fast() -> PasswordHasher {
        PasswordHasher::with_params(64, 1, 1).unwrap()
    }

    #[test]
    fn hash_is_argon2id_and_verifies() {
        let h = fast();
        let hash = h.hash("correct horse").unwrap();
        assert!(hash.0.starts_with("$argon2id$v=19$m=64,t=1,p=1$"));
        assert!(h.verify("correct horse", Some(&hash)).unwrap());
        assert!(!h.verify("wrong horse", Some(&hash)).unwrap());
    }

    #[test]
    fn hashes_stay_compatible_with_the_reference_phc_format() {
        // A hash made the crate's own way (as every stored hash was) verifies here…
        use argon2::password_hash::PasswordHasher as _;
        let params = Params::new(64, 1, 1, None).unwrap();
        let reference = Argon2::new(Algorithm::Argon2id, Version::V0x13, params);
        let salt = SaltString::generate(&mut argon2::password_hash::rand_core::OsRng);
        let old = reference
            .hash_password(b"stored before", &salt)
            .unwrap()
            .to_string();
        let h = fast();
        assert!(h.verify("stored before", Some(&PasswordHash(old))).unwrap());
        // …and one made here verifies with the crate's own verifier.
        let new = h.hash("made here").unwrap();
        let parsed = argon2::password_hash::PasswordHash::new(&new.0).unwrap();
        assert!(reference.verify_password(b"made here", &parsed).is_ok());
        // A stored hash with a higher memory cost than the current setting still verifies.
        let bigger = PasswordHasher::with_params(256, 1, 1)
            .unwrap()
            .hash("costlier")
            .unwrap();
        assert!(h.verify("costlier", Some(&bigger)).unwrap());
    }

    #[test]
    fn unknown_user_never_verifies() {
        let h = fast();
        assert!(!h.verify("anything", None).unwrap());
    }

    #[test]
    fn a_full_queue_is_refused_at_once_and_no_more_than_the_pool_run_together() {
        let h = PasswordHasher::with_pool(
            8 * 1024,
            3,
            1,
            PoolSize {
                workers: 2,
                queue: 1,
            },
        )
        .unwrap();
        let hash = h.hash("pw").unwrap();
        let start = Arc::new(std::sync::Barrier::new(16));
        let threads: Vec<_> = (0..16)
            .map(|_| {
                let (h, hash, start) = (h.clone(), hash.clone(), start.clone());
                std::thread::spawn(move || {
                    start.wait();
                    h.verify("pw", Some(&hash))
                })
            })
            .collect();
        let results: Vec<_> = threads.into_iter().map(|t| t.join().unwrap()).collect();
        let busy = results
            .iter()
            .filter(|r| matches!(r, Err(HashError::Busy)))
            .count();
        assert!(busy > 0, "16 at once into 2 workers and a queue of 1");
        assert!(
            results
                .iter()
                .all(|r| matches!(r, Ok(true) | Err(HashError::Busy)))
        );
        let stats = h.stats();
        assert!(stats.peak_running <= 2, "{stats:?}");
        assert_eq!(stats.refused, busy);
    }

    #[test]
    fn debug_redacts() {
        let hash = fast().hash("pw").unwrap();
        assert_eq!(format!("{hash:?}"), "PasswordHash(<redacted>)");
    }
}
