//! softmax and log_softmax along one dim (numerically stable: the max is subtracted first).

use super::raw;
use super::record::Recorder;
use crate::autograd::functions::softmax::SoftmaxBackward;
use crate::autograd::node::Backward;
use crate::error::Result;
use crate::kernels::softmax as kernel;
use crate::shape::{numel, wrap_dim};
use crate::storage::{try_with_capacity, DType};
use crate::tensor::Tensor;

/// `shape` seen as (outer, shape[dim], inner); a 0-d tensor is one element.
pub(crate) fn split_at(shape: &[usize], dim: usize) -> (usize, usize, usize) {
    if shape.is_empty() {
        return (1, 1, 1);
    }
    (numel(&shape[..dim]), shape[dim], numel(&shape[dim + 1..]))
}

fn run(t: &Tensor, dim: i64, log: bool) -> Result<Tensor> {
    t.expect_dtype(DType::F32, "the input")?;
    let d = wrap_dim(dim, t.ndim(), "dim")?;
    let split = split_at(t.shape(), d);
    let rec = Recorder::new(&[t])?;
    let mut out = try_with_capacity(t.numel())?;
    kernel::forward_into(&mut out, &t.try_data::<f32>()?, split, log);
    let out = raw::from_vec(out, t.shape(), rec.inference());
    let backward = SoftmaxBackward { split, log };
    // Both derivatives are cheapest in the output, which is a fresh normal tensor when recording.
    let saved = vec![rec.save(&out, backward.name())?];
    Ok(rec.finish(out, || Box::new(backward), saved))
}

/// Softmax along `dim`.
pub fn softmax(t: &Tensor, dim: i64) -> Result<Tensor> {
    run(t, dim, false)
}

/// Log of the softmax along `dim`, computed stably.
pub fn log_softmax(t: &Tensor, dim: i64) -> Result<Tensor> {
    run(t, dim, true)
}
