//! [`Mailbox`]: a one-slot, two-way hand-off between the caller and one pool worker.
//!
//! Built on `std::sync::{Mutex, Condvar}`, which are futex-based on Linux and never allocate. A
//! channel (crossbeam's included) allocates its waiting context lazily, the first time a thread
//! actually blocks; when that first block happens only during a plan call (it depends on thread
//! timing), the plan call allocates. The mailbox has no such first time.
//!
//! A worker that panics marks the mailbox dead from its drop guard, so the caller gets an error
//! instead of waiting forever.

use std::sync::{Condvar, Mutex, MutexGuard};

/// State behind the lock.
#[derive(Debug)]
struct Slot<J, R> {
    /// The job waiting to be taken by the worker.
    job: Option<J>,
    /// The result waiting to be taken by the caller.
    result: Option<R>,
    /// Set when the worker has exited (normally or by panic).
    dead: bool,
}

/// One job at a time from the caller to a worker, one result back.
#[derive(Debug)]
pub(crate) struct Mailbox<J, R> {
    slot: Mutex<Slot<J, R>>,
    changed: Condvar,
}

impl<J, R> Mailbox<J, R> {
    /// An empty mailbox with a live worker.
    pub(crate) fn new() -> Self {
        Self {
            slot: Mutex::new(Slot {
                job: None,
                result: None,
                dead: false,
            }),
            changed: Condvar::new(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Slot<J, R>> {
        self.slot.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Caller side: hands `job` to the worker. `Err(job)` if the worker has exited.
    pub(crate) fn send(&self, job: J) -> Result<(), J> {
        let mut s = self.lock();
        if s.dead {
            return Err(job);
        }
        s.job = Some(job);
        drop(s);
        self.changed.notify_all();
        Ok(())
    }

    /// Caller side: waits for the worker's result; `None` if the worker exited without one.
    pub(crate) fn recv_result(&self) -> Option<R> {
        let mut s = self.lock();
        loop {
            if let Some(r) = s.result.take() {
                return Some(r);
            }
            if s.dead {
                return None;
            }
            s = self.changed.wait(s).unwrap_or_else(|e| e.into_inner());
        }
    }

    /// Worker side: waits for the next job.
    pub(crate) fn recv_job(&self) -> J {
        let mut s = self.lock();
        loop {
            if let Some(j) = s.job.take() {
                return j;
            }
            s = self.changed.wait(s).unwrap_or_else(|e| e.into_inner());
        }
    }

    /// Worker side: posts the result of the job it took.
    pub(crate) fn post_result(&self, result: R) {
        self.lock().result = Some(result);
        self.changed.notify_all();
    }

    /// Worker side: marks the worker gone; a waiting caller wakes up with `None`.
    pub(crate) fn mark_dead(&self) {
        self.lock().dead = true;
        self.changed.notify_all();
    }
}

#[cfg(test)]
mod tests {
    use super::Mailbox;
    use std::sync::Arc;

    #[test]
    fn round_trip_and_dead_worker() {
        let mb = Arc::new(Mailbox::<u32, u32>::new());
        let w = Arc::clone(&mb);
        let h = std::thread::spawn(move || {
            let j = w.recv_job();
            w.post_result(j * 2);
            let _ = w.recv_job();
            w.mark_dead();
        });
        mb.send(21).expect("live");
        assert_eq!(mb.recv_result(), Some(42));
        mb.send(0).expect("live");
        h.join().expect("join");
        assert_eq!(mb.recv_result(), None);
        assert_eq!(mb.send(1), Err(1));
    }
}
