//! Inputs and the check shared by the gradcheck test binaries (included with `#[path]`, after
//! `support/values.rs` as `support_values`). Each binary uses a subset, hence the allow.
#![allow(dead_code)]

use super::support_values::values;
use infer::gradcheck::{gradcheck, Tolerance};
use infer::{creation, Result, Tensor};

/// A leaf requiring grad with these values.
pub fn leaf(data: Vec<f32>, shape: &[usize]) -> Tensor {
    let t = creation::from_slice(&data, shape).unwrap();
    t.set_requires_grad(true).unwrap();
    t
}

/// An input requiring grad with values in [-1, 1).
pub fn x(shape: &[usize], seed: u64) -> Tensor {
    leaf(values(shape.iter().product(), seed), shape)
}

/// Values kept at least 0.2 away from 0 (for kinks at 0 and for divisors), in [-1.2, 1.2].
pub fn away_from_zero(shape: &[usize], seed: u64) -> Tensor {
    leaf(values(shape.iter().product(), seed).into_iter().map(|v| v + 0.2 * v.signum()).collect(), shape)
}

/// Values in [0.3, 1.3) (for log, sqrt, rsqrt and fractional powers).
pub fn positive(shape: &[usize], seed: u64) -> Tensor {
    leaf(values(shape.iter().product(), seed).into_iter().map(|v| 0.8 + v * 0.5).collect(), shape)
}

/// Distinct values at least 0.05 apart (no near-ties for max, max pooling, topk), shuffled.
pub fn distinct(shape: &[usize], seed: u64) -> Tensor {
    let n: usize = shape.iter().product();
    let keys = values(n, seed);
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by(|&a, &b| keys[a].total_cmp(&keys[b]));
    let mut data = vec![0f32; n];
    for (rank, &i) in order.iter().enumerate() {
        data[i] = rank as f32 * 0.05 - n as f32 * 0.025;
    }
    leaf(data, shape)
}

/// An I64 tensor (indices, targets) that does not require grad.
pub fn indices(data: &[i64], shape: &[usize]) -> Tensor {
    creation::from_slice(data, shape).unwrap()
}

/// A BOOL tensor (its elements are 0/1 bytes).
pub fn bools(v: &[u8], shape: &[usize]) -> Tensor {
    creation::from_slice(v, shape).unwrap()
}

/// Panics with gradcheck's report when the analytic and numeric gradients disagree.
pub fn check(f: impl Fn(&[Tensor]) -> Result<Tensor>, inputs: &[Tensor]) {
    if let Err(e) = gradcheck(f, inputs, Tolerance::default()) {
        panic!("{e}");
    }
}
