//! System Log events waiting for a write: the events a request noted (see `audit`) are taken
//! by the store's next user write into that write's own transaction, so that an event and what
//! it records are kept together or not at all. What no such write takes is appended by the
//! edge before the request answers.
//!
//! Events are kept per request: in its task, or on the thread of the blocking closure it runs
//! (which hands them back, as `durability` does with writes).

use crate::records::log::LogEvent;
use std::cell::RefCell;

#[derive(Default)]
struct Pending {
    /// Noted before the write that will carry them.
    events: Vec<LogEvent>,
    /// Noted by a change while it is being tried: kept only if that try is written.
    attempt: Vec<LogEvent>,
}

tokio::task_local! {
    static TASK: RefCell<Pending>;
}

thread_local! {
    static THREAD: RefCell<Pending> = RefCell::new(Pending::default());
}

fn with<T>(mut f: impl FnMut(&mut Pending) -> T) -> T {
    match TASK.try_with(|p| f(&mut p.borrow_mut())) {
        Ok(t) => t,
        Err(_) => THREAD.with(|p| f(&mut p.borrow_mut())),
    }
}

/// Keeps `event` for the request's next write (or the edge's append).
pub fn stage(event: LogEvent) {
    let mut event = Some(event);
    with(|p| p.events.extend(event.take()));
}

/// Keeps `event` only if the change being tried now is written (a change may be tried more
/// than once when another write got there first).
pub fn stage_in_attempt(event: LogEvent) {
    let mut event = Some(event);
    with(|p| p.attempt.extend(event.take()));
}

/// A write is about to try a change: what an earlier try staged is dropped.
pub fn begin_attempt() {
    with(|p| p.attempt.clear());
}

/// What the write now committing carries: everything staged so far.
pub fn peek() -> Vec<LogEvent> {
    with(|p| p.events.iter().chain(&p.attempt).cloned().collect())
}

/// The write carrying [`peek`]'s events committed: they are stored.
pub fn committed() {
    with(|p| {
        p.events.clear();
        p.attempt.clear();
    });
}

/// Drops a staged event that turned out not to happen (a request that failed).
pub fn discard(uuid: &str) {
    with(|p| p.events.retain(|e| e.uuid != uuid));
}

/// Everything still staged, cleared (the edge appends it; the blocking pool hands it back).
pub fn take() -> Vec<LogEvent> {
    with(|p| {
        p.attempt.clear();
        std::mem::take(&mut p.events)
    })
}

/// The events staged on this thread, cleared (for the blocking pool).
pub fn take_thread() -> Vec<LogEvent> {
    THREAD.with(|p| {
        let mut p = p.borrow_mut();
        p.attempt.clear();
        std::mem::take(&mut p.events)
    })
}

/// Stages events a blocking closure left for the current request.
pub fn extend(events: Vec<LogEvent>) {
    for e in events {
        stage(e);
    }
}

/// Runs `f` with its own staging; returns its output and what is still staged after it.
pub async fn scoped<F: Future>(f: F) -> (F::Output, Vec<LogEvent>) {
    TASK.scope(RefCell::new(Pending::default()), async {
        let out = f.await;
        (out, take())
    })
    .await
}
