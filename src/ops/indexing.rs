//! index_select and gather: values picked along one dim by I64 indices. Every index is checked
//! before anything is allocated or written. The raw gather and scatter-add here also serve
//! max_dim, min_dim and topk, whose values are a gather of their indices.

use super::record::Recorder;
use crate::autograd::functions::index::{GatherBackward, IndexSelectBackward};
#[doc(hidden)] // the shared computations below ops/, not part of the Rust API
pub use crate::compute::indexing::{gather_raw, scatter_add_raw, split_at};
use crate::error::{bail, Result};
use crate::shape::{fmt_shape, wrap_dim, Dims};
use crate::storage::{try_with_capacity, DType};
use crate::tensor::Tensor;

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
