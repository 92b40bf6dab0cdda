//! sum and mean over any set of dims (keepdim as in PyTorch), argmax.

use super::raw;
use super::record::Recorder;
use crate::autograd::functions::reduce::SumBackward;
use crate::error::{bail, Result};
use crate::layout::Layout;
use crate::shape::{reduction_dims, wrap_dim, Dims};
use crate::storage::{try_filled, DType};
use crate::tensor::Tensor;

fn reduce(t: &Tensor, dims: &[i64], keepdim: bool, mean: bool) -> Result<Tensor> {
    t.expect_dtype(DType::F32, "the input")?;
    let mask = reduction_dims(dims, t.ndim())?;
    let count: usize = t.shape().iter().zip(&mask).filter(|(_, &m)| m).map(|(&d, _)| d).product();
    let rec = Recorder::new(&[t])?;
    let out = raw::sum_mask(t, &mask, keepdim, rec.inference())?;
    let scale = if mean { 1.0 / count as f32 } else { 1.0 };
    if mean {
        // SAFETY: `out` is a fresh tensor nobody else holds yet.
        for v in unsafe { out.storage().slice_mut::<f32>() } {
            *v *= scale;
        }
    }
    let keep_shape: Dims = t.shape().iter().zip(&mask).map(|(&d, &m)| if m { 1 } else { d }).collect();
    let in_shape = t.shape().into();
    let name = if mean { "MeanBackward" } else { "SumBackward" };
    Ok(rec.finish(out, || Box::new(SumBackward { name, keep_shape, in_shape, scale }), vec![]))
}

/// Sum over `dims` (all dimensions when empty), keeping them as size 1 with `keepdim`.
pub fn sum(t: &Tensor, dims: &[i64], keepdim: bool) -> Result<Tensor> {
    reduce(t, dims, keepdim, false)
}

/// Mean over `dims` (all dimensions when empty), keeping them as size 1 with `keepdim`.
pub fn mean(t: &Tensor, dims: &[i64], keepdim: bool) -> Result<Tensor> {
    reduce(t, dims, keepdim, true)
}

/// Index of the first maximum along `dim` (I64, never requires grad).
pub fn argmax(t: &Tensor, dim: i64, keepdim: bool) -> Result<Tensor> {
    t.expect_dtype(DType::F32, "the input")?;
    let d = wrap_dim(dim, t.ndim(), "dim")?;
    let inference = crate::autograd::mode::is_inference_enabled();
    if t.ndim() == 0 {
        return raw::full(&[], 0.0, DType::I64, inference);
    }
    if t.shape()[d] == 0 {
        bail!(InvalidArgument, "argmax: dim {dim} has size 0, so there is no maximum; pass a non-empty dimension");
    }
    let mut perm: Vec<usize> = (0..t.ndim()).filter(|&i| i != d).collect();
    perm.push(d);
    let l = t.layout().permute(&perm);
    let rows = t.numel() / t.shape()[d];
    let mut out = try_filled(rows, 0i64)?;
    crate::kernels::reduce::argmax_rows(&mut out, &l.shape, t.storage().slice::<f32>(), (l.offset, &l.strides));
    let mut shape: Dims = t.shape().into();
    if keepdim {
        shape[d] = 1;
    } else {
        shape.remove(d);
    }
    let out = raw::from_vec(out, &[rows], inference);
    Ok(raw::alias(&out, Layout::contiguous(&shape)))
}
