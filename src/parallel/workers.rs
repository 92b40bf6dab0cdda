//! The pool's worker threads and how a caller hands them a job.
//!
//! Why not a general-purpose pool: ops arrive back to back, each a few tens of microseconds of
//! work split in a handful of chunks, and waking a sleeping thread on a virtual machine takes
//! about as long as the chunk itself. So a worker that finishes a job keeps polling for the next
//! one for `SPIN` before it sleeps (as ONNX Runtime's and OpenMP's pools do), and a caller never
//! waits for a worker that has not started: whatever the workers have not claimed, the caller runs.
//! One job is posted at a time; a second caller (another thread, or a task that itself splits
//! work) finds the slot taken and runs its chunks alone, which keeps nested and concurrent calls
//! free of deadlocks.

use parking_lot::{Condvar, Mutex};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How long an idle worker polls for the next job before it sleeps. Long enough to span the gap
/// between two ops of a forward pass (microseconds) and between the calls of a serving loop over
/// small inputs; short enough that an idle library gives its cores back at once to the caller's
/// own threads.
const SPIN: Duration = Duration::from_micros(300);

/// The chunks of one `for_each_chunk` call, shared by the caller and the workers that join it.
pub(super) struct Job {
    task: &'static (dyn Fn(usize) + Sync),
    /// The chunks not yet claimed, front..back, as `back << 32 | front`.
    unclaimed: AtomicU64,
    /// Workers that may still join (the caller asked for this many helpers).
    seats: AtomicUsize,
    /// Workers between announcing a claim and finishing its chunk.
    active: AtomicUsize,
    /// A task panicked on a worker; the caller panics in turn once the job is closed.
    panicked: AtomicBool,
}

/// Which end of the chunk range a thread claims from.
pub(super) enum End {
    Front,
    Back,
}

impl Job {
    /// A job of `chunks` calls of `task` that up to `helpers` workers may join.
    pub(super) fn new(task: &'static (dyn Fn(usize) + Sync), chunks: usize, helpers: usize) -> Job {
        Job {
            task,
            unclaimed: AtomicU64::new((chunks.min(u32::MAX as usize) as u64) << 32),
            seats: AtomicUsize::new(helpers),
            active: AtomicUsize::new(0),
            panicked: AtomicBool::new(false),
        }
    }

    /// Claims the next chunk from one end, if any is left.
    pub(super) fn claim(&self, end: End) -> Option<usize> {
        let mut state = self.unclaimed.load(Ordering::SeqCst);
        loop {
            let (front, back) = (state & u64::from(u32::MAX), state >> 32);
            if front >= back {
                return None;
            }
            let (next, chunk) = match end {
                End::Front => (state + 1, front),
                End::Back => (state - (1 << 32), back - 1),
            };
            match self.unclaimed.compare_exchange_weak(state, next, Ordering::SeqCst, Ordering::SeqCst) {
                Ok(_) => return Some(chunk as usize),
                Err(now) => state = now,
            }
        }
    }

    /// The caller's part: runs `task(c)` on the chunks it claims from the front.
    pub(super) fn run_front(&self) {
        while let Some(c) = self.claim(End::Front) {
            (self.task)(c);
        }
    }

    /// A worker's part: takes a seat if one is left, then claims chunks from the back. It
    /// announces itself in `active` before each claim, so `close` either sees it there or it
    /// finds nothing left to claim.
    fn help(&self) {
        if self.seats.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |s| s.checked_sub(1)).is_err() {
            return;
        }
        loop {
            self.active.fetch_add(1, Ordering::SeqCst);
            let claimed = self.claim(End::Back);
            if let Some(c) = claimed {
                // A panic must not unwind the worker past `active`: the caller would wait forever.
                if std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| (self.task)(c))).is_err() {
                    self.panicked.store(true, Ordering::SeqCst);
                }
            }
            self.active.fetch_sub(1, Ordering::SeqCst);
            if claimed.is_none() {
                return;
            }
        }
    }

    /// Whether a worker's task panicked (final once the job is closed).
    pub(super) fn panicked(&self) -> bool {
        self.panicked.load(Ordering::SeqCst)
    }

    /// No chunk can be claimed after this; waits for workers still running one. Returns whether
    /// a worker's task panicked.
    pub(super) fn close(&self) -> bool {
        self.unclaimed.store(0, Ordering::SeqCst);
        // A running chunk takes microseconds: spin, then yield (under valgrind the threads
        // take turns, and a spinning caller would hold back the worker it waits for).
        let mut spins = 0u32;
        while self.active.load(Ordering::SeqCst) != 0 {
            if spins < 1000 {
                spins += 1;
                std::hint::spin_loop();
            } else {
                std::thread::yield_now();
            }
        }
        self.panicked()
    }
}

/// What the caller and the workers share.
struct Shared {
    /// The job on offer, if any.
    slot: Mutex<Option<Arc<Job>>>,
    /// Bumped (under `slot`'s lock) whenever a job is posted and at shutdown, so a polling
    /// worker notices without taking the lock.
    posted: AtomicU64,
    /// Workers asleep on `wake`.
    sleeping: AtomicUsize,
    wake: Condvar,
    shutdown: AtomicBool,
}

/// A set of worker threads, stopped when dropped.
pub(super) struct Workers {
    shared: Arc<Shared>,
    started: usize,
}

impl Workers {
    /// Starts up to `count` workers (fewer if the system refuses threads).
    pub(super) fn start(count: usize) -> Workers {
        let shared = Arc::new(Shared {
            slot: Mutex::new(None),
            posted: AtomicU64::new(0),
            sleeping: AtomicUsize::new(0),
            wake: Condvar::new(),
            shutdown: AtomicBool::new(false),
        });
        let started = (0..count)
            .take_while(|i| {
                let shared = shared.clone();
                std::thread::Builder::new().name(format!("infer-worker-{i}")).spawn(move || shared.serve()).is_ok()
            })
            .count();
        Workers { shared, started }
    }

    /// Worker threads running.
    pub(super) fn count(&self) -> usize {
        self.started
    }

    /// Offers `job` to the workers; false (and nothing posted) when another job holds the slot.
    pub(super) fn post(&self, job: &Arc<Job>) -> bool {
        let shared = &self.shared;
        {
            let mut slot = shared.slot.lock();
            if slot.is_some() {
                return false;
            }
            *slot = Some(job.clone());
            shared.posted.fetch_add(1, Ordering::SeqCst);
        }
        if shared.sleeping.load(Ordering::SeqCst) != 0 {
            shared.wake.notify_all();
        }
        true
    }

    /// Takes `job` off the slot (after it is closed), making room for the next.
    pub(super) fn retire(&self, job: &Arc<Job>) {
        let mut slot = self.shared.slot.lock();
        if slot.as_ref().is_some_and(|j| Arc::ptr_eq(j, job)) {
            *slot = None;
        }
    }
}

impl Drop for Workers {
    fn drop(&mut self) {
        let shared = &self.shared;
        {
            let _slot = shared.slot.lock();
            shared.shutdown.store(true, Ordering::SeqCst);
            shared.posted.fetch_add(1, Ordering::SeqCst);
        }
        shared.wake.notify_all();
    }
}

impl Shared {
    /// A worker's life: wait for a posting, help with the job on offer, repeat until shutdown.
    fn serve(&self) {
        // `posted` starts at 0: a job posted before this thread got here is seen at once.
        let mut seen = 0;
        loop {
            seen = self.next_posting(seen);
            if self.shutdown.load(Ordering::SeqCst) {
                return;
            }
            let job = self.slot.lock().clone();
            if let Some(job) = job {
                job.help();
            }
        }
    }

    /// Waits until `posted` differs from `seen` (polling for `SPIN`, then asleep) and returns it.
    fn next_posting(&self, seen: u64) -> u64 {
        let start = Instant::now();
        let mut polls = 0u32;
        loop {
            let now = self.posted.load(Ordering::SeqCst);
            if now != seen {
                return now;
            }
            polls = polls.wrapping_add(1);
            // Every 64 polls (a microsecond or two) look at the clock, and yield: on a machine
            // with more runnable threads than cores, a polling worker would otherwise hold a core
            // that the caller's other threads, or the caller itself, are waiting for.
            if polls.is_multiple_of(64) {
                if start.elapsed() >= SPIN {
                    break;
                }
                std::thread::yield_now();
            }
            std::hint::spin_loop();
        }
        let mut slot = self.slot.lock();
        self.sleeping.fetch_add(1, Ordering::SeqCst);
        // `posted` only changes under the lock, so a posting either shows here or wakes us.
        while self.posted.load(Ordering::SeqCst) == seen {
            self.wake.wait(&mut slot);
        }
        self.sleeping.fetch_sub(1, Ordering::SeqCst);
        self.posted.load(Ordering::SeqCst)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_panic_on_a_worker_is_reported_to_the_caller() {
        let workers = Workers::start(1);
        assert_eq!(workers.count(), 1);
        let job = Arc::new(Job::new(&|_| panic!("a failing task"), 4, 1));
        assert!(workers.post(&job));
        // The caller claims nothing, so the worker (woken if asleep) runs every chunk.
        let start = Instant::now();
        while !job.panicked.load(Ordering::SeqCst) {
            assert!(start.elapsed() < Duration::from_secs(10), "the worker never ran the job");
            std::thread::yield_now();
        }
        assert!(job.close());
        workers.retire(&job);
        // The worker survived its task's panic and takes the next job.
        let ran = AtomicUsize::new(0);
        let count = |_: usize| {
            ran.fetch_add(1, Ordering::SeqCst);
        };
        // SAFETY: the job is closed below, before `ran` goes out of scope.
        let task: &'static (dyn Fn(usize) + Sync) = unsafe { std::mem::transmute(&count as &(dyn Fn(usize) + Sync)) };
        let next = Arc::new(Job::new(task, 3, 1));
        assert!(workers.post(&next));
        while ran.load(Ordering::SeqCst) < 3 {
            assert!(start.elapsed() < Duration::from_secs(10), "the worker did not survive the panic");
            std::thread::yield_now();
        }
        assert!(!next.close());
    }

    #[test]
    fn a_second_job_is_refused_while_one_holds_the_slot() {
        let workers = Workers::start(1);
        let first = Arc::new(Job::new(&|_| {}, 0, 1));
        let second = Arc::new(Job::new(&|_| {}, 0, 1));
        assert!(workers.post(&first));
        assert!(!workers.post(&second));
        first.close();
        workers.retire(&first);
        assert!(workers.post(&second));
    }
}
