//! The rotary embedding's one fused pass, x cos + rotate_half(x) sin (or its transpose for the
//! gradient), over cos and sin broadcast to x, without recording.

use crate::error::Result;
use crate::kernels::rotary::{run, Pass, Rows};
use crate::layout::Layout;
use crate::shape::numel;
use crate::storage::{try_collect, try_written};
use crate::tensor::Tensor;

/// Row starts of `t` broadcast to `shape` (rows of its last dim) and its last dim's stride.
pub fn row_offsets(t: &Tensor, shape: &[usize]) -> Result<(Vec<usize>, usize)> {
    let l = t.layout().expand(shape);
    let n = shape.len() - 1;
    let lead = Layout { shape: shape[..n].into(), strides: l.strides[..n].into(), offset: l.offset };
    Ok((try_collect(numel(&shape[..n]), lead.offsets())?, l.strides[n]))
}

/// y (x's shape) of `pass` over `x` (the input, or the output gradient) with cos and sin.
pub fn rotate(x: &Tensor, cos: &Tensor, sin: &Tensor, pass: Pass) -> Result<Vec<f32>> {
    let shape = x.shape();
    let d = shape[shape.len() - 1];
    let (co, ccs) = row_offsets(cos, shape)?;
    let (so, scs) = row_offsets(sin, shape)?;
    let cos = Rows { data: cos.storage().slice::<f32>(), offsets: &co, cs: ccs };
    let sin = Rows { data: sin.storage().slice::<f32>(), offsets: &so, cs: scs };
    let xd = x.try_data::<f32>()?;
    // SAFETY: run writes every value of y (every row of d).
    unsafe { try_written(x.numel(), |y| run(&xd, d, cos, sin, pass, y)) }
}
