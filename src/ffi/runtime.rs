//! Threads and memory statistics (API.md section 5).

use super::{export, infallible, types::*};
use crate::{parallel, storage};

/// Sets the worker thread count (0 = one per core).
#[no_mangle]
pub extern "C" fn rt_set_num_threads(n: usize) -> rt_status {
    export!(rt_set_num_threads, [], {
        if n > 4096 {
            crate::error::bail!(InvalidArgument, "`n` = {n} threads is more than the 4096 supported");
        }
        parallel::set_num_threads(n);
        Ok(())
    })
}

#[no_mangle]
pub extern "C" fn rt_get_num_threads() -> usize {
    infallible(1, parallel::num_threads)
}

/// Process-wide live and peak bytes of tensor storage the library owns.
#[no_mangle]
pub unsafe extern "C" fn rt_memory_stats_get(out: *mut rt_memory_stats) -> rt_status {
    export!(rt_memory_stats_get, [out], {
        let s = storage::memory_stats();
        out.write(rt_memory_stats { live_bytes: s.live_bytes, peak_bytes: s.peak_bytes, alloc_count: s.alloc_count, reserved: [0; 5] });
        Ok(())
    })
}

/// peak := live.
#[no_mangle]
pub extern "C" fn rt_memory_reset_peak() {
    infallible((), storage::reset_peak)
}
