//! The anchor workloads of the performance issue, timed through the C ABI (the same
//! `extern "C"` functions a C program calls) in grad, no_grad and inference mode.
//!
//! `cargo bench --bench anchors` prints a table; `-- --json` prints one JSON object per line for
//! benches/compare_ort.py. Medians over many runs; the machine is shared, so compare ratios.

use infer::ffi::mode::*;
use infer::ffi::module::*;
use infer::ffi::nn_ops::*;
use infer::ffi::ops::*;
use infer::ffi::runtime::*;
use infer::ffi::tensor::*;
use infer::ffi::types::*;
use std::time::{Duration, Instant};

fn ok(s: rt_status) {
    assert_eq!(s, RT_OK, "call failed with status {s}");
}

#[derive(Clone, Copy, PartialEq)]
enum Mode {
    Grad,
    NoGrad,
    Inference,
}

impl Mode {
    fn name(self) -> &'static str {
        match self {
            Mode::Grad => "grad",
            Mode::NoGrad => "no_grad",
            Mode::Inference => "inference",
        }
    }

    fn enter(self) {
        match self {
            Mode::Grad => {}
            Mode::NoGrad => ok(rt_grad_mode_enter(false)),
            Mode::Inference => ok(rt_inference_mode_enter(true)),
        }
    }

    fn exit(self) {
        match self {
            Mode::Grad => {}
            Mode::NoGrad => ok(rt_grad_mode_exit()),
            Mode::Inference => ok(rt_inference_mode_exit()),
        }
    }
}

/// Median seconds per call of `f`, timing batches so each sample lasts at least ~1 ms.
fn median_time(mut f: impl FnMut(), budget: Duration) -> f64 {
    let start = Instant::now();
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
    let mut samples = Vec::new();
    while start.elapsed() < budget || samples.len() < 11 {
        let t = Instant::now();
        for _ in 0..per_sample {
            f();
        }
        samples.push(t.elapsed().as_secs_f64() / per_sample as f64);
    }
    samples.sort_by(|a, b| a.partial_cmp(b).unwrap());
    samples[samples.len() / 2]
}

unsafe fn mlp(dims: &[i64]) -> *mut rt_module {
    let mut kids = Vec::new();
    for w in dims.windows(2) {
        let mut l = std::ptr::null_mut();
        ok(rt_module_linear(w[0], w[1], true, &mut l));
        kids.push(l);
        if kids.len() < 2 * (dims.len() - 1) - 1 {
            let mut r = std::ptr::null_mut();
            ok(rt_module_relu(&mut r));
            kids.push(r);
        }
    }
    let mut m = std::ptr::null_mut();
    ok(rt_module_sequential(kids.as_ptr(), kids.len(), &mut m));
    for k in kids {
        ok(rt_module_free(k));
    }
    ok(rt_module_train(m, false));
    m
}

unsafe fn randn(shape: &[i64]) -> *mut rt_tensor {
    let mut t = std::ptr::null_mut();
    ok(rt_tensor_randn(shape.as_ptr(), shape.len(), &mut t));
    t
}

unsafe fn time_forward(m: *mut rt_module, x: *mut rt_tensor, mode: Mode, budget: Duration) -> f64 {
    median_time(
        || {
            mode.enter();
            let mut out = std::ptr::null_mut();
            ok(rt_module_forward(m, x, &mut out));
            ok(rt_tensor_free(out));
            mode.exit();
        },
        budget,
    )
}

/// Shape of the elementwise and row-kernel workloads: a batch of 256 rows of 1024 features.
const ROWS: i64 = 256;
const COLS: i64 = 1024;

/// Median seconds of one op in inference mode, the result freed each time.
unsafe fn time_inference(op: impl Fn(*mut *mut rt_tensor) -> rt_status, budget: Duration) -> f64 {
    Mode::Inference.enter();
    let s = median_time(
        || {
            let mut out = std::ptr::null_mut();
            ok(op(&mut out));
            ok(rt_tensor_free(out));
        },
        budget,
    );
    Mode::Inference.exit();
    s
}

struct Row {
    workload: String,
    mode: &'static str,
    seconds: f64,
    flops: f64,
}

fn main() {
    let json = std::env::args().any(|a| a == "--json");
    let quick = std::env::args().any(|a| a == "--quick");
    let budget = Duration::from_millis(if quick { 200 } else { 1500 });
    let threads: usize = std::env::var("INFER_BENCH_THREADS").ok().and_then(|v| v.parse().ok()).unwrap_or(2);
    ok(rt_set_num_threads(threads));
    let mut rows = Vec::new();
    unsafe {
        let seed_mlp = mlp(&[784, 256, 10]);
        for batch in [1i64, 64, 1024] {
            let x = randn(&[batch, 784]);
            let flops = 2.0 * batch as f64 * (784.0 * 256.0 + 256.0 * 10.0);
            for mode in [Mode::Grad, Mode::NoGrad, Mode::Inference] {
                let s = time_forward(seed_mlp, x, mode, budget);
                rows.push(Row { workload: format!("mlp_784_256_10_b{batch}"), mode: mode.name(), seconds: s, flops });
            }
            ok(rt_tensor_free(x));
        }
        ok(rt_module_free(seed_mlp));

        let deep = mlp(&[1024; 9]);
        let x = randn(&[256, 1024]);
        let flops = 2.0 * 256.0 * 1024.0 * 1024.0 * 8.0;
        for mode in [Mode::Grad, Mode::NoGrad, Mode::Inference] {
            let s = time_forward(deep, x, mode, budget);
            rows.push(Row { workload: "deep_8x1024_b256".into(), mode: mode.name(), seconds: s, flops });
        }
        ok(rt_tensor_free(x));
        ok(rt_module_free(deep));

        let a = randn(&[512, 1024]);
        let b = randn(&[1024, 1024]);
        let flops = 2.0 * 512.0 * 1024.0 * 1024.0;
        let s = time_inference(|out| rt_tensor_matmul(a, b, out), budget);
        rows.push(Row { workload: "matmul_512x1024x1024".into(), mode: "inference", seconds: s, flops });
        ok(rt_tensor_free(a));
        ok(rt_tensor_free(b));

        // Elementwise and row kernels (issue #5 item 3), inference mode; "flops" counts elements.
        let x = randn(&[ROWS, COLS]);
        // log takes uniform [0, 1) values: negative ones would time its NaN path (libm's is slow).
        let mut positive = std::ptr::null_mut();
        ok(rt_tensor_rand([ROWS, COLS].as_ptr(), 2, &mut positive));
        let elems = (ROWS * COLS) as f64;
        type Unary = unsafe extern "C" fn(*const rt_tensor, *mut *mut rt_tensor) -> rt_status;
        let unary: [(&str, Unary); 5] = [
            ("exp", rt_tensor_exp),
            ("log", rt_tensor_log),
            ("gelu", rt_tensor_gelu),
            ("tanh", rt_tensor_tanh),
            ("sigmoid", rt_tensor_sigmoid),
        ];
        for (name, op) in unary {
            let input = if name == "log" { positive } else { x };
            let s = time_inference(|out| op(input, out), budget);
            rows.push(Row { workload: format!("{name}_{ROWS}x{COLS}"), mode: "inference", seconds: s, flops: elems });
        }
        let s = time_inference(|out| rt_tensor_softmax(x, -1, out), budget);
        rows.push(Row { workload: format!("softmax_{ROWS}x{COLS}"), mode: "inference", seconds: s, flops: elems });
        let (w, b) = (randn(&[COLS]), randn(&[COLS]));
        let s = time_inference(|out| rt_tensor_layer_norm(x, [COLS].as_ptr(), 1, w, b, 1e-5, out), budget);
        rows.push(Row { workload: format!("layer_norm_{ROWS}x{COLS}"), mode: "inference", seconds: s, flops: elems });
        for t in [x, positive, w, b] {
            ok(rt_tensor_free(t));
        }

        let a = randn(&[4]);
        let b = randn(&[4]);
        for mode in [Mode::Grad, Mode::NoGrad, Mode::Inference] {
            mode.enter();
            let s = median_time(
                || {
                    let mut out = std::ptr::null_mut();
                    ok(rt_tensor_add(a, b, &mut out));
                    ok(rt_tensor_free(out));
                },
                budget,
            );
            mode.exit();
            rows.push(Row { workload: "tiny_add_4".into(), mode: mode.name(), seconds: s, flops: 4.0 });
        }
        ok(rt_tensor_free(a));
        ok(rt_tensor_free(b));
    }
    if json {
        for r in &rows {
            println!(
                "{{\"workload\": \"{}\", \"mode\": \"{}\", \"seconds\": {:e}, \"flops\": {:e}}}",
                r.workload, r.mode, r.seconds, r.flops
            );
        }
    } else {
        println!("libinfer anchors, {threads} threads (median per call)");
        println!("{:<22} {:>10} {:>14} {:>10}", "workload", "mode", "time", "GFLOP/s (elementwise: Gelem/s)");
        for r in &rows {
            let t = if r.seconds < 1e-3 { format!("{:.2} us", r.seconds * 1e6) } else { format!("{:.3} ms", r.seconds * 1e3) };
            println!("{:<22} {:>10} {:>14} {:>10.1}", r.workload, r.mode, t, r.flops / r.seconds / 1e9);
        }
    }
}
