//! Ops that copy data into a new tensor: clone, contiguous, to (dtype), cat.

use super::raw;
use super::record::Recorder;
use crate::autograd::functions::views::ReshapeBackward;
use crate::autograd::node::Backward;
use crate::error::{bail, Result};
use crate::shape::{fmt_shape, wrap_dim, Dims};
use crate::storage::{try_with_capacity, DType, Element};
use crate::tensor::Tensor;

/// A new tensor with the same values; its kind follows the current mode (I1), so a clone made
/// outside inference mode is a normal tensor.
pub fn clone(t: &Tensor) -> Result<Tensor> {
    let rec = Recorder::new(&[t])?;
    let out = raw::contiguous_copy(t, rec.inference())?;
    let in_shape: Dims = t.shape().into();
    Ok(rec.finish(out, || Box::new(ReshapeBackward { in_shape }), vec![]))
}

/// The tensor itself when already contiguous (as PyTorch), else a recorded contiguous copy.
pub fn contiguous(t: &Tensor) -> Result<Tensor> {
    if t.is_contiguous() {
        Ok(t.clone())
    } else {
        clone(t)
    }
}

/// Converts the dtype as PyTorch's `.to`: F32 -> I64 truncates toward zero, to BOOL any nonzero
/// value (NaN included) is true, from BOOL gives 0 or 1. The same dtype returns the tensor itself.
pub fn to(t: &Tensor, dtype: DType) -> Result<Tensor> {
    if t.dtype() == dtype {
        return Ok(t.clone());
    }
    let inference = crate::autograd::mode::is_inference_enabled();
    let shape = t.shape();
    // try_data: gathering a strided input must report RT_ERR_OUT_OF_MEMORY, not abort.
    Ok(match (t.dtype(), dtype) {
        (DType::I64, DType::F32) => raw::from_vec(convert(&t.try_data::<i64>()?, |v| v as f32)?, shape, inference),
        (DType::Bool, DType::F32) => raw::from_vec(convert(&t.try_data::<u8>()?, |v| (v != 0) as u8 as f32)?, shape, inference),
        (DType::F32, DType::I64) => raw::from_vec(convert(&t.try_data::<f32>()?, |v| v as i64)?, shape, inference),
        (DType::Bool, DType::I64) => raw::from_vec(convert(&t.try_data::<u8>()?, |v| (v != 0) as i64)?, shape, inference),
        (DType::F32, DType::Bool) => raw::from_vec(convert(&t.try_data::<f32>()?, |v| (v != 0.0) as u8)?, shape, inference),
        (DType::I64, DType::Bool) => raw::from_vec(convert(&t.try_data::<i64>()?, |v| (v != 0) as u8)?, shape, inference),
        (DType::F32, DType::F32) | (DType::I64, DType::I64) | (DType::Bool, DType::Bool) => unreachable!("same dtype returned above"),
    })
}

fn convert<A: Copy, B>(src: &[A], f: impl Fn(A) -> B) -> Result<Vec<B>> {
    let mut v = try_with_capacity(src.len())?;
    v.extend(src.iter().map(|&x| f(x)));
    Ok(v)
}

/// Concatenation of tensors of one dtype along `dim` (`torch.cat`).
pub fn cat(ts: &[&Tensor], dim: i64) -> Result<Tensor> {
    let Some(first) = ts.first() else {
        bail!(InvalidArgument, "cat: the list of tensors is empty; pass at least one tensor");
    };
    let d = wrap_dim(dim, first.ndim(), "dim")?;
    if first.ndim() == 0 {
        bail!(Shape, "cat: 0-d tensors cannot be concatenated; unsqueeze them first");
    }
    // Every dtype before any shape: a dtype error wins over a shape error (API.md section 1).
    if let Some((i, t)) = ts.iter().enumerate().find(|(_, t)| t.dtype() != first.dtype()) {
        bail!(Dtype, "cat: tensor {i} is {} but tensor 0 is {}; convert with rt_tensor_to first", t.dtype().name(), first.dtype().name());
    }
    let mut total = 0usize;
    for (i, t) in ts.iter().enumerate() {
        let same_rank = t.ndim() == first.ndim();
        if !same_rank || t.shape().iter().zip(first.shape()).enumerate().any(|(j, (a, b))| j != d && a != b) {
            bail!(
                Shape,
                "cat: tensor {i} has shape {} but tensor 0 has {}; all sizes must match except in dim {dim}",
                fmt_shape(t.shape()),
                fmt_shape(first.shape())
            );
        }
        total = total.checked_add(t.shape()[d]).ok_or_else(|| crate::error::err!(OutOfMemory, "cat: the result is too large"))?;
    }
    let mut shape: Dims = first.shape().into();
    shape[d] = total;
    crate::shape::check_bounded(&shape, "cat")?;
    let rec = Recorder::new(ts)?;
    let out = match first.dtype() {
        DType::F32 => cat_typed::<f32>(ts, d, &shape, rec.inference())?,
        DType::I64 => cat_typed::<i64>(ts, d, &shape, rec.inference())?,
        DType::Bool => cat_typed::<u8>(ts, d, &shape, rec.inference())?,
    };
    let sizes: Vec<usize> = ts.iter().map(|t| t.shape()[d]).collect();
    Ok(rec.finish(out, || Box::new(CatBackward { shape, dim: d, sizes }), vec![]))
}

fn cat_typed<T: Element>(ts: &[&Tensor], d: usize, shape: &[usize], inference: bool) -> Result<Tensor> {
    let out = raw::full(shape, 0.0, T::DTYPE, inference)?;
    let mut start = 0;
    for t in ts {
        let len = t.shape()[d];
        raw::copy_into(&raw::alias(&out, out.layout().narrow(d, start, len)), t);
        start += len;
    }
    Ok(out)
}

/// cat: each input's gradient is its slice of dy along the dim.
struct CatBackward {
    shape: Dims,
    dim: usize,
    sizes: Vec<usize>,
}

impl Backward for CatBackward {
    fn name(&self) -> &'static str {
        "CatBackward"
    }

    fn apply(&self, g: &Tensor, _: &[Option<Tensor>]) -> Result<Vec<Option<Tensor>>> {
        let mut start = 0;
        let mut out = Vec::with_capacity(self.sizes.len());
        for &len in &self.sizes {
            out.push(Some(raw::alias(g, g.layout().narrow(self.dim, start, len))));
            start += len;
        }
        debug_assert_eq!(start, self.shape[self.dim]);
        Ok(out)
    }
}
