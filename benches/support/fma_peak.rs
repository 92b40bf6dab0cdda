//! The machine's FMA peak, measured: a register-only loop of independent fused multiply-add
//! chains in the widest vectors the kernels run (`INFER_CPU` caps it as it caps them), the most
//! a core's FMA units do. A dense kernel's GFLOP/s is read against this, not against a data
//! sheet: on a virtual machine the second vCPU rarely adds a full core's worth.

use infer::kernels::simd::{isa, Isa};

/// Multiply-adds per loop pass: 12 chains of `lanes` lanes, enough to cover the FMA latency on
/// both ports.
const CHAINS: usize = 12;

/// Floating-point operations of one pass of the loop in the kernels' ISA (0 when the kernels run
/// portable code: there is no FMA peak to measure).
fn flops_per_pass() -> usize {
    match isa() {
        Isa::Avx512 => CHAINS * 32,
        Isa::Avx2Fma => CHAINS * 16,
        Isa::Portable => 0,
    }
}

/// Runs `passes` passes of the loop on the calling thread; returns the floating-point operations
/// done.
pub fn run(passes: u64) -> f64 {
    #[cfg(target_arch = "x86_64")]
    {
        // SAFETY: isa() reports only what this CPU runs.
        match isa() {
            Isa::Avx512 => unsafe { x86::avx512(passes) },
            Isa::Avx2Fma => unsafe { x86::avx2(passes) },
            Isa::Portable => {}
        }
    }
    passes as f64 * flops_per_pass() as f64
}

/// GFLOP/s of `threads` threads running the loop at once (wall time, median of three): the
/// peak that a kernel split across the pool's `threads` threads is measured against.
#[allow(dead_code)] // kernels.rs times one thread by its CPU time, with `run`
pub fn gflops(threads: usize) -> f64 {
    let passes = 20_000_000u64;
    let mut samples: Vec<f64> = (0..3)
        .map(|_| {
            let start = std::time::Instant::now();
            let flops: f64 = std::thread::scope(|s| {
                let handles: Vec<_> = (0..threads).map(|_| s.spawn(|| run(passes))).collect();
                handles.into_iter().map(|h| h.join().expect("the FMA loop")).sum()
            });
            flops / start.elapsed().as_secs_f64() / 1e9
        })
        .collect();
    samples.sort_by(f64::total_cmp);
    samples[1]
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use super::CHAINS;
    use std::arch::x86_64::*;

    #[target_feature(enable = "avx2,fma")]
    pub unsafe fn avx2(passes: u64) {
        let (a, b) = std::hint::black_box((_mm256_set1_ps(0.999), _mm256_set1_ps(0.001)));
        let mut acc = [_mm256_set1_ps(1.0); CHAINS];
        for _ in 0..std::hint::black_box(passes) {
            for r in acc.iter_mut() {
                *r = _mm256_fmadd_ps(*r, a, b);
            }
        }
        std::hint::black_box(acc);
    }

    #[target_feature(enable = "avx512f")]
    pub unsafe fn avx512(passes: u64) {
        let (a, b) = std::hint::black_box((_mm512_set1_ps(0.999), _mm512_set1_ps(0.001)));
        let mut acc = [_mm512_set1_ps(1.0); CHAINS];
        for _ in 0..std::hint::black_box(passes) {
            for r in acc.iter_mut() {
                *r = _mm512_fmadd_ps(*r, a, b);
            }
        }
        std::hint::black_box(acc);
    }
}
