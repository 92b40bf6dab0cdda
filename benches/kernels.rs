//! GFLOP/s of the GEMM kernels per CPU second of the calling thread (one thread), against a
//! register-only FMA loop: on a shared machine wall-clock times swing with the neighbours' load,
//! while a thread's own CPU time mostly does not, so these ratios hold when anchors.rs's do not.
//!
//! `cargo bench --bench kernels [-- dense|conv]` (honours `INFER_CPU`); a word runs only that
//! group, so `perf record` sees one kernel.

use infer::kernels::conv::{forward, im2col, Geometry};
use infer::kernels::gemm::{gemm_slices_split, Mat};
use infer::kernels::linear_nt::{linear_nt_with, Epilogue, Rows};
use infer::kernels::packed_gemm::{gemm_prepacked, gemm_with, Operand, PackedB};
use infer::kernels::simd::{as_uninit, isa, Isa};

#[path = "support/fma_peak.rs"]
mod fma_peak;

/// CPU seconds this thread has run.
fn thread_cpu() -> f64 {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: a valid timespec to write into.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    ts.tv_sec as f64 + ts.tv_nsec as f64 * 1e-9
}

/// Median CPU seconds of `f` over 7 runs.
fn cpu_time(mut f: impl FnMut()) -> f64 {
    f();
    let mut t: Vec<f64> = (0..7)
        .map(|_| {
            let s = thread_cpu();
            f();
            thread_cpu() - s
        })
        .collect();
    t.sort_by(|a, b| a.partial_cmp(b).unwrap());
    t[3]
}

/// GFLOP per CPU second of the register-only FMA loop (see fma_peak.rs).
fn fma_peak() -> f64 {
    let passes = 20_000_000;
    let mut flops = 0.0;
    let secs = cpu_time(|| flops = fma_peak::run(passes));
    flops / secs / 1e9
}

fn main() {
    infer::parallel::set_num_threads(1);
    let only = std::env::args().skip(1).find(|a| a == "dense" || a == "conv");
    let runs = |group: &str| only.as_deref().is_none_or(|o| o == group);
    println!("one thread, {} kernels: GFLOP per CPU second, three rounds", isa().name());
    if isa() != Isa::Portable && runs("dense") {
        let cells: Vec<String> = (0..3).map(|_| format!("{:7.1}", fma_peak())).collect();
        println!("{:<44} {}", "FMA peak (register-only loop)", cells.join(" "));
    }
    // The anchors' dense layers: MLP 784-256 at batch 64 and 1024, the deep MLP's 1024-1024 at 256.
    if runs("dense") {
        for (m, n, k) in [(16, 256, 784), (32, 256, 784), (64, 256, 784), (1024, 256, 784), (256, 1024, 1024)] {
            dense(m, n, k);
        }
    }
    if runs("conv") {
        convolutions();
    }
}

/// x (m x k) · wᵀ (w n x k) by each kernel in turn, three rounds, so a change of the
/// neighbours' load shows as spread.
fn dense(m: usize, n: usize, k: usize) {
    let x: Vec<f32> = (0..m * k).map(|i| ((i * 7) % 13) as f32 * 0.1).collect();
    let w: Vec<f32> = (0..n * k).map(|i| ((i * 5) % 11) as f32 * 0.1).collect();
    let mut out = vec![0f32; m * n];
    let flops = 2.0 * (m * n * k) as f64;
    let a = Operand { ptr: x.as_ptr(), rs: k as isize, cs: 1 };
    let (wt, wr) = (Operand { ptr: w.as_ptr(), rs: 1, cs: k as isize }, Operand { ptr: w.as_ptr(), rs: n as isize, cs: 1 });
    // SAFETY: `wt` addresses w as a k x n matrix.
    let packed = unsafe { PackedB::new(isa(), k, n, wt) }.expect("room for the packed weight");
    let names = [
        "linear_nt x·wᵀ",
        "packed_gemm x·wᵀ (B strided)",
        "packed_gemm x·w (B rows)",
        "packed_gemm x·wᵀ (B prepacked)",
        "packing wᵀ alone (Gelem/s)",
    ];
    let mut rows: Vec<Vec<f64>> = vec![Vec::new(); names.len()];
    for _ in 0..3 {
        let s = cpu_time(|| {
            linear_nt_with(isa(), m, n, k, Rows { data: &x, stride: k }, Rows { data: &w, stride: k }, Epilogue::default(), &mut out)
        });
        rows[0].push(flops / s / 1e9);
        for (row, b) in [(1, wt), (2, wr)] {
            // SAFETY: the operands address m x k, k x n and m x n matrices inside the vectors.
            let s = cpu_time(|| unsafe { gemm_with(isa(), 1, m, n, k, out.as_mut_ptr(), n as isize, false, a, b) });
            rows[row].push(flops / s / 1e9);
        }
        // SAFETY: as above.
        let s = cpu_time(|| unsafe { gemm_prepacked(m, out.as_mut_ptr(), n as isize, a, &packed, None, false) });
        rows[3].push(flops / s / 1e9);
        // SAFETY: as above.
        let s = cpu_time(|| drop(unsafe { PackedB::new(isa(), k, n, wt) }));
        rows[4].push((n * k) as f64 / s / 1e9);
    }
    println!("{m} x {n} x {k}");
    for (name, v) in names.iter().zip(rows) {
        let cells: Vec<String> = v.iter().map(|g| format!("{g:7.1}")).collect();
        println!("  {name:<42} {}", cells.join(" "));
    }
}

/// One image of the convolutions, one thread: the materialised unfolding (im2col) then
/// the GEMM, against the implicit GEMM (B packed straight from the image) `forward` runs,
/// back to back in each round.
fn convolutions() {
    println!("one thread, one image: GFLOP per CPU second, im2col + GEMM / implicit GEMM, three rounds");
    for (name, c, hw, o, k, stride, pad) in [("stem 7x7/2 3->64 224", 3, 224, 64, 7, 2, 3), ("3x3 64->64 56", 64, 56, 64, 3, 1, 1)] {
        let ho = Geometry::out_size(hw, k, stride, pad).unwrap();
        let g = Geometry { c, h: hw, w: hw, kh: k, kw: k, stride, pad, ho, wo: ho };
        let (rows, npos) = (g.col_rows(), g.col_cols());
        let x: Vec<f32> = (0..c * hw * hw).map(|i| ((i * 7) % 13) as f32 * 0.1).collect();
        let w: Vec<f32> = (0..o * rows).map(|i| ((i * 5) % 11) as f32 * 0.1).collect();
        let (mut cols, mut out) = (vec![0f32; rows * npos], vec![0f32; o * npos]);
        let flops = 2.0 * (o * rows * npos) as f64;
        let lhs = Mat { data: &w, rs: rows, cs: 1 };
        let mut cells = Vec::new();
        for _ in 0..3 {
            let explicit = cpu_time(|| {
                im2col(&g, &x, &mut cols);
                gemm_slices_split(false, o, npos, rows, &mut out, npos, false, lhs, Mat { data: &cols, rs: npos, cs: 1 });
            });
            let implicit = cpu_time(|| forward(&g, 1, o, &x, (&w, None), None, false, 1, as_uninit(&mut out)));
            cells.push(format!("{:6.1} / {:5.1}", flops / explicit / 1e9, flops / implicit / 1e9));
        }
        println!("{name:<32} {}", cells.join("  "));
    }
}
