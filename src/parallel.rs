//! The library's private thread pool. Work is split across it only above a size threshold, so
//! small ops never pay for a pool entry; results do not depend on the thread count.

use parking_lot::RwLock;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};

struct Pool {
    threads: usize,
    pool: Arc<rayon::ThreadPool>,
}

static POOL: OnceLock<RwLock<Pool>> = OnceLock::new();

fn default_threads() -> usize {
    std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1)
}

fn build(threads: usize) -> Pool {
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .thread_name(|i| format!("infer-worker-{i}"))
        .build()
        .unwrap_or_else(|_| rayon::ThreadPoolBuilder::new().num_threads(1).build().expect("a one-thread pool"));
    Pool { threads: pool.current_num_threads(), pool: Arc::new(pool) }
}

fn pool() -> &'static RwLock<Pool> {
    POOL.get_or_init(|| RwLock::new(build(default_threads())))
}

/// Sets the number of worker threads (0 = one per core).
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
/// wake, taking chunks from the back; so when every thread keeps up, each runs the same chunks
/// call after call and finds its share of a weight still in its own cache. The caller never waits for a helper that has not started: on a
/// virtual machine waking an idle CPU takes tens of microseconds, as long as a batch-64 layer, so
/// a helper that wakes late just finds no chunk left. Results must not depend on which thread
/// runs a chunk.
pub fn for_each_chunk(helpers: usize, chunks: usize, task: &(dyn Fn(usize) + Sync)) {
    // SAFETY: the lifetime is erased so pool threads can hold the task after this call returns,
    // but they only call it for a chunk they claimed while `Chunks::close` below was not yet done,
    // and `close` waits for every such call to finish before this function returns (or unwinds).
    let task: &'static (dyn Fn(usize) + Sync) = unsafe { std::mem::transmute(task) };
    let chunks = chunks.min(u32::MAX as usize);
    let shared = Arc::new(Chunks { task, unclaimed: AtomicU64::new((chunks as u64) << 32), active: AtomicUsize::new(0) });
    let pool = pool().read().pool.clone();
    for _ in 0..helpers.min(chunks.saturating_sub(1)) {
        let shared = shared.clone();
        pool.spawn(move || shared.work());
    }
    let _close = CloseOnDrop(&shared);
    while let Some(c) = shared.claim(End::Front) {
        (shared.task)(c);
    }
}

struct Chunks {
    task: &'static (dyn Fn(usize) + Sync),
    /// The chunks not yet claimed, front..back, as `back << 32 | front`.
    unclaimed: AtomicU64,
    /// Helpers between announcing a claim and finishing its chunk.
    active: AtomicUsize,
}

enum End {
    Front,
    Back,
}

impl Chunks {
    fn claim(&self, end: End) -> Option<usize> {
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

    /// A helper's loop. It announces itself in `active` before each claim, so `close` either sees
    /// it there or it finds nothing left to claim.
    fn work(&self) {
        loop {
            self.active.fetch_add(1, Ordering::SeqCst);
            let claimed = self.claim(End::Back);
            if let Some(c) = claimed {
                (self.task)(c);
            }
            self.active.fetch_sub(1, Ordering::SeqCst);
            if claimed.is_none() {
                return;
            }
        }
    }

    /// No chunk can be claimed after this; waits for helpers still running one.
    fn close(&self) {
        self.unclaimed.store(0, Ordering::SeqCst);
        // A running chunk takes microseconds: spin, then yield (under valgrind the threads
        // take turns, and a spinning caller would hold back the helper it waits for).
        let mut spins = 0u32;
        while self.active.load(Ordering::SeqCst) != 0 {
            if spins < 1000 {
                spins += 1;
                std::hint::spin_loop();
            } else {
                std::thread::yield_now();
            }
        }
    }
}

struct CloseOnDrop<'a>(&'a Chunks);

impl Drop for CloseOnDrop<'_> {
    fn drop(&mut self) {
        self.0.close();
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
