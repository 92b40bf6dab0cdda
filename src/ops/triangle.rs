//! triu / tril: the upper or lower triangle of the last two dims (batched), the rest zeroed.

use super::raw;
use super::record::Recorder;
use crate::autograd::functions::index::TriangleBackward;
use crate::error::{bail, Result};
use crate::shape::fmt_shape;
use crate::storage::{DType, Element};
use crate::tensor::Tensor;

/// Keeps element (i, j) of each matrix when j - i >= diagonal (upper) or j - i <= diagonal.
pub fn mask_triangle(t: &Tensor, upper: bool, diagonal: i64, inference: bool) -> Result<Tensor> {
    match t.dtype() {
        DType::F32 => mask_typed::<f32>(t, upper, diagonal, inference),
        DType::I64 => mask_typed::<i64>(t, upper, diagonal, inference),
        DType::Bool => mask_typed::<u8>(t, upper, diagonal, inference),
    }
}

fn mask_typed<T: Element + Default>(t: &Tensor, upper: bool, diagonal: i64, inference: bool) -> Result<Tensor> {
    let mut v = t.try_to_vec::<T>()?;
    let n = t.ndim();
    let (rows, cols) = (t.shape()[n - 2], t.shape()[n - 1]);
    for (e, x) in v.iter_mut().enumerate() {
        let (i, j) = (((e / cols.max(1)) % rows.max(1)) as i64, (e % cols.max(1)) as i64);
        let keep = if upper { j - i >= diagonal } else { j - i <= diagonal };
        if !keep {
            *x = T::default();
        }
    }
    Ok(raw::from_vec(v, t.shape(), inference))
}

fn triangle(t: &Tensor, diagonal: i64, upper: bool) -> Result<Tensor> {
    let op = if upper { "triu" } else { "tril" };
    if t.ndim() < 2 {
        bail!(Shape, "{op}: the input has shape {}, but it needs at least 2 dims (the matrix dims are the last two)", fmt_shape(t.shape()));
    }
    let rec = Recorder::new(&[t])?;
    let out = mask_triangle(t, upper, diagonal, rec.inference())?;
    Ok(rec.finish(out, || Box::new(TriangleBackward { upper, diagonal }), vec![]))
}

/// torch.triu(t, diagonal), any dtype.
pub fn triu(t: &Tensor, diagonal: i64) -> Result<Tensor> {
    triangle(t, diagonal, true)
}

/// torch.tril(t, diagonal), any dtype.
pub fn tril(t: &Tensor, diagonal: i64) -> Result<Tensor> {
    triangle(t, diagonal, false)
}
