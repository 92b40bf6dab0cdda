//! The exp-family kernels as the run-time dispatch runs them (AVX-512, AVX2+FMA or portable,
//! lowered by `INFER_CPU`; `make check-isa` runs this file under each cap): accuracy against f64
//! over a dense sweep with subnormals, ±inf and NaN, and bit-identical results whatever the split
//! of a slice (the vector body and its remainder compute the same formula).

use infer::kernels::simd::{isa, map_init, LaneFn};
use infer::kernels::{softmax, vmath};

/// Distance in units in the last place between an f32 and the f64 truth.
fn ulps(got: f32, want: f64) -> f64 {
    let w = want as f32;
    if got == w || (got.is_nan() && want.is_nan()) {
        return 0.0;
    }
    let ulp = (f32::from_bits(w.abs().to_bits() + 1) - w.abs()) as f64;
    (got as f64 - want).abs() / ulp
}

/// Every 331st f32 bit pattern of either sign in [lo, hi], subnormals and zeros included.
fn sweep(lo: f32, hi: f32) -> Vec<f32> {
    (0..u32::MAX / 331)
        .map(|i| f32::from_bits(i * 331))
        .flat_map(|x| [x, -x])
        .filter(|x| (lo..=hi).contains(x))
        .chain([0.0, -0.0, f32::MIN_POSITIVE, f32::from_bits(1), -f32::from_bits(1)])
        .collect()
}

/// f over xs through the dispatched loop.
fn run(f: &impl LaneFn, xs: &[f32]) -> Vec<f32> {
    let mut out = vec![0f32; xs.len()];
    map_init(&mut out, xs, f);
    out
}

/// The worst ulp error of f against truth over xs (where the truth is above `tiny`).
fn worst(f: &impl LaneFn, xs: &[f32], truth: impl Fn(f64) -> f64, tiny: f64) -> f64 {
    xs.iter().zip(run(f, xs)).filter(|(&x, _)| truth(x as f64).abs() > tiny).map(|(&x, y)| ulps(y, truth(x as f64))).fold(0.0, f64::max)
}

fn sigmoid64(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}

fn gelu64(x: f64) -> f64 {
    if x >= 0.0 {
        x * (1.0 - 0.5 * libm::erfc(x / 2f64.sqrt()))
    } else {
        x * 0.5 * libm::erfc(-x / 2f64.sqrt())
    }
}

#[test]
fn exp_family_is_accurate_on_the_dispatched_path() {
    println!("kernels: {}", isa().name());
    let w = worst(&vmath::Exp, &sweep(-103.0, 88.7), f64::exp, 0.0);
    assert!(w <= 2.0, "exp: {w} ulp");
    let w = worst(&vmath::Sigmoid, &sweep(-80.0, 80.0), sigmoid64, 0.0);
    assert!(w <= 3.0, "sigmoid: {w} ulp");
    let w = worst(&vmath::Tanh, &sweep(-20.0, 20.0), f64::tanh, 0.0);
    assert!(w <= 3.0, "tanh: {w} ulp");
    let w = worst(&vmath::Silu, &sweep(-80.0, 80.0), |x| x * sigmoid64(x), 1e-37);
    assert!(w <= 4.0, "silu: {w} ulp");
    let w = worst(&vmath::Gelu, &sweep(-13.0, 50.0), gelu64, 1e-38);
    assert!(w <= 8.0, "gelu: {w} ulp");
}

#[test]
fn edges_on_the_dispatched_path() {
    let xs = [f32::INFINITY, f32::NEG_INFINITY, f32::NAN, 0.0, -0.0, 100.0, -200.0];
    let bits = |v: Vec<f32>| v.iter().map(|y| y.to_bits()).collect::<Vec<_>>();
    let exp = run(&vmath::Exp, &xs);
    assert_eq!((exp[0], exp[1], exp[3], exp[4], exp[5], exp[6]), (f32::INFINITY, 0.0, 1.0, 1.0, f32::INFINITY, 0.0));
    assert!(exp[2].is_nan());
    let tanh = run(&vmath::Tanh, &xs);
    assert_eq!(bits(tanh.clone())[3..5], [0f32.to_bits(), (-0f32).to_bits()]);
    assert_eq!((tanh[0], tanh[1], tanh[5], tanh[6]), (1.0, -1.0, 1.0, -1.0));
    let sig = run(&vmath::Sigmoid, &xs);
    assert_eq!((sig[0], sig[1], sig[3], sig[5], sig[6]), (1.0, 0.0, 0.5, 1.0, 0.0));
    let gelu = run(&vmath::Gelu, &xs);
    assert_eq!(gelu[0], f32::INFINITY);
    assert_eq!(bits(gelu.clone())[4], (-0f32).to_bits());
    for (name, v) in [("tanh", tanh), ("sigmoid", sig), ("gelu", gelu)] {
        assert!(v[2].is_nan(), "{name}(NaN)");
    }
}

#[test]
fn results_do_not_depend_on_the_split() {
    // 1000 values: whole, one at a time (the remainder path only), and in odd pieces.
    let xs: Vec<f32> = (0..1000).map(|i| (i as f32 * 0.731).sin() * 12.0).collect();
    fn check(f: &impl LaneFn, xs: &[f32], name: &str) {
        let whole = run(f, xs);
        let singles: Vec<f32> = xs.iter().flat_map(|&x| run(f, &[x])).collect();
        let pieces: Vec<f32> = xs.chunks(13).flat_map(|c| run(f, c)).collect();
        for (i, ((a, b), c)) in whole.iter().zip(&singles).zip(&pieces).enumerate() {
            assert!(a.to_bits() == b.to_bits() && a.to_bits() == c.to_bits(), "{name}({}): {a} {b} {c}", xs[i]);
        }
    }
    check(&vmath::Exp, &xs, "exp");
    check(&vmath::Sigmoid, &xs, "sigmoid");
    check(&vmath::Tanh, &xs, "tanh");
    check(&vmath::Gelu, &xs, "gelu");
    check(&vmath::Silu, &xs, "silu");
    check(&vmath::GeluTanh, &xs, "gelu_tanh");
    // softmax rows: a row alone and inside a batch give the same bits, at any length
    for n in [1, 7, 16, 17, 300, 1024] {
        let x: Vec<f32> = (0..4 * n).map(|i| (i as f32 * 0.37).cos() * 5.0).collect();
        let mut batch = vec![0f32; 4 * n];
        softmax::forward(&mut batch, &x, (4, n, 1), false);
        for r in 0..4 {
            let mut one = vec![0f32; n];
            softmax::forward(&mut one, &x[r * n..(r + 1) * n], (1, n, 1), false);
            assert!(one.iter().zip(&batch[r * n..]).all(|(a, b)| a.to_bits() == b.to_bits()), "softmax row {r} of {n}");
            let sum: f64 = one.iter().map(|&v| v as f64).sum();
            assert!((sum - 1.0).abs() < 1e-5, "softmax row sums to {sum}");
        }
    }
}
