//! The library's private thread pool. Work is split across it only above a size threshold, so
//! small ops never pay for a pool entry; results do not depend on the thread count.

use parking_lot::RwLock;
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

pub fn num_threads() -> usize {
    pool().read().threads
}

/// Runs `f` inside the private pool (rayon calls in `f` use its threads).
pub fn install<R: Send>(f: impl FnOnce() -> R + Send) -> R {
    let pool = pool().read().pool.clone();
    pool.install(f)
}

/// Runs `f` on the calling thread with a scope whose spawned tasks go to the private pool, and
/// returns once they are all done. The caller works on its own share instead of sleeping while
/// the pool works, which saves a thread wake-up per call: on a virtual machine waking an idle
/// CPU costs tens of microseconds, as much as a batch-64 layer.
pub fn scope_here<'s, R>(f: impl FnOnce(&rayon::Scope<'s>) -> R) -> R {
    let pool = pool().read().pool.clone();
    pool.in_place_scope(f)
}

/// Below ~2M multiply-adds (tens of microseconds on one core) a GEMM is faster on the calling
/// thread than with the pool: measured on the batch-1 MLP, where 200k multiply-adds took 12 us on
/// one thread and 28 us split across two.
pub fn gemm_parallelism(m: usize, n: usize, k: usize) -> gemm::Parallelism {
    let threads = num_threads();
    if threads <= 1 || m.saturating_mul(n).saturating_mul(k) < 1 << 21 {
        gemm::Parallelism::None
    } else {
        gemm::Parallelism::Rayon(threads)
    }
}
