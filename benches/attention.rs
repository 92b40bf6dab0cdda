//! The fused attention anchor: rt_tensor_scaled_dot_product_attention on (1, 8, 512, 512, 64)
//! (batch, heads, L = S, E = Ev), inference mode, plain and causal, plus one training step
//! (forward with grad and backward), timed through the C ABI.
//!
//! `cargo bench --bench attention` prints a table; `-- --json` prints one JSON object per line
//! for benches/compare_attention.py, which times PyTorch's F.scaled_dot_product_attention in the
//! same run. Threads: INFER_BENCH_THREADS (default 2). Medians; the machine is shared.

use infer::ffi::attention::*;
use infer::ffi::autograd::*;
use infer::ffi::mode::*;
use infer::ffi::ops::*;
use infer::ffi::runtime::*;
use infer::ffi::tensor::*;
use infer::ffi::types::*;
use std::ptr::null_mut;
use std::time::{Duration, Instant};

fn ok(s: rt_status) {
    assert_eq!(s, RT_OK, "call failed with status {s}");
}

/// Median seconds per call of `f` over samples of at least ~1 ms, for about `budget`.
fn median_time(mut f: impl FnMut(), budget: Duration) -> f64 {
    let mut per_sample = 1usize;
    loop {
        let t = Instant::now();
        for _ in 0..per_sample {
            f();
        }
        if t.elapsed() >= Duration::from_millis(1) || per_sample >= 1 << 20 {
            break;
        }
        per_sample *= 2;
    }
    let (start, mut samples) = (Instant::now(), Vec::new());
    while start.elapsed() < budget || samples.len() < 11 {
        let t = Instant::now();
        for _ in 0..per_sample {
            f();
        }
        samples.push(t.elapsed().as_secs_f64() / per_sample as f64);
    }
    samples.sort_by(|a, b| a.total_cmp(b));
    samples[samples.len() / 2]
}

unsafe fn randn(shape: &[i64]) -> *mut rt_tensor {
    let mut t = null_mut();
    ok(rt_tensor_randn(shape.as_ptr(), shape.len(), &mut t));
    t
}

fn main() {
    let json = std::env::args().any(|a| a == "--json");
    let quick = std::env::args().any(|a| a == "--quick");
    let budget = Duration::from_millis(if quick { 300 } else { 2000 });
    let threads: usize = std::env::var("INFER_BENCH_THREADS").ok().and_then(|v| v.parse().ok()).unwrap_or(2);
    ok(rt_set_num_threads(threads));
    let (b, h, l, e) = (1i64, 8i64, 512i64, 64i64);
    let shape = [b, h, l, e];
    let mut rows = Vec::new();
    unsafe {
        let (q, k, v) = (randn(&shape), randn(&shape), randn(&shape));
        for causal in [false, true] {
            ok(rt_inference_mode_enter(true));
            let s = median_time(
                || {
                    let mut out = null_mut();
                    ok(rt_tensor_scaled_dot_product_attention(q, k, v, null_mut(), 0.0, causal, 0.0, false, &mut out));
                    ok(rt_tensor_free(out));
                },
                budget,
            );
            ok(rt_inference_mode_exit());
            let name = if causal { "sdpa_1x8x512x512x64_causal" } else { "sdpa_1x8x512x512x64" };
            rows.push((name, "inference", s));
        }
        for t in [q, k, v] {
            ok(rt_tensor_set_requires_grad(t, true));
        }
        let s = median_time(
            || {
                let (mut out, mut sum) = (null_mut(), null_mut());
                ok(rt_tensor_scaled_dot_product_attention(q, k, v, null_mut(), 0.0, false, 0.0, false, &mut out));
                ok(rt_tensor_sum(out, null_mut(), 0, false, &mut sum));
                ok(rt_tensor_backward(sum, null_mut(), false));
                ok(rt_tensor_free(sum));
                ok(rt_tensor_free(out));
            },
            budget,
        );
        rows.push(("sdpa_1x8x512x512x64", "train_step", s));
        for t in [q, k, v] {
            ok(rt_tensor_free(t));
        }
    }
    // q kᵀ and p v: 2 products of b h l l e multiply-adds.
    let flops = 4.0 * (b * h * l * l * e) as f64;
    for (workload, mode, s) in rows {
        if json {
            println!("{{\"workload\": \"{workload}\", \"mode\": \"{mode}\", \"seconds\": {s:e}, \"flops\": {flops:e}}}");
        } else {
            println!("{workload:<32} {mode:<10} {:>9.3} ms {:>7.1} GFLOP/s (forward)", s * 1e3, flops / s / 1e9);
        }
    }
}
