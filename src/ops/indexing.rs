//! index_select and gather: values picked along one dim by I64 indices. Every index is checked
//! before anything is allocated or written. The raw gather and scatter-add here also serve
//! max_dim, min_dim and topk, whose values are a gather of their indices.

use super::raw;
use super::record::Recorder;
use crate::autograd::functions::index::{GatherBackward, IndexSelectBackward};
use crate::error::{bail, Result};
use crate::layout::contiguous_strides;
use crate::shape::{fmt_shape, wrap_dim, Dims};
use crate::storage::{try_filled, try_with_capacity, DType, Element};
use crate::tensor::Tensor;

/// (outer, size, inner) of `shape` around dim `d`: row-major data is outer blocks of size * inner.
pub fn split_at(shape: &[usize], d: usize) -> (usize, usize, usize) {
    (shape[..d].iter().product(), shape[d], shape[d + 1..].iter().product())
}

/// Refuses an index outside [0, size) naming the first one.
fn check_range(idx: &[i64], size: usize, op: &str, dim: i64) -> Result<()> {
    if let Some((i, &bad)) = idx.iter().enumerate().find(|(_, &k)| k < 0 || k as u64 >= size as u64) {
        bail!(
            InvalidArgument,
            "{op}: index {bad} (element {i} of index) is out of range for dim {dim} of size {size}; indices must be in [0, {size})"
        );
    }
    Ok(())
}

/// The flat offset into a row-major tensor of `t_shape` of each position of `i_shape` (same
/// rank) with its `d` coordinate set to 0: gather reads t at offset + index * stride of d.
fn base_offsets(i_shape: &[usize], t_shape: &[usize], d: usize) -> Result<Vec<usize>> {
    let ts = contiguous_strides(t_shape);
    let n = i_shape.iter().product();
    let mut out = try_with_capacity(n)?;
    let mut coord: Dims = Dims::from_elem(0, i_shape.len());
    let mut off = 0usize;
    for _ in 0..n {
        out.push(off);
        for k in (0..i_shape.len()).rev() {
            coord[k] += 1;
            if k != d {
                off += ts[k];
            }
            if coord[k] < i_shape[k] {
                break;
            }
            if k != d {
                off -= ts[k] * i_shape[k];
            }
            coord[k] = 0;
        }
    }
    Ok(out)
}

/// out\[p\] = t[p with p\[d\] = index\[p\]], shaped as index; indices already checked.
pub fn gather_raw(t: &Tensor, d: usize, index: &[i64], i_shape: &[usize], inference: bool) -> Result<Tensor> {
    match t.dtype() {
        DType::F32 => gather_typed::<f32>(t, d, index, i_shape, inference),
        DType::I64 => gather_typed::<i64>(t, d, index, i_shape, inference),
        DType::Bool => gather_typed::<u8>(t, d, index, i_shape, inference),
    }
}

fn gather_typed<T: Element>(t: &Tensor, d: usize, index: &[i64], i_shape: &[usize], inference: bool) -> Result<Tensor> {
    let src = t.try_data::<T>()?;
    let stride = contiguous_strides(t.shape()).get(d).copied().unwrap_or(1);
    let base = base_offsets(i_shape, t.shape(), d)?;
    let mut out = try_with_capacity(index.len())?;
    out.extend(base.iter().zip(index).map(|(&b, &k)| src[b + k as usize * stride]));
    Ok(raw::from_vec(out, i_shape, inference))
}

/// The adjoint of gather: zeros of `t_shape` with g\[p\] added at p with p\[d\] = index\[p\].
pub fn scatter_add_raw(g: &[f32], d: usize, index: &[i64], i_shape: &[usize], t_shape: &[usize]) -> Result<Tensor> {
    let mut dx = try_filled(t_shape.iter().product(), 0f32)?;
    let stride = contiguous_strides(t_shape).get(d).copied().unwrap_or(1);
    for ((&b, &k), &gv) in base_offsets(i_shape, t_shape, d)?.iter().zip(index).zip(g) {
        dx[b + k as usize * stride] += gv;
    }
    Ok(raw::from_vec(dx, t_shape, false))
}

/// torch.index_select: the slices of `t` at `index` (1-D or 0-d, I64) along `dim`.
pub fn index_select(t: &Tensor, dim: i64, index: &Tensor) -> Result<Tensor> {
    index.expect_dtype(DType::I64, "index")?;
    if index.ndim() > 1 {
        bail!(Shape, "index_select: index must be 1-D (or 0-d), got shape {}", fmt_shape(index.shape()));
    }
    if t.ndim() == 0 {
        bail!(Shape, "index_select: the input is 0-d; unsqueeze it to 1-D first");
    }
    let d = wrap_dim(dim, t.ndim(), "dim")?;
    let idx = index.try_data::<i64>()?;
    check_range(&idx, t.shape()[d], "index_select", dim)?;
    let mut shape: Dims = t.shape().into();
    shape[d] = idx.len();
    crate::shape::check_bounded(&shape, "index_select")?;
    let rec = Recorder::new(&[t])?;
    let saved = vec![rec.save(index, "IndexSelectBackward")?];
    let (outer, _, inner) = split_at(t.shape(), d);
    // As a gather whose index repeats `idx` over the outer and inner positions.
    let mut full = try_with_capacity(outer * idx.len() * inner)?;
    for _ in 0..outer {
        for &k in idx.iter() {
            full.extend(std::iter::repeat_n(k, inner));
        }
    }
    let out = gather_raw(t, d, &full, &shape, rec.inference())?;
    let in_shape = t.shape().into();
    Ok(rec.finish(out, || Box::new(IndexSelectBackward { in_shape, dim: d }), saved))
}

/// torch.gather: out\[p\] = t[p with p\[dim\] = index\[p\]]; index has t's rank and fits inside it
/// in every other dim.
pub fn gather(t: &Tensor, dim: i64, index: &Tensor) -> Result<Tensor> {
    index.expect_dtype(DType::I64, "index")?;
    let d = wrap_dim(dim, t.ndim(), "dim")?;
    if t.ndim() != index.ndim() {
        bail!(Shape, "gather: index has {} dims but the input has {}; they must have the same number of dims", index.ndim(), t.ndim());
    }
    let (ts, is) = (t.shape(), index.shape());
    if let Some(k) = (0..ts.len()).find(|&k| k != d && is[k] > ts[k]) {
        bail!(
            Shape,
            "gather: index of shape {} is larger than the input of shape {} in dim {k}; only dim {dim} may be larger",
            fmt_shape(is),
            fmt_shape(ts)
        );
    }
    let idx = index.try_data::<i64>()?;
    // a 0-d input has one element along its one pseudo-dim
    check_range(&idx, ts.get(d).copied().unwrap_or(1), "gather", dim)?;
    let rec = Recorder::new(&[t])?;
    let saved = vec![rec.save(index, "GatherBackward")?];
    let out = gather_raw(t, d, &idx, is, rec.inference())?;
    let in_shape = ts.into();
    Ok(rec.finish(out, || Box::new(GatherBackward { name: "GatherBackward", in_shape, dim: d }), saved))
}
