//! Reductions that select elements: max_dim / min_dim (values and indices, as torch.max(t, dim))
//! and amax (the maximum over several dims, its gradient split among ties).

use super::indexing::{gather_raw, split_at};
use super::raw;
use super::record::Recorder;
use crate::autograd::functions::index::{AmaxBackward, GatherBackward};
use crate::error::{bail, Result};
use crate::layout::Layout;
use crate::shape::{reduction_dims, wrap_dim, Dims};
use crate::storage::{try_filled, DType};
use crate::tensor::Tensor;

/// Whether `a` replaces the running pick `b` when scanning a row in order: NaN beats everything
/// and the first NaN stays; otherwise a strict comparison, so the first of equal values stays.
#[inline]
fn better(a: f32, b: f32, largest: bool) -> bool {
    if b.is_nan() {
        return false;
    }
    a.is_nan() || if largest { a > b } else { a < b }
}

/// torch.max(t, dim) (largest) or torch.min(t, dim): the values and the I64 index of the first
/// extreme of each row along `dim` (NaN counts as the extreme, as PyTorch). Differentiable in
/// the values: the gradient goes to the selected element only.
pub fn extreme_dim(t: &Tensor, dim: i64, keepdim: bool, largest: bool) -> Result<(Tensor, Tensor)> {
    let op = if largest { "max_dim" } else { "min_dim" };
    t.expect_dtype(DType::F32, "the input")?;
    let d = wrap_dim(dim, t.ndim(), "dim")?;
    let shape: Dims = if t.ndim() == 0 { Dims::from_elem(1, 1) } else { t.shape().into() };
    if shape[d] == 0 {
        bail!(InvalidArgument, "{op}: dim {dim} has size 0, so there is no extreme; pass a non-empty dimension");
    }
    let rec = Recorder::new(&[t])?;
    let (outer, size, inner) = split_at(&shape, d);
    let x = t.try_data::<f32>()?;
    let mut idx = try_filled(outer * inner, 0i64)?;
    for o in 0..outer {
        for i in 0..inner {
            let row = |k: usize| x[(o * size + k) * inner + i];
            let mut best = 0;
            for k in 1..size {
                if better(row(k), row(best), largest) {
                    best = k;
                }
            }
            idx[o * inner + i] = best as i64;
        }
    }
    let mut keep = shape.clone();
    keep[d] = 1;
    let mut out_shape: Dims = t.shape().into();
    if t.ndim() > 0 {
        if keepdim {
            out_shape[d] = 1;
        } else {
            out_shape.remove(d);
        }
    }
    let src = if t.ndim() == 0 { raw::alias(t, t.layout().unsqueeze(0)) } else { t.clone() };
    let values = gather_raw(&src, d, &idx, &keep, rec.inference())?;
    let values = raw::alias(&values, Layout::contiguous(&out_shape));
    let indices = raw::from_vec(idx, &keep, rec.inference());
    let name = if largest { "MaxBackward" } else { "MinBackward" };
    let saved = vec![rec.save(&indices, name)?];
    let indices = raw::alias(&indices, Layout::contiguous(&out_shape));
    let in_shape: Dims = t.shape().into();
    Ok((rec.finish(values, || Box::new(GatherBackward { name, in_shape, dim: d }), saved), indices))
}

/// torch.amax(t, dims, keepdim): the maximum over `dims` (all dims when empty); NaN propagates.
pub fn amax(t: &Tensor, dims: &[i64], keepdim: bool) -> Result<Tensor> {
    t.expect_dtype(DType::F32, "the input")?;
    let mask = reduction_dims(dims, t.ndim())?;
    if let Some((k, _)) = t.shape().iter().zip(&mask).enumerate().find(|(_, (&s, &m))| m && s == 0) {
        bail!(InvalidArgument, "amax: reduced dim {k} has size 0, so there is no maximum; reduce over non-empty dims only");
    }
    let rec = Recorder::new(&[t])?;
    let saved_x = rec.save(t, "AmaxBackward")?;
    let keep_shape: Dims = t.shape().iter().zip(&mask).map(|(&s, &m)| if m { 1 } else { s }).collect();
    // The maximum by folding each reduced dim in turn with max_dim's rule (NaN wins).
    let mut cur = raw::contiguous_copy(t, rec.inference())?;
    for k in (0..t.ndim()).filter(|&k| mask[k] && t.shape()[k] > 1) {
        let (outer, size, inner) = split_at(cur.shape(), k);
        let x = cur.try_data::<f32>()?;
        let mut out = try_filled(outer * inner, f32::NEG_INFINITY)?;
        for o in 0..outer {
            for j in 0..size {
                for i in 0..inner {
                    let (v, acc) = (x[(o * size + j) * inner + i], &mut out[o * inner + i]);
                    if j == 0 || better(v, *acc, true) {
                        *acc = v;
                    }
                }
            }
        }
        let mut s: Dims = cur.shape().into();
        s[k] = 1;
        cur = raw::from_vec(out, &s, rec.inference());
    }
    let y = raw::alias(&cur, Layout::contiguous(&keep_shape));
    let saved = vec![saved_x, rec.save(&y, "AmaxBackward")?];
    let out_shape: Dims =
        if keepdim { keep_shape.clone() } else { t.shape().iter().zip(&mask).filter(|(_, &m)| !m).map(|(&s, _)| s).collect() };
    let out = raw::alias(&y, Layout::contiguous(&out_shape));
    Ok(rec.finish(out, || Box::new(AmaxBackward { keep_shape }), saved))
}
