//! Views: new layouts over the same storage (API.md I2, I9, I11). A view has its base's kind and
//! version counter; it joins the graph like any op when recording.

use super::raw;
use super::record::Recorder;
use crate::autograd::functions::views::{ExpandBackward, PermuteBackward, ReshapeBackward, SliceBackward};
use crate::autograd::node::Backward;
use crate::error::{bail, Result};
use crate::layout::Layout;
use crate::shape::{fmt_shape, numel, wrap_dim, wrap_insert_dim, Dims};
use crate::tensor::{fn_id, CreationMeta, Tensor, ViewInfo};

/// Makes the view of `t` with `layout`, recording `backward` when grad flows.
fn make_view(t: &Tensor, layout: Layout, backward: impl FnOnce() -> Box<dyn Backward>) -> Result<Tensor> {
    if t.is_inference() {
        // I4: a view of an inference tensor never requires grad, in any mode.
        return Ok(Tensor::from_parts(t.storage().clone(), layout, None, false));
    }
    let rec = Recorder::new(&[t])?;
    let view = {
        let (base, inherited) = match t.view_info() {
            Some(v) => (v.base.clone(), v.creation),
            None => (t.clone(), CreationMeta::Default),
        };
        // As PyTorch's propagate_creation_meta: a view of a special view keeps its rule.
        let creation = if inherited != CreationMeta::Default {
            inherited
        } else if rec.state.inference {
            CreationMeta::InferenceMode
        } else if !rec.state.grad && t.requires_grad() {
            CreationMeta::NoGradMode
        } else {
            CreationMeta::Default
        };
        let base_fn = fn_id(&base.meta().grad_fn);
        Some(ViewInfo { base, creation, base_fn })
    };
    // I9: a view of a normal tensor made in inference mode keeps its base's requires_grad.
    let requires_grad = rec.state.inference && t.requires_grad();
    let out = Tensor::from_parts(t.storage().clone(), layout, view, requires_grad);
    Ok(rec.finish(out, backward, vec![]))
}

fn reshape_backward(t: &Tensor) -> impl FnOnce() -> Box<dyn Backward> {
    let in_shape: Dims = t.shape().into();
    move || Box::new(ReshapeBackward { in_shape })
}

/// Resolves one -1 in a requested shape against `numel` elements.
fn infer_shape(shape: &[i64], numel_in: usize, op: &str, from: &[usize]) -> Result<Dims> {
    let mut infer_at = None;
    let mut known = 1usize;
    let mut out = Dims::with_capacity(shape.len());
    for (i, &d) in shape.iter().enumerate() {
        if d == -1 {
            if infer_at.replace(i).is_some() {
                bail!(InvalidArgument, "{op}: only one dimension can be -1, got {:?}", shape);
            }
            out.push(0);
        } else if d < 0 {
            bail!(InvalidArgument, "{op}: shape[{i}] = {d} is invalid; sizes must be >= 0 or a single -1");
        } else {
            let d = d as usize;
            known = known.checked_mul(d).ok_or_else(|| crate::error::err!(InvalidArgument, "{op}: shape {:?} overflows", shape))?;
            out.push(d);
        }
    }
    match infer_at {
        Some(i) => {
            if known == 0 || !numel_in.is_multiple_of(known) {
                bail!(Shape, "{op}: shape {:?} is invalid for a tensor of shape {} ({} elements)", shape, fmt_shape(from), numel_in);
            }
            out[i] = numel_in / known;
        }
        None if known != numel_in => {
            bail!(Shape, "{op}: shape {:?} is invalid for a tensor of shape {} ({} elements)", shape, fmt_shape(from), numel_in)
        }
        None => {}
    }
    // An empty tensor takes any shape with a zero in it; the bound still applies.
    crate::shape::check_bounded(&out, op)?;
    Ok(out)
}

/// A view with a new shape (one entry may be -1); fails when the strides cannot express it.
pub fn view(t: &Tensor, shape: &[i64]) -> Result<Tensor> {
    let new = infer_shape(shape, t.numel(), "view", t.shape())?;
    match t.layout().view_as(&new) {
        Some(l) => make_view(t, l, reshape_backward(t)),
        None => bail!(Shape, "view: a tensor of shape {} with strides {:?} cannot be viewed as {} without copying; use rt_tensor_reshape (or rt_tensor_contiguous first)", fmt_shape(t.shape()), t.layout().strides.as_slice(), fmt_shape(&new)),
    }
}

/// A view when the layout allows one, otherwise a contiguous copy (recorded like clone).
pub fn reshape_dims(t: &Tensor, new: &[usize]) -> Result<Tensor> {
    if let Some(l) = t.layout().view_as(new) {
        return make_view(t, l, reshape_backward(t));
    }
    let rec = Recorder::new(&[t])?;
    let copy = raw::contiguous_copy(t, rec.inference())?;
    let out = raw::alias(&copy, Layout::contiguous(new));
    Ok(rec.finish(out, reshape_backward(t), vec![]))
}

/// A view with a new shape when possible, else a copy (`torch.reshape`).
pub fn reshape(t: &Tensor, shape: &[i64]) -> Result<Tensor> {
    let new = infer_shape(shape, t.numel(), "reshape", t.shape())?;
    reshape_dims(t, &new)
}

/// Dimensions `start_dim..=end_dim` merged into one.
pub fn flatten(t: &Tensor, start_dim: i64, end_dim: i64) -> Result<Tensor> {
    let s = wrap_dim(start_dim, t.ndim(), "start_dim")?;
    let e = wrap_dim(end_dim, t.ndim(), "end_dim")?;
    if s > e {
        bail!(InvalidArgument, "flatten: start_dim ({start_dim}) comes after end_dim ({end_dim}); pass start_dim <= end_dim");
    }
    if t.ndim() == 0 {
        return reshape_dims(t, &[1]);
    }
    let mut new: Dims = t.shape()[..s].into();
    new.push(numel(&t.shape()[s..=e]));
    new.extend_from_slice(&t.shape()[e + 1..]);
    reshape_dims(t, &new)
}

/// A view with dimensions `d0` and `d1` swapped.
pub fn transpose(t: &Tensor, d0: i64, d1: i64) -> Result<Tensor> {
    let a = wrap_dim(d0, t.ndim(), "dim0")?;
    let b = wrap_dim(d1, t.ndim(), "dim1")?;
    if t.ndim() == 0 {
        return make_view(t, t.layout().clone(), reshape_backward(t));
    }
    let mut perm: Vec<usize> = (0..t.ndim()).collect();
    perm.swap(a, b);
    make_view(t, t.layout().transpose(a, b), move || Box::new(PermuteBackward::new(&perm)))
}

/// A view with dimensions reordered as `dims`.
pub fn permute(t: &Tensor, dims: &[i64]) -> Result<Tensor> {
    if dims.len() != t.ndim() {
        bail!(InvalidArgument, "permute: got {} dims for a tensor with {} dimensions; pass one entry per dimension", dims.len(), t.ndim());
    }
    let mut perm = Vec::with_capacity(dims.len());
    let mut seen = vec![false; dims.len()];
    for &d in dims {
        let w = wrap_dim(d, t.ndim(), "dims")?;
        if std::mem::replace(&mut seen[w], true) {
            bail!(InvalidArgument, "permute: dim {d} is repeated in {:?}; pass each dimension exactly once", dims);
        }
        perm.push(w);
    }
    make_view(t, t.layout().permute(&perm), move || Box::new(PermuteBackward::new(&perm)))
}

/// A view of `length` elements from `start` along `dim`.
pub fn narrow(t: &Tensor, dim: i64, start: i64, length: i64) -> Result<Tensor> {
    if t.ndim() == 0 {
        bail!(InvalidArgument, "narrow: a 0-d tensor has no dimension to narrow");
    }
    let d = wrap_dim(dim, t.ndim(), "dim")?;
    let size = t.shape()[d] as i64;
    let s = if start < 0 { start + size } else { start };
    if s < 0 || s > size || length < 0 || length > size - s {
        bail!(
            InvalidArgument,
            "narrow: start {start} and length {length} do not fit dim {dim} of size {size}; need 0 <= start and start + length <= {size}"
        );
    }
    let in_shape: Dims = t.shape().into();
    let (s, len) = (s as usize, length as usize);
    make_view(t, t.layout().narrow(d, s, len), move || Box::new(SliceBackward { in_shape, dim: d, start: s, squeezed: false }))
}

/// A view at `index` along `dim`, which is removed.
pub fn select(t: &Tensor, dim: i64, index: i64) -> Result<Tensor> {
    if t.ndim() == 0 {
        bail!(InvalidArgument, "select: a 0-d tensor has no dimension to select from");
    }
    let d = wrap_dim(dim, t.ndim(), "dim")?;
    let size = t.shape()[d] as i64;
    let i = if index < 0 { index + size } else { index };
    if i < 0 || i >= size {
        bail!(InvalidArgument, "select: index {index} is out of range for dim {dim} of size {size}");
    }
    let in_shape: Dims = t.shape().into();
    let i = i as usize;
    make_view(t, t.layout().select(d, i), move || Box::new(SliceBackward { in_shape, dim: d, start: i, squeezed: true }))
}

/// A view with a dimension of size 1 inserted at `dim`.
pub fn unsqueeze(t: &Tensor, dim: i64) -> Result<Tensor> {
    let d = wrap_insert_dim(dim, t.ndim(), "dim")?;
    make_view(t, t.layout().unsqueeze(d), reshape_backward(t))
}

/// Removes `dim` when its size is 1 (otherwise the view has the same shape), as torch.squeeze(dim).
pub fn squeeze(t: &Tensor, dim: i64) -> Result<Tensor> {
    let d = wrap_dim(dim, t.ndim(), "dim")?;
    let layout = if t.ndim() == 0 { t.layout().clone() } else { t.layout().squeeze(Some(d)) };
    make_view(t, layout, reshape_backward(t))
}

/// A view broadcasting size-1 dimensions to `shape` (-1 keeps a size) without copying.
pub fn expand(t: &Tensor, shape: &[i64]) -> Result<Tensor> {
    if shape.len() < t.ndim() {
        bail!(
            Shape,
            "expand: the target has {} dims but the tensor has {} ({}); the target needs at least as many",
            shape.len(),
            t.ndim(),
            fmt_shape(t.shape())
        );
    }
    let lead = shape.len() - t.ndim();
    let mut new = Dims::with_capacity(shape.len());
    for (i, &s) in shape.iter().enumerate() {
        let cur = if i >= lead { Some(t.shape()[i - lead]) } else { None };
        let size = match (s, cur) {
            (-1, Some(c)) => c,
            (-1, None) => bail!(InvalidArgument, "expand: -1 is not allowed for the new leading dim {i}"),
            (s, _) if s < 0 => bail!(InvalidArgument, "expand: size {s} at dim {i} is invalid"),
            (s, Some(c)) if c != 1 && c as i64 != s => {
                bail!(
                    Shape,
                    "expand: dim {i} of size {c} cannot expand to {s} (only size-1 dims expand); tensor shape {}",
                    fmt_shape(t.shape())
                )
            }
            (s, _) => s as usize,
        };
        new.push(size);
    }
    crate::shape::check_bounded(&new, "expand")?;
    let in_shape: Dims = t.shape().into();
    make_view(t, t.layout().expand(&new), move || Box::new(ExpandBackward { in_shape }))
}

/// Same data, no history, never requires grad; shares the version counter (not a view, as in
/// PyTorch's _is_view).
pub fn detach(t: &Tensor) -> Tensor {
    t.detached_alias()
}
