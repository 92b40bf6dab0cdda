//! The anchor workloads of the performance issue, timed through the C ABI (the same
//! `extern "C"` functions a C program calls) in grad, no_grad and inference mode.
//!
//! `cargo bench --bench anchors` prints a table; `-- --json` prints one JSON object per line for
//! benches/compare_ort.py; `-- --only=NAME[,NAME...]` times only those workloads. Medians over
//! many runs; the machine is shared, so compare ratios.

use infer::ffi::autograd::*;
use infer::ffi::layers::*;
use infer::ffi::mode::*;
use infer::ffi::module::*;
use infer::ffi::nn_ops::*;
use infer::ffi::ops::*;
use infer::ffi::optim::*;
use infer::ffi::runtime::*;
use infer::ffi::tensor::*;
use infer::ffi::types::*;
use std::time::{Duration, Instant};

#[path = "support/fma_peak.rs"]
mod fma_peak;

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

unsafe fn sequential(kids: &[*mut rt_module]) -> *mut rt_module {
    let mut m = std::ptr::null_mut();
    ok(rt_module_sequential(kids.as_ptr(), kids.len(), &mut m));
    for &k in kids {
        ok(rt_module_free(k));
    }
    m
}

unsafe fn module(make: impl FnOnce(*mut *mut rt_module) -> rt_status) -> *mut rt_module {
    let mut m = std::ptr::null_mut();
    ok(make(&mut m));
    m
}

/// examples_c/digits.c's CNN on 8 x 8 images: two Conv2d(3x3, pad 1) + BatchNorm2d + ReLU
/// blocks (1 -> 16 -> 32 channels), max pooling, Linear(512, 10).
unsafe fn digits_cnn() -> *mut rt_module {
    sequential(&[
        module(|o| rt_module_conv2d(1, 16, 3, 1, 1, true, o)),
        module(|o| rt_module_batch_norm2d(16, 1e-5, 0.1, o)),
        module(|o| rt_module_relu(o)),
        module(|o| rt_module_conv2d(16, 32, 3, 1, 1, true, o)),
        module(|o| rt_module_batch_norm2d(32, 1e-5, 0.1, o)),
        module(|o| rt_module_relu(o)),
        module(|o| rt_module_max_pool2d(2, 2, o)),
        module(|o| rt_module_flatten(1, -1, o)),
        module(|o| rt_module_linear(32 * 4 * 4, 10, true, o)),
    ])
}

/// Conv2d(c, c, 3x3, pad 1, no bias) + BatchNorm2d: half of a ResNet basic block.
unsafe fn conv_bn(c: i64) -> [*mut rt_module; 2] {
    [module(|o| rt_module_conv2d(c, c, 3, 1, 1, false, o)), module(|o| rt_module_batch_norm2d(c, 1e-5, 0.1, o))]
}

/// ResNet's basic block in eval mode: relu(bn(conv(relu(bn(conv(x))))) + x).
unsafe fn resnet_block(first: *mut rt_module, second: *mut rt_module, x: *mut rt_tensor) -> *mut rt_tensor {
    let (mut h, mut y, mut sum, mut out) = (std::ptr::null_mut(), std::ptr::null_mut(), std::ptr::null_mut(), std::ptr::null_mut());
    ok(rt_module_forward(first, x, &mut h));
    ok(rt_module_forward(second, h, &mut y));
    ok(rt_tensor_add(y, x, &mut sum));
    ok(rt_tensor_relu(sum, &mut out));
    for t in [h, y, sum] {
        ok(rt_tensor_free(t));
    }
    out
}

/// Class labels 0..10 for a batch, as int64.
unsafe fn labels(batch: usize) -> *mut rt_tensor {
    let ys: Vec<i64> = (0..batch as i64).map(|i| (i * 7) % 10).collect();
    let mut t = std::ptr::null_mut();
    ok(rt_tensor_from_data(ys.as_ptr().cast(), ys.len() * 8, RT_DTYPE_I64, [batch as i64].as_ptr(), 1, &mut t));
    t
}

/// One training step as a C program runs it: zero the gradients, forward, cross-entropy,
/// backward, optimizer step.
unsafe fn train_step(m: *mut rt_module, opt: *mut rt_optimizer, x: *mut rt_tensor, y: *mut rt_tensor) {
    let (mut logits, mut loss) = (std::ptr::null_mut(), std::ptr::null_mut());
    ok(rt_optimizer_zero_grad(opt));
    ok(rt_module_forward(m, x, &mut logits));
    ok(rt_tensor_cross_entropy(logits, y, &mut loss));
    ok(rt_tensor_backward(loss, std::ptr::null(), false));
    ok(rt_optimizer_step(opt));
    ok(rt_tensor_free(logits));
    ok(rt_tensor_free(loss));
}

/// The convolution and training workloads of the performance issue (issue 14), inference mode
/// and eval mode for the forward ones; "flops" counts the convolutions' multiply-adds twice.
unsafe fn conv_and_training(rows: &mut Rows, budget: Duration) {
    let cnn = digits_cnn();
    ok(rt_module_train(cnn, false));
    let x = randn(&[64, 1, 8, 8]);
    let cnn_flops = 2.0 * 64.0 * 64.0 * (16.0 * 9.0 + 32.0 * 16.0 * 9.0);
    rows.time("cnn_digits_b64", "inference", cnn_flops, || time_forward(cnn, x, Mode::Inference, budget));

    let (c, hw, batch) = (64i64, 56i64, 8i64);
    let [conv1, bn1] = conv_bn(c);
    let first = sequential(&[conv1, bn1, module(|o| rt_module_relu(o))]);
    let second = sequential(&conv_bn(c));
    for m in [first, second] {
        ok(rt_module_train(m, false));
    }
    let xr = randn(&[batch, c, hw, hw]);
    let flops = 2.0 * 2.0 * (batch * c * c * 9 * hw * hw) as f64;
    rows.time("resnet_block_64c_56_b8", "inference", flops, || {
        Mode::Inference.enter();
        let s = median_time(|| ok(rt_tensor_free(resnet_block(first, second, xr))), budget);
        Mode::Inference.exit();
        s
    });
    for m in [first, second] {
        ok(rt_module_free(m));
    }
    ok(rt_tensor_free(xr));

    let stem = module(|o| rt_module_conv2d(3, 64, 7, 2, 3, false, o));
    let xs = randn(&[1, 3, 224, 224]);
    let flops = 2.0 * (64 * 3 * 49 * 112 * 112) as f64;
    rows.time("stem_7x7s2_3to64_224_b1", "inference", flops, || time_forward(stem, xs, Mode::Inference, budget));
    ok(rt_module_free(stem));
    ok(rt_tensor_free(xs));

    // Training: forward + loss + backward (about 3x the forward's products) + optimizer step.
    let y = labels(64);
    let m = mlp(&[784, 256, 10]);
    ok(rt_module_train(m, true));
    let mut opt = std::ptr::null_mut();
    ok(rt_optimizer_sgd(m, 0.01, 0.0, 0.0, &mut opt));
    let xm = randn(&[64, 784]);
    let flops = 3.0 * 2.0 * 64.0 * (784.0 * 256.0 + 2560.0);
    rows.time("train_mlp_784_256_10_sgd_b64", "grad", flops, || median_time(|| train_step(m, opt, xm, y), budget));
    ok(rt_optimizer_free(opt));
    ok(rt_module_free(m));
    ok(rt_tensor_free(xm));

    ok(rt_module_train(cnn, true));
    let mut opt = std::ptr::null_mut();
    ok(rt_optimizer_adam(cnn, 1e-3, 0.9, 0.999, 1e-8, 0.0, &mut opt));
    let flops = 3.0 * cnn_flops;
    rows.time("train_cnn_digits_adam_b64", "grad", flops, || median_time(|| train_step(cnn, opt, x, y), budget));
    ok(rt_optimizer_free(opt));
    ok(rt_module_free(cnn));
    ok(rt_tensor_free(x));
    ok(rt_tensor_free(y));
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

/// The timed rows, and which workloads to time: `--only=NAME[,NAME...]` (exact workload names)
/// times just those, so benches/compare_ort.py can run each row back to back with the other
/// engines'; all of them without it.
struct Rows {
    rows: Vec<Row>,
    only: Option<Vec<String>>,
}

impl Rows {
    /// Runs `time` (which returns the median seconds per call) when `workload` is wanted.
    fn time(&mut self, workload: &str, mode: &'static str, flops: f64, time: impl FnOnce() -> f64) {
        if self.only.as_ref().is_none_or(|only| only.iter().any(|w| w == workload)) {
            let seconds = time();
            self.rows.push(Row { workload: workload.into(), mode, seconds, flops });
        }
    }
}

fn main() {
    let json = std::env::args().any(|a| a == "--json");
    let quick = std::env::args().any(|a| a == "--quick");
    let budget = Duration::from_millis(if quick { 200 } else { 1500 });
    let threads: usize = std::env::var("INFER_BENCH_THREADS").ok().and_then(|v| v.parse().ok()).unwrap_or(2);
    ok(rt_set_num_threads(threads));
    let only = std::env::args().find_map(|a| a.strip_prefix("--only=").map(|w| w.split(',').map(String::from).collect()));
    let mut rows = Rows { rows: Vec::new(), only };
    // The dense rows' yardstick: the FMA peak of this many threads at once, measured in this run
    // (its row's "time" is the seconds per GFLOP, so its GFLOP/s column is the peak).
    if infer::kernels::simd::isa() != infer::kernels::simd::Isa::Portable {
        rows.time(&format!("fma_peak_{threads}t"), "inference", 1e9, || 1.0 / fma_peak::gflops(threads));
    }
    unsafe {
        let seed_mlp = mlp(&[784, 256, 10]);
        for batch in [1i64, 64, 1024] {
            let x = randn(&[batch, 784]);
            let flops = 2.0 * batch as f64 * (784.0 * 256.0 + 256.0 * 10.0);
            for mode in [Mode::Grad, Mode::NoGrad, Mode::Inference] {
                rows.time(&format!("mlp_784_256_10_b{batch}"), mode.name(), flops, || time_forward(seed_mlp, x, mode, budget));
            }
            ok(rt_tensor_free(x));
        }
        ok(rt_module_free(seed_mlp));

        let deep = mlp(&[1024; 9]);
        let x = randn(&[256, 1024]);
        let flops = 2.0 * 256.0 * 1024.0 * 1024.0 * 8.0;
        for mode in [Mode::Grad, Mode::NoGrad, Mode::Inference] {
            rows.time("deep_8x1024_b256", mode.name(), flops, || time_forward(deep, x, mode, budget));
        }
        ok(rt_tensor_free(x));
        ok(rt_module_free(deep));

        let a = randn(&[512, 1024]);
        let b = randn(&[1024, 1024]);
        let flops = 2.0 * 512.0 * 1024.0 * 1024.0;
        rows.time("matmul_512x1024x1024", "inference", flops, || time_inference(|out| rt_tensor_matmul(a, b, out), budget));
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
            rows.time(&format!("{name}_{ROWS}x{COLS}"), "inference", elems, || time_inference(|out| op(input, out), budget));
        }
        rows.time(&format!("softmax_{ROWS}x{COLS}"), "inference", elems, || time_inference(|out| rt_tensor_softmax(x, -1, out), budget));
        let (w, b) = (randn(&[COLS]), randn(&[COLS]));
        let layer_norm = || time_inference(|out| rt_tensor_layer_norm(x, [COLS].as_ptr(), 1, w, b, 1e-5, out), budget);
        rows.time(&format!("layer_norm_{ROWS}x{COLS}"), "inference", elems, layer_norm);
        for t in [x, positive, w, b] {
            ok(rt_tensor_free(t));
        }

        conv_and_training(&mut rows, budget);

        let a = randn(&[4]);
        let b = randn(&[4]);
        for mode in [Mode::Grad, Mode::NoGrad, Mode::Inference] {
            rows.time("tiny_add_4", mode.name(), 4.0, || {
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
                s
            });
        }
        ok(rt_tensor_free(a));
        ok(rt_tensor_free(b));
    }
    if json {
        for r in &rows.rows {
            println!(
                "{{\"workload\": \"{}\", \"mode\": \"{}\", \"seconds\": {:e}, \"flops\": {:e}}}",
                r.workload, r.mode, r.seconds, r.flops
            );
        }
    } else {
        println!("libinfer anchors, {threads} threads (median per call)");
        println!("{:<22} {:>10} {:>14} {:>10}", "workload", "mode", "time", "GFLOP/s (elementwise: Gelem/s)");
        for r in &rows.rows {
            let t = if r.seconds < 1e-3 { format!("{:.2} us", r.seconds * 1e6) } else { format!("{:.3} ms", r.seconds * 1e3) };
            println!("{:<22} {:>10} {:>14} {:>10.1}", r.workload, r.mode, t, r.flops / r.seconds / 1e9);
        }
    }
}
