//! Durable acknowledgement with group commit.
//!
//! Every write a store makes gets a sequence number once it is done. A response that
//! acknowledges writes waits until a flush that began after its last write has finished: one
//! flush serves every write waiting at that moment, so throughput holds while each answer
//! still means "on disk".
//!
//! Which writes a request made is tracked per request: writes on the request's own task note
//! their number in a task-local; writes on the blocking pool note it in a thread-local, which
//! [`crate::http::AppState::blocking`] hands back to the task when the closure returns.

use super::StoreError;
use std::cell::Cell;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};

tokio::task_local! {
    static TASK_WRITES: Cell<u64>;
}

thread_local! {
    static THREAD_WRITES: Cell<u64> = const { Cell::new(0) };
}

/// Remembers that the current request (task, or blocking closure) wrote up to `seq`.
pub fn note(seq: u64) {
    if TASK_WRITES.try_with(|w| w.set(w.get().max(seq))).is_err() {
        THREAD_WRITES.with(|w| w.set(w.get().max(seq)));
    }
}

/// The writes noted on this thread since the last call, cleared (for the blocking pool).
pub fn take_thread() -> u64 {
    THREAD_WRITES.with(|w| w.replace(0))
}

/// The writes the current task noted so far (0 outside a [`tracked`] scope).
pub fn task_writes() -> u64 {
    TASK_WRITES.try_with(Cell::get).unwrap_or(0)
}

/// Runs `f` with its own write tracking; returns its output and the last write it made.
pub async fn tracked<F: Future>(f: F) -> (F::Output, u64) {
    TASK_WRITES
        .scope(Cell::new(0), async {
            let out = f.await;
            (out, task_writes())
        })
        .await
}

#[derive(Debug, Clone, Default)]
struct Progress {
    /// Every write up to this number is durable.
    durable: u64,
    /// The last flush failed: writes up to this number could not be made durable.
    failed: Option<(u64, String)>,
}

impl Progress {
    /// `Some` once write `seq` is settled: durable, or its flush failed.
    fn settled(&self, seq: u64) -> Option<Result<(), StoreError>> {
        if self.durable >= seq {
            return Some(Ok(()));
        }
        match &self.failed {
            Some((upto, why)) if *upto >= seq => Some(Err(StoreError::Backend(format!(
                "the write could not be made durable: {why}"
            )))),
            _ => None,
        }
    }
}

struct Shared {
    /// The number of the last completed write.
    written: AtomicU64,
    state: Mutex<State>,
    wake_flusher: Condvar,
    flushed: Condvar,
    progress: tokio::sync::watch::Sender<Progress>,
}

#[derive(Default)]
struct State {
    /// The highest write someone waits for.
    requested: u64,
    progress: Progress,
    stop: bool,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn request(&self, seq: u64) {
        let mut s = self.lock();
        if seq > s.requested {
            s.requested = seq;
            self.wake_flusher.notify_one();
        }
    }
}

/// A flusher thread and the bookkeeping of which writes are durable.
pub struct GroupCommit {
    shared: Arc<Shared>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl GroupCommit {
    /// Starts the flusher; `flush` makes every completed write durable.
    pub fn start(
        flush: impl Fn() -> Result<(), String> + Send + 'static,
    ) -> Result<Self, StoreError> {
        let (progress, _) = tokio::sync::watch::channel(Progress::default());
        let shared = Arc::new(Shared {
            written: AtomicU64::new(0),
            state: Mutex::new(State::default()),
            wake_flusher: Condvar::new(),
            flushed: Condvar::new(),
            progress,
        });
        let worker = shared.clone();
        let thread = std::thread::Builder::new()
            .name("group-commit".into())
            .spawn(move || flusher(&worker, &flush))
            .map_err(|e| StoreError::Backend(format!("cannot start the flusher: {e}")))?;
        Ok(Self {
            shared,
            thread: Some(thread),
        })
    }

    /// Called after each completed write: numbers it and notes it for the current request.
    pub fn wrote(&self) {
        let seq = self.shared.written.fetch_add(1, Ordering::SeqCst) + 1;
        note(seq);
    }

    /// The number of the last completed write.
    pub fn written(&self) -> u64 {
        self.shared.written.load(Ordering::SeqCst)
    }

    /// Blocks until write `seq` is durable.
    pub fn wait(&self, seq: u64) -> Result<(), StoreError> {
        if seq == 0 {
            return Ok(());
        }
        self.shared.request(seq);
        let mut s = self.shared.lock();
        loop {
            if let Some(done) = s.progress.settled(seq) {
                return done;
            }
            if s.stop {
                return Err(StoreError::Backend("the store is closing".into()));
            }
            s = self
                .shared
                .flushed
                .wait(s)
                .unwrap_or_else(|p| p.into_inner());
        }
    }

    /// Waits, without blocking a worker thread, until write `seq` is durable.
    pub async fn wait_async(&self, seq: u64) -> Result<(), StoreError> {
        if seq == 0 {
            return Ok(());
        }
        let mut rx = self.shared.progress.subscribe();
        self.shared.request(seq);
        let mut outcome = None;
        rx.wait_for(|p| {
            outcome = p.settled(seq);
            outcome.is_some()
        })
        .await
        .map_err(|_| StoreError::Backend("the store is closing".into()))?;
        outcome.unwrap_or(Ok(()))
    }
}

impl Drop for GroupCommit {
    fn drop(&mut self) {
        self.shared.lock().stop = true;
        self.shared.wake_flusher.notify_all();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn flusher(shared: &Shared, flush: &dyn Fn() -> Result<(), String>) {
    loop {
        {
            let mut s = shared.lock();
            while s.requested <= s.progress.durable && !s.stop {
                s = shared
                    .wake_flusher
                    .wait(s)
                    .unwrap_or_else(|p| p.into_inner());
            }
            if s.stop && s.requested <= s.progress.durable {
                shared.flushed.notify_all();
                return;
            }
        }
        // Every write numbered up to `target` completed before this flush starts.
        let target = shared.written.load(Ordering::SeqCst);
        let result = flush();
        let progress = {
            let mut s = shared.lock();
            match result {
                Ok(()) => {
                    s.progress.durable = s.progress.durable.max(target);
                    s.progress.failed = None;
                }
                Err(why) => {
                    tracing::error!(error = %why, "flushing the store failed");
                    s.progress.failed = Some((target, why));
                }
            }
            shared.flushed.notify_all();
            s.progress.clone()
        };
        let failed = progress.failed.is_some();
        shared.progress.send_replace(progress);
        if failed {
            // The waiters up to `target` have their answer; the next flush retries, not at once.
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;

    #[test]
    fn one_flush_serves_every_write_waiting_for_it() {
        let flushes = Arc::new(AtomicUsize::new(0));
        let counted = flushes.clone();
        let gc = Arc::new(
            GroupCommit::start(move || {
                counted.fetch_add(1, Ordering::SeqCst);
                std::thread::sleep(std::time::Duration::from_millis(20));
                Ok(())
            })
            .unwrap(),
        );
        let threads: Vec<_> = (0..16)
            .map(|_| {
                let gc = gc.clone();
                std::thread::spawn(move || {
                    gc.wrote();
                    let seq = take_thread();
                    gc.wait(seq).unwrap();
                    seq
                })
            })
            .collect();
        let mut seqs: Vec<u64> = threads.into_iter().map(|t| t.join().unwrap()).collect();
        seqs.sort_unstable();
        assert_eq!(seqs, (1..=16).collect::<Vec<_>>());
        let n = flushes.load(Ordering::SeqCst);
        assert!((1..16).contains(&n), "{n} flushes for 16 writes");
    }

    #[test]
    fn a_failed_flush_is_reported_and_the_next_one_retries() {
        let fail = Arc::new(std::sync::atomic::AtomicBool::new(true));
        let failing = fail.clone();
        let gc = GroupCommit::start(move || {
            if failing.load(Ordering::SeqCst) {
                Err("disk full".into())
            } else {
                Ok(())
            }
        })
        .unwrap();
        gc.wrote();
        assert!(gc.wait(take_thread()).is_err());
        fail.store(false, Ordering::SeqCst);
        gc.wrote();
        assert!(gc.wait(take_thread()).is_ok());
    }

    #[tokio::test]
    async fn requests_track_their_own_writes() {
        let gc = Arc::new(GroupCommit::start(|| Ok(())).unwrap());
        let (_, none) = tracked(async {}).await;
        assert_eq!(none, 0);
        let writer = gc.clone();
        let ((), seq) = tracked(async move {
            writer.wrote();
            writer.wrote();
        })
        .await;
        assert_eq!(seq, 2);
        gc.wait_async(seq).await.unwrap();
    }
}
