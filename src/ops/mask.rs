//! torch.where and masked_fill (API.md 7.B): differentiable in the values they pick, never in
//! the BOOL mask, which is saved for backward (so rule I7 applies to it, as in PyTorch).

use super::raw::broadcast_shape;
use super::record::Recorder;
use crate::autograd::functions::mask::{MaskedFillBackward, WhereBackward};
#[doc(hidden)] // the shared computations below ops/, not part of the Rust API
pub use crate::compute::mask::{select, Pick};
use crate::error::{bail, Result};
use crate::shape::fmt_shape;
use crate::storage::DType;
use crate::tensor::Tensor;

/// cond ? a : b elementwise, all three broadcast together. cond is BOOL; a and b share a dtype
/// (F32, I64 or BOOL), which the result has.
pub fn where_(cond: &Tensor, a: &Tensor, b: &Tensor) -> Result<Tensor> {
    cond.expect_dtype(DType::Bool, "cond")?;
    if a.dtype() != b.dtype() {
        bail!(Dtype, "where: a is {} but b is {}; both must have one dtype (convert with rt_tensor_to first)", a.describe(), b.describe());
    }
    let ab = broadcast_shape(a.shape(), b.shape(), "where")?;
    let shape = broadcast_shape(cond.shape(), &ab, "where")?;
    let rec = Recorder::new(&[cond, a, b])?;
    let saved = vec![rec.save(cond, "WhereBackward")?];
    let out = select(cond, Pick::Tensor(a), Pick::Tensor(b), &shape, a.dtype(), rec.inference())?;
    let needs = [rec.needs_grad(1), rec.needs_grad(2)];
    let (a_shape, b_shape) = (a.shape().into(), b.shape().into());
    Ok(rec.finish(out, || Box::new(WhereBackward { shape, a_shape, b_shape, needs }), saved))
}

/// t with `value` where mask is true; mask is BOOL and broadcasts to t's shape (the result's).
/// An I64 t needs a finite value within the int64 range (truncated, as rt_tensor_fill_inplace);
/// a BOOL t takes any nonzero value as true.
pub fn masked_fill(t: &Tensor, mask: &Tensor, value: f64) -> Result<Tensor> {
    mask.expect_dtype(DType::Bool, "mask")?;
    let fits = crate::shape::broadcast_shapes(t.shape(), mask.shape()).is_some_and(|s| s.as_slice() == t.shape());
    if !fits {
        bail!(
            Shape,
            "masked_fill: the mask of shape {} does not broadcast to the input's shape {}",
            fmt_shape(mask.shape()),
            fmt_shape(t.shape())
        );
    }
    if t.dtype() == DType::I64 && !(value.is_finite() && value.abs() < 9.2e18) {
        bail!(InvalidArgument, "masked_fill: value {value} cannot be stored in an I64 tensor; pass a finite value within the int64 range");
    }
    let rec = Recorder::new(&[t, mask])?;
    let saved = vec![rec.save(mask, "MaskedFillBackward")?];
    let out = select(mask, Pick::Value(value), Pick::Tensor(t), t.shape(), t.dtype(), rec.inference())?;
    Ok(rec.finish(out, || Box::new(MaskedFillBackward), saved))
}
