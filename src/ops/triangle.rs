//! triu / tril: the upper or lower triangle of the last two dims (batched), the rest zeroed.

use super::record::Recorder;
use crate::autograd::functions::index::TriangleBackward;
use crate::compute::triangle::mask_triangle;
use crate::error::{bail, Result};
use crate::shape::fmt_shape;
use crate::tensor::Tensor;

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
