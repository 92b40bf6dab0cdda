//! Factories. Each new tensor is an inference tensor when made inside inference mode (I1).

use crate::autograd::mode;
use crate::error::{bail, Result};
use crate::layout::Layout;
use crate::ops::raw;
use crate::rng::with_rng;
use crate::shape::numel;
use crate::storage::{try_with_capacity, BlobDeleter, DType, Element, Storage};
use crate::tensor::Tensor;
use rand::Rng;
use rand_distr::{Distribution, StandardNormal};
use std::ffi::c_void;
use std::sync::Arc;

/// A tensor of `shape` with every element `value` (converted to `dtype`).
pub fn full(shape: &[usize], value: f64, dtype: DType) -> Result<Tensor> {
    if dtype == DType::I64 && !(value.is_finite() && value.abs() < 9.2e18) {
        bail!(InvalidArgument, "value {value} cannot be represented in an I64 tensor; pass a finite value within the int64 range");
    }
    raw::full(shape, value, dtype, mode::is_inference_enabled())
}

/// A tensor of `shape` filled with zeros.
pub fn zeros(shape: &[usize], dtype: DType) -> Result<Tensor> {
    full(shape, 0.0, dtype)
}

/// A tensor of `shape` filled with ones.
pub fn ones(shape: &[usize], dtype: DType) -> Result<Tensor> {
    full(shape, 1.0, dtype)
}

/// Copies `data` (row-major elements).
pub fn from_slice<T: Element>(data: &[T], shape: &[usize]) -> Result<Tensor> {
    Ok(from_vec(crate::storage::try_copy(data)?, shape))
}

/// Takes `data` (row-major elements, as many as `shape` holds) as the tensor's storage.
pub fn from_vec<T: Element>(data: Vec<T>, shape: &[usize]) -> Tensor {
    raw::from_vec(data, shape, mode::is_inference_enabled())
}

fn sample(shape: &[usize], draw: impl Fn(&mut rand::rngs::SmallRng) -> f32) -> Result<Tensor> {
    let n = numel(shape);
    let mut v = try_with_capacity(n)?;
    with_rng(|r| v.extend((0..n).map(|_| draw(r))));
    Ok(raw::from_vec(v, shape, mode::is_inference_enabled()))
}

/// Standard normal samples.
pub fn randn(shape: &[usize]) -> Result<Tensor> {
    sample(shape, |r| StandardNormal.sample(r))
}

/// Uniform samples in [0, 1).
pub fn rand(shape: &[usize]) -> Result<Tensor> {
    sample(shape, |r| r.random::<f32>())
}

/// Uniform samples in [-bound, bound), PyTorch's init for Linear and Conv.
pub fn uniform(shape: &[usize], bound: f32) -> Result<Tensor> {
    sample(shape, |r| (r.random::<f32>() * 2.0 - 1.0) * bound)
}

/// Wraps caller memory without copying.
///
/// # Safety
/// As `Storage::from_blob`: `data` valid, aligned and alive until the deleter runs.
pub unsafe fn from_blob(data: *mut c_void, shape: &[usize], dtype: DType, deleter: Option<BlobDeleter>, ctx: *mut c_void) -> Tensor {
    let storage = Storage::from_blob(data, numel(shape), dtype, deleter, ctx, mode::is_inference_enabled());
    Tensor::from_parts(Arc::new(storage), Layout::contiguous(shape), None, false)
}
