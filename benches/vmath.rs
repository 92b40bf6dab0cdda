//! Elements per CPU nanosecond of the elementwise and row kernels on one thread (the 256x1024
//! input of anchors.rs): a thread's own CPU time mostly holds when the neighbours' load swings
//! wall-clock times (see kernels.rs). `benches/compare_vmath.py` times ONNX Runtime the same way
//! and prints the ratios.
//!
//! `cargo bench --bench vmath` (honours `INFER_CPU`).

use infer::kernels::norm::{layer_forward, Affine};
use infer::kernels::simd::{as_uninit, isa, map_init, LaneFn};
use infer::kernels::{softmax, vmath};

const ROWS: usize = 256;
const COLS: usize = 1024;

/// CPU seconds this thread has run.
fn thread_cpu() -> f64 {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: a valid timespec to write into.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    ts.tv_sec as f64 + ts.tv_nsec as f64 * 1e-9
}

/// Median CPU seconds of `f` over 15 runs.
fn cpu_time(mut f: impl FnMut()) -> f64 {
    f();
    let mut t: Vec<f64> = (0..15)
        .map(|_| {
            let s = thread_cpu();
            f();
            thread_cpu() - s
        })
        .collect();
    t.sort_by(|a, b| a.partial_cmp(b).unwrap());
    t[7]
}

/// A deterministic spread of values in about [-4, 4] (standard-normal-like range).
fn input(n: usize) -> Vec<f32> {
    (0..n).map(|i| ((i as u32).wrapping_mul(2_654_435_761) >> 8) as f32 / (1 << 24) as f32 * 8.0 - 4.0).collect()
}

fn main() {
    infer::parallel::set_num_threads(1);
    let n = ROWS * COLS;
    let x = input(n);
    let positive: Vec<f32> = x.iter().map(|v| (v + 4.0) / 8.0).collect();
    let mut out = vec![0f32; n];
    let (mut mean, mut rstd) = (vec![0f32; ROWS], vec![0f32; ROWS]);
    let (w, b) = (input(COLS), input(COLS));
    println!("one thread, {} kernels, {ROWS} x {COLS}: ns per element (CPU time), three rounds", isa().name());
    let names = ["exp", "log", "gelu", "tanh", "sigmoid", "softmax", "layer_norm"];
    let mut rows: Vec<Vec<f64>> = vec![Vec::new(); names.len()];
    fn unary(out: &mut [f32], x: &[f32], f: &impl LaneFn) -> f64 {
        cpu_time(|| map_init(out, x, f))
    }
    for _ in 0..3 {
        let t = [
            unary(&mut out, &x, &vmath::Exp),
            unary(&mut out, &positive, &vmath::Ln),
            unary(&mut out, &x, &vmath::Gelu),
            unary(&mut out, &x, &vmath::Tanh),
            unary(&mut out, &x, &vmath::Sigmoid),
            cpu_time(|| softmax::forward(&mut out, &x, (ROWS, COLS, 1), false)),
            cpu_time(|| {
                let affine = Affine { weight: Some(&w), bias: Some(&b) };
                layer_forward(&x, COLS, 1e-5, affine, as_uninit(&mut out), &mut mean, &mut rstd)
            }),
        ];
        for (row, s) in rows.iter_mut().zip(t) {
            row.push(s * 1e9 / n as f64);
        }
    }
    for (name, v) in names.iter().zip(rows) {
        let cells: Vec<String> = v.iter().map(|t| format!("{t:7.3}")).collect();
        println!("{name:<12} {}", cells.join(" "));
    }
}
