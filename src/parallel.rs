//! The library's private thread pool. Work is split across it only above a size threshold, so
//! small ops never pay for a pool entry; results do not depend on the thread count.

mod workers;

use parking_lot::RwLock;
use std::sync::{Arc, OnceLock};
use workers::{Job, Workers};

/// The calling thread plus `workers`.
struct Pool {
    threads: usize,
    workers: Arc<Workers>,
}

static POOL: OnceLock<RwLock<Pool>> = OnceLock::new();

fn default_threads() -> usize {
    std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1)
}

fn build(threads: usize) -> Pool {
    let workers = Workers::start(threads.max(1) - 1);
    Pool { threads: workers.count() + 1, workers: Arc::new(workers) }
}

fn pool() -> &'static RwLock<Pool> {
    POOL.get_or_init(|| RwLock::new(build(default_threads())))
}

/// Sets the number of threads work is split across, the calling one included (0 = one per core).
pub fn set_num_threads(n: usize) {
    let n = if n == 0 { default_threads() } else { n };
    let mut p = pool().write();
    if p.threads != n {
        *p = build(n);
    }
}

/// Number of threads the pool runs work on.
pub fn num_threads() -> usize {
    pool().read().threads
}

/// Runs `task(c)` once for every chunk c in 0..chunks, on the calling thread and on up to
/// `helpers` pool threads, and returns when every chunk is done.
///
/// The caller starts at once, taking chunks from the front, and the pool's threads join as they
/// see the job, taking chunks from the back; so when every thread keeps up, each runs the same
/// chunks call after call and finds its share of a weight still in its own cache. The caller never
/// waits for a helper that has not started (see workers.rs). Results must not depend on which
/// thread runs a chunk. A panic in a task reaches the caller.
pub fn for_each_chunk(helpers: usize, chunks: usize, task: &(dyn Fn(usize) + Sync)) {
    if helpers == 0 || chunks <= 1 {
        (0..chunks).for_each(task);
        return;
    }
    // SAFETY: the lifetime is erased so pool threads can hold the task after this call returns,
    // but they only call it for a chunk they claimed while `Job::close` below was not yet done,
    // and `close` waits for every such call to finish before this function returns (or unwinds).
    let task: &'static (dyn Fn(usize) + Sync) = unsafe { std::mem::transmute(task) };
    let job = Arc::new(Job::new(task, chunks, helpers));
    let workers = pool().read().workers.clone();
    let posted = workers.post(&job);
    let closing = CloseOnDrop { job: &job, workers: posted.then_some(&*workers) };
    job.run_front();
    // Closes the job (also when the caller's task unwinds): every pool call has returned after it.
    drop(closing);
    if posted && job.panicked() {
        panic!("parallel::for_each_chunk: a task panicked on a pool thread");
    }
}

/// Closes the job and takes it off the workers' slot, also when the caller's own task unwinds.
struct CloseOnDrop<'a> {
    job: &'a Arc<Job>,
    workers: Option<&'a Workers>,
}

impl Drop for CloseOnDrop<'_> {
    fn drop(&mut self) {
        self.job.close();
        if let Some(workers) = self.workers {
            workers.retire(self.job);
        }
    }
}

/// A mutable slice that pool tasks write in disjoint ranges (each task takes its own).
pub struct Disjoint<'a, T> {
    ptr: *mut T,
    len: usize,
    _borrow: std::marker::PhantomData<&'a mut [T]>,
}

// SAFETY: tasks only reach the data through `range`, whose contract keeps their ranges disjoint,
// so sharing the wrapper is sharing &mut access to separate parts of a Send slice.
unsafe impl<T: Send> Sync for Disjoint<'_, T> {}

impl<'a, T> Disjoint<'a, T> {
    /// Wraps `data` for tasks writing disjoint ranges of it.
    pub fn new(data: &'a mut [T]) -> Self {
        Disjoint { ptr: data.as_mut_ptr(), len: data.len(), _borrow: std::marker::PhantomData }
    }

    /// The elements in `range`.
    ///
    /// # Safety
    /// No other live reference from this wrapper may overlap `range`.
    #[allow(clippy::mut_from_ref)]
    pub unsafe fn range(&self, range: std::ops::Range<usize>) -> &mut [T] {
        assert!(range.start <= range.end && range.end <= self.len, "Disjoint::range out of bounds");
        // SAFETY: in bounds (checked), and exclusive by the caller's contract.
        unsafe { std::slice::from_raw_parts_mut(self.ptr.add(range.start), range.end - range.start) }
    }
}

/// Runs `task(range)` for consecutive ranges covering 0..items, each unit of work costing about
/// `unit_cost` elements, across the calling thread and the pool; each unit is in exactly one
/// range. The calling thread takes it all below `min_elements` of work or with a one-thread pool;
/// otherwise there are about four ranges per thread, so a thread that wakes late costs little.
pub fn for_each_range(items: usize, unit_cost: usize, min_elements: usize, task: &(dyn Fn(std::ops::Range<usize>) + Sync)) {
    let threads = num_threads();
    if threads <= 1 || items < 2 || items.saturating_mul(unit_cost) < min_elements {
        task(0..items);
        return;
    }
    let per_range = items.div_ceil(4 * threads).max(min_elements.div_ceil(4 * threads * unit_cost.max(1)));
    for_each_chunk(threads - 1, items.div_ceil(per_range), &|c| task(c * per_range..((c + 1) * per_range).min(items)));
}

/// Threads for a GEMM: below ~2M multiply-adds (tens of microseconds on one core) it is faster
/// on the calling thread than with the pool: measured on the batch-1 MLP, where 200k multiply-adds
/// took 12 us on one thread and 28 us split across two.
pub fn gemm_threads(m: usize, n: usize, k: usize) -> usize {
    let threads = num_threads();
    if threads <= 1 || m.saturating_mul(n).saturating_mul(k) < 1 << 21 {
        1
    } else {
        threads
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[test]
    fn every_chunk_runs_exactly_once() {
        set_num_threads(3);
        for chunks in [0, 1, 2, 7, 64, 1000] {
            for helpers in [0, 1, 2, 5] {
                let hits: Vec<AtomicUsize> = (0..chunks).map(|_| AtomicUsize::new(0)).collect();
                for_each_chunk(helpers, chunks, &|c| {
                    hits[c].fetch_add(1, Ordering::SeqCst);
                });
                assert!(hits.iter().all(|h| h.load(Ordering::SeqCst) == 1), "{chunks} chunks, {helpers} helpers");
            }
        }
    }

    #[test]
    fn a_panicking_task_reaches_the_caller_and_the_pool_goes_on() {
        set_num_threads(3);
        for bad in [0, 31, 63] {
            let result = std::panic::catch_unwind(|| for_each_chunk(2, 64, &|c| assert_ne!(c, bad, "the failing chunk")));
            assert!(result.is_err(), "chunk {bad}'s panic was lost");
        }
        let sum = AtomicUsize::new(0);
        for_each_chunk(2, 64, &|c| {
            sum.fetch_add(c, Ordering::SeqCst);
        });
        assert_eq!(sum.load(Ordering::SeqCst), 63 * 64 / 2);
    }

    #[test]
    fn nested_and_concurrent_calls_finish_while_the_pool_is_resized() {
        let sum = AtomicUsize::new(0);
        std::thread::scope(|s| {
            s.spawn(|| (0..50).for_each(|i| set_num_threads(1 + i % 4)));
            for _ in 0..4 {
                s.spawn(|| {
                    for _ in 0..50 {
                        for_each_chunk(2, 16, &|c| for_each_chunk(2, 4, &|d| _ = sum.fetch_add(c * 4 + d, Ordering::SeqCst)));
                    }
                });
            }
        });
        assert_eq!(sum.load(Ordering::SeqCst), 4 * 50 * (63 * 64 / 2));
    }
}
