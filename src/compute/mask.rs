//! Selecting elements by a BOOL condition without recording: where and masked_fill's forward,
//! and their backward (which zeroes the gradient where the other side was taken).

use super::raw;
use crate::error::Result;
use crate::kernels::mask;
use crate::layout::Layout;
use crate::shape::{numel, Dims};
use crate::storage::{try_zeroed, DType, Element};
use crate::tensor::Tensor;

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
