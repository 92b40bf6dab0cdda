//! Tensor-level computations that never record: the forward kernels of the dispatch layer and the
//! building blocks of derivatives. Outputs are fresh contiguous tensors of the given kind.

use crate::error::{bail, Result};
use crate::kernels::simd::{LaneFn, LaneFn2};
use crate::kernels::{elementwise, reduce};
use crate::layout::contiguous_strides;
use crate::layout::Layout;
use crate::recycle;
use crate::shape::{broadcast_shapes, fmt_shape, numel, Dims};
use crate::storage::{try_filled, try_with_capacity, try_zeroed, window, DType, Element, Storage};
use crate::tensor::Tensor;
use std::sync::Arc;

pub fn from_vec<T: Element>(data: Vec<T>, shape: &[usize], inference: bool) -> Tensor {
    Tensor::from_vec(data, shape, inference)
}

pub fn full(shape: &[usize], value: f64, dtype: DType, inference: bool) -> Result<Tensor> {
    let n = numel(shape);
    Ok(match dtype {
        DType::F32 => from_vec(try_filled(n, value as f32)?, shape, inference),
        DType::I64 => from_vec(try_filled(n, value as i64)?, shape, inference),
        // As torch.full(..., dtype=torch.bool): any nonzero value (NaN included) is true.
        DType::Bool => from_vec(try_filled(n, (value != 0.0) as u8)?, shape, inference),
    })
}

/// A view of `t`'s storage with another layout and no autograd history.
pub fn alias(t: &Tensor, layout: Layout) -> Tensor {
    Tensor::from_parts(t.storage().clone(), layout, None, false)
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BinOp {
    Add,
    Sub,
    Mul,
    Div,
}

impl BinOp {
    pub fn name(self) -> &'static str {
        match self {
            BinOp::Add => "add",
            BinOp::Sub => "sub",
            BinOp::Mul => "mul",
            BinOp::Div => "div",
        }
    }

    pub fn backward_name(self) -> &'static str {
        match self {
            BinOp::Add => "AddBackward",
            BinOp::Sub => "SubBackward",
            BinOp::Mul => "MulBackward",
            BinOp::Div => "DivBackward",
        }
    }
}

pub fn broadcast_shape(a: &[usize], b: &[usize], op: &str) -> Result<Dims> {
    match broadcast_shapes(a, b) {
        Some(s) => crate::shape::check_bounded(&s, op).map(|_| s),
        None => {
            bail!(Shape, "{op}: shapes {} and {} cannot broadcast (trailing dimensions must be equal or 1)", fmt_shape(a), fmt_shape(b))
        }
    }
}

/// Elementwise a (op) b with broadcasting, both F32.
pub fn binary(a: &Tensor, b: &Tensor, op: BinOp, inference: bool) -> Result<Tensor> {
    match op {
        BinOp::Add => binary_with(a, b, inference, op.name(), |x, y| x + y),
        BinOp::Sub => binary_with(a, b, inference, op.name(), |x, y| x - y),
        BinOp::Mul => binary_with(a, b, inference, op.name(), |x, y| x * y),
        BinOp::Div => binary_with(a, b, inference, op.name(), |x, y| x / y),
    }
}

fn binary_with(a: &Tensor, b: &Tensor, inference: bool, name: &str, f: impl LaneFn2 + Sync) -> Result<Tensor> {
    let (sa, sb) = (a.storage().slice::<f32>(), b.storage().slice::<f32>());
    if crate::shape::same(a.shape(), b.shape()) && a.is_contiguous() && b.is_contiguous() {
        let (oa, ob) = (a.layout().offset, b.layout().offset);
        let n = a.numel();
        let (xa, xb) = (window(sa, oa, n), window(sb, ob, n));
        if let Some(t) = recycle::reuse_f32(a.shape(), inference, |y| elementwise::zip_write(y, xa, xb, &f)) {
            return Ok(t);
        }
        let mut out = try_with_capacity(n)?;
        elementwise::zip_into(&mut out, xa, xb, f);
        return Ok(from_vec(out, a.shape(), inference));
    }
    let shape = broadcast_shape(a.shape(), b.shape(), name)?;
    let la = a.layout().expand(&shape);
    let lb = b.layout().expand(&shape);
    let mut out = try_zeroed(numel(&shape))?;
    elementwise::binary_lanes(&mut out, &shape, sa, (la.offset, &la.strides), sb, (lb.offset, &lb.strides), &f);
    Ok(from_vec(out, &shape, inference))
}

pub fn add(a: &Tensor, b: &Tensor) -> Result<Tensor> {
    binary(a, b, BinOp::Add, false)
}

pub fn mul(a: &Tensor, b: &Tensor) -> Result<Tensor> {
    binary(a, b, BinOp::Mul, false)
}

/// f applied to every element of an F32 tensor.
pub fn map(a: &Tensor, inference: bool, f: impl LaneFn + Sync) -> Result<Tensor> {
    let l = a.layout();
    let src = a.storage().slice::<f32>();
    if l.is_contiguous() {
        let x = window(src, l.offset, l.numel());
        if let Some(t) = recycle::reuse_f32(&l.shape, inference, |y| elementwise::map_write(y, x, &f)) {
            return Ok(t);
        }
        let mut out = try_with_capacity(x.len())?;
        elementwise::map_into(&mut out, x, f);
        return Ok(from_vec(out, &l.shape, inference));
    }
    let mut out = try_zeroed(l.numel())?;
    elementwise::unary_lanes(&mut out, &l.shape, src, (l.offset, &l.strides), &f);
    Ok(from_vec(out, &l.shape, inference))
}

/// f applied pairwise to two F32 tensors of the same shape.
pub fn zip_map(a: &Tensor, b: &Tensor, f: impl LaneFn2 + Sync) -> Result<Tensor> {
    binary_with(a, b, false, "zip_map", f)
}

/// Row-major copy of any tensor.
pub fn contiguous_copy(t: &Tensor, inference: bool) -> Result<Tensor> {
    Ok(match t.dtype() {
        DType::F32 => from_vec(t.try_to_vec::<f32>()?, t.shape(), inference),
        DType::I64 => from_vec(t.try_to_vec::<i64>()?, t.shape(), inference),
        DType::Bool => from_vec(t.try_to_vec::<u8>()?, t.shape(), inference),
    })
}

/// `t` itself when contiguous, otherwise a contiguous normal copy.
pub fn contiguous(t: &Tensor) -> Result<Tensor> {
    if t.is_contiguous() {
        Ok(t.clone())
    } else {
        contiguous_copy(t, t.is_inference())
    }
}

/// Copies `src`, broadcast to dst's shape, into dst's elements through both layouts, with nothing
/// allocated: it cannot fail half-way. The caller has validated shapes and dtypes and that dst
/// has no internal overlap. `src` must be another storage than dst's (every caller
/// passes a freshly computed tensor); sharing one would make the writes clobber values still to
/// be read, so it is refused as a bug.
pub fn copy_into(dst: &Tensor, src: &Tensor) {
    assert!(!src.shares_storage(dst), "copy_into: the source shares the destination's storage");
    match dst.dtype() {
        DType::F32 => copy_into_typed::<f32>(dst, src),
        DType::I64 => copy_into_typed::<i64>(dst, src),
        DType::Bool => copy_into_typed::<u8>(dst, src),
    }
}

fn copy_into_typed<T: Element>(dst: &Tensor, src: &Tensor) {
    let s = src.storage().slice::<T>();
    // SAFETY: src's storage is another one (asserted above), and nothing else borrows dst's here.
    let d = unsafe { dst.storage().slice_mut::<T>() };
    let (ld, ls) = (dst.layout(), src.layout());
    if ld.is_contiguous() && ls.is_contiguous() && src.shape() == dst.shape() {
        let n = dst.numel();
        if n > 0 {
            d[ld.offset..ld.offset + n].copy_from_slice(&s[ls.offset..ls.offset + n]);
        }
        return;
    }
    for (o, i) in ld.offsets().zip(ls.expand(dst.shape()).offsets()) {
        d[o] = s[i];
    }
}

/// Writes `values` (row-major, one per element of dst) into dst's storage through its layout.
/// Bumping the version is the caller's business.
pub fn write_row_major<T: Element>(dst: &Tensor, values: &[T]) {
    debug_assert_eq!(values.len(), dst.numel());
    // SAFETY: `values` is a separate buffer, so no other slice of dst's storage is alive here.
    let d = unsafe { dst.storage().slice_mut::<T>() };
    for (o, &v) in dst.layout().offsets().zip(values) {
        d[o] = v;
    }
}

/// Sums over the dims set in `mask`; keepdim leaves them as size 1.
pub fn sum_mask(t: &Tensor, mask: &[bool], keepdim: bool, inference: bool) -> Result<Tensor> {
    let shape = t.shape();
    let kept: Dims = shape.iter().zip(mask).map(|(&d, &m)| if m { 1 } else { d }).collect();
    let kept_strides = contiguous_strides(&kept);
    let out_strides: Dims = kept_strides.iter().zip(mask).map(|(&s, &m)| if m { 0 } else { s }).collect();
    let mut out = try_filled(numel(&kept), 0f32)?;
    let mut acc = try_filled(out.len(), 0f64)?;
    let l = t.layout();
    reduce::sum_into(&mut out, &mut acc, shape, t.storage().slice::<f32>(), (l.offset, &l.strides), &out_strides);
    let out_shape: Dims = if keepdim { kept } else { shape.iter().zip(mask).filter(|(_, &m)| !m).map(|(&d, _)| d).collect() };
    Ok(from_vec(out, &out_shape, inference))
}

/// Reduces a gradient of a broadcast result back to an operand's `shape` (sum over broadcast dims).
pub fn sum_to(g: &Tensor, shape: &[usize]) -> Result<Tensor> {
    if g.shape() == shape {
        return Ok(g.clone());
    }
    let lead = g.ndim() - shape.len();
    let mask: Vec<bool> = (0..g.ndim()).map(|i| i < lead || (shape[i - lead] == 1 && g.shape()[i] != 1)).collect();
    let summed = sum_mask(g, &mask, true, false)?;
    Ok(alias(&summed, Layout::contiguous(shape)))
}

/// `g`'s elements in row-major order seen with `shape` (same numel): `g` itself when contiguous,
/// keeping its offset (a gradient is often a narrowed slice of a larger one), else a copy.
pub fn reshaped(g: &Tensor, shape: &[usize]) -> Result<Tensor> {
    let g = contiguous(g)?;
    let mut l = Layout::contiguous(shape);
    l.offset = g.layout().offset;
    Ok(alias(&g, l))
}

/// A stride-0 broadcast of `g` to `shape` (no copy).
pub fn expand(g: &Tensor, shape: &[usize]) -> Tensor {
    alias(g, g.layout().expand(shape))
}

/// Fresh storage of `elems` zeros for an op output.
pub fn zeros_storage(dtype: DType, elems: usize, inference: bool) -> Result<Arc<Storage>> {
    Ok(Arc::new(Storage::zeros(dtype, elems, inference)?))
}
