//! torch.where and masked_fill (API.md 7.B): differentiable in the values they pick, never in
//! the BOOL mask, which is saved for backward (so rule I7 applies to it, as in PyTorch).

use super::raw::{self, broadcast_shape};
use super::record::Recorder;
use crate::autograd::functions::mask::{MaskedFillBackward, WhereBackward};
use crate::error::{bail, Result};
use crate::kernels::mask;
use crate::layout::Layout;
use crate::shape::{fmt_shape, numel, Dims};
use crate::storage::{try_zeroed, DType, Element};
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

/// What one side of a selection takes its elements from.
#[derive(Clone, Copy)]
pub enum Pick<'a> {
    Tensor(&'a Tensor),
    /// One value for every element, converted to the result's dtype.
    Value(f64),
}

/// A fresh tensor of `shape` and `dtype`: a where cond is true, b elsewhere (no recording).
/// The caller has checked dtypes and that every operand broadcasts to `shape`.
pub fn select(cond: &Tensor, a: Pick, b: Pick, shape: &[usize], dtype: DType, inference: bool) -> Result<Tensor> {
    match dtype {
        DType::F32 => select_typed::<f32>(cond, a, b, shape, inference, |v| v as f32),
        DType::I64 => select_typed::<i64>(cond, a, b, shape, inference, |v| v as i64),
        DType::Bool => select_typed::<u8>(cond, a, b, shape, inference, |v| (v != 0.0) as u8),
    }
}

fn select_typed<T: Element>(cond: &Tensor, a: Pick, b: Pick, shape: &[usize], inference: bool, cast: fn(f64) -> T) -> Result<Tensor> {
    // A value is one element read through all-zero strides.
    let scalar = Layout { shape: shape.into(), strides: Dims::from_elem(0, shape.len()), offset: 0 };
    let value = |p: Pick| [if let Pick::Value(v) = p { cast(v) } else { T::default() }];
    let (va, vb) = (value(a), value(b));
    let layout = |p: Pick| if let Pick::Tensor(t) = p { t.layout().expand(shape) } else { scalar.clone() };
    let (la, lb, lc) = (layout(a), layout(b), cond.layout().expand(shape));
    let da = if let Pick::Tensor(t) = a { t.storage().slice::<T>() } else { &va[..] };
    let db = if let Pick::Tensor(t) = b { t.storage().slice::<T>() } else { &vb[..] };
    let mut out = try_zeroed::<T>(numel(shape))?;
    mask::select(
        &mut out,
        shape,
        (cond.storage().slice::<u8>(), lc.offset, &lc.strides),
        (da, la.offset, &la.strides),
        (db, lb.offset, &lb.strides),
    );
    Ok(raw::from_vec(out, shape, inference))
}
