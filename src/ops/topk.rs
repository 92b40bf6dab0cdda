//! topk: the k largest (or smallest) values along a dim, sorted, with their I64 indices.

use super::indexing::{gather_raw, split_at};
use super::raw;
use super::record::Recorder;
use crate::autograd::functions::index::GatherBackward;
use crate::error::{bail, Result};
use crate::shape::{wrap_dim, Dims};
use crate::storage::{try_filled, try_with_capacity, DType};
use crate::tensor::Tensor;
use std::cmp::Ordering;

/// Order of two values for topk: NaN is the largest (PyTorch sorts it above +inf), equal values
/// keep their index order.
fn rank(a: f32, b: f32) -> Ordering {
    match (a.is_nan(), b.is_nan()) {
        (true, true) => Ordering::Equal,
        (true, false) => Ordering::Greater,
        (false, true) => Ordering::Less,
        _ => a.partial_cmp(&b).unwrap_or(Ordering::Equal),
    }
}

/// torch.topk(t, k, dim, largest, sorted=True). Differentiable in the values: each selected
/// element gets its value's gradient.
pub fn topk(t: &Tensor, k: i64, dim: i64, largest: bool) -> Result<(Tensor, Tensor)> {
    t.expect_dtype(DType::F32, "the input")?;
    let d = wrap_dim(dim, t.ndim(), "dim")?;
    let shape: Dims = if t.ndim() == 0 { Dims::from_elem(1, 1) } else { t.shape().into() };
    let size = shape[d];
    if k < 0 || k as u64 > size as u64 {
        bail!(InvalidArgument, "topk: k = {k} is out of range for dim {dim} of size {size}; pass 0 <= k <= {size}");
    }
    let k = k as usize;
    let rec = Recorder::new(&[t])?;
    let (outer, _, inner) = split_at(&shape, d);
    let x = t.try_data::<f32>()?;
    let mut idx = try_filled(outer * k * inner, 0i64)?;
    let mut order: Vec<usize> = try_with_capacity(size)?;
    for o in 0..outer {
        for i in 0..inner {
            let at = |j: usize| x[(o * size + j) * inner + i];
            order.clear();
            order.extend(0..size);
            // stable: ties keep ascending indices
            if largest {
                order.sort_by(|&a, &b| rank(at(b), at(a)));
            } else {
                order.sort_by(|&a, &b| rank(at(a), at(b)));
            }
            for (j, &pick) in order[..k].iter().enumerate() {
                idx[(o * k + j) * inner + i] = pick as i64;
            }
        }
    }
    let mut out_shape = shape.clone();
    out_shape[d] = k;
    let src = if t.ndim() == 0 { raw::alias(t, t.layout().unsqueeze(0)) } else { t.clone() };
    let values = gather_raw(&src, d, &idx, &out_shape, rec.inference())?;
    let indices = raw::from_vec(idx, &out_shape, rec.inference());
    let saved = vec![rec.save(&indices, "TopkBackward")?];
    let (values, indices) = if t.ndim() == 0 && k == 1 {
        let scalar = crate::layout::Layout::contiguous(&[]);
        (raw::alias(&values, scalar.clone()), raw::alias(&indices, scalar))
    } else {
        (values, indices)
    };
    let in_shape: Dims = t.shape().into();
    Ok((rec.finish(values, || Box::new(GatherBackward { name: "TopkBackward", in_shape, dim: d }), saved), indices))
}
