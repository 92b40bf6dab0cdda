//! Shapes: inline dimension lists (no heap allocation for up to 6 dims), PyTorch broadcasting and
//! negative-dim normalisation.

use crate::error::{bail, Result};
use smallvec::SmallVec;

/// A dimension list, inline up to 6 dimensions.
pub type Dims = SmallVec<[usize; 6]>;

/// Number of elements of `shape`.
pub fn numel(shape: &[usize]) -> usize {
    shape.iter().product()
}

/// `a == b`, as an inline loop: shapes are a few dims, and a slice comparison calls memcmp.
#[inline]
pub fn same(a: &[usize], b: &[usize]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x == y)
}

/// Whether a shape is within the bound every tensor keeps: its sizes, zeros counted as 1, multiply
/// to at most isize::MAX / 8. Then numel, strides, offsets and byte counts of the shape and of every
/// view of it are exact, whatever zero-size dims hide (io/header.rs bounds file shapes the same way).
pub fn bounded(shape: &[usize]) -> bool {
    shape.iter().try_fold(1usize, |acc, &d| acc.checked_mul(d.max(1))).is_some_and(|n| n <= isize::MAX as usize / 8)
}

/// RT_ERR_OUT_OF_MEMORY unless `shape` (the result of `op`) is `bounded`.
pub fn check_bounded(shape: &[usize], op: &str) -> Result<()> {
    if !bounded(shape) {
        bail!(OutOfMemory, "{op}: the result would have shape {}, more elements than can be allocated", fmt_shape(shape));
    }
    Ok(())
}

/// Converts user dims (int64) into sizes, refusing negatives and sizes whose element count or byte
/// count would overflow.
pub fn dims_from_i64(shape: &[i64], what: &str) -> Result<Dims> {
    let mut dims = Dims::with_capacity(shape.len());
    for (i, &d) in shape.iter().enumerate() {
        if d < 0 {
            bail!(InvalidArgument, "{what}[{i}] is {d}; dimensions must be >= 0");
        }
        dims.push(
            usize::try_from(d)
                .map_err(|_| crate::error::err!(InvalidArgument, "{what}[{i}] = {d} does not fit this platform's size type"))?,
        );
    }
    // Bounded even with no elements: [0, 2^40, 2^40] would overflow the arithmetic of its views.
    if !bounded(&dims) {
        bail!(OutOfMemory, "{what} {:?} has more elements than can be allocated", shape);
    }
    Ok(dims)
}

/// A size-like scalar argument (stride, kernel size, padding) that must be at least `min`.
pub fn size_arg(v: i64, min: i64, what: &str) -> Result<usize> {
    if v < min {
        bail!(InvalidArgument, "{what} is {v}; it must be at least {min}");
    }
    usize::try_from(v).map_err(|_| crate::error::err!(InvalidArgument, "{what} = {v} does not fit this platform's size type"))
}

/// Normalises a possibly negative `dim` against `ndim` dimensions (PyTorch's wrap_dim).
/// A 0-d tensor accepts dims -1 and 0, as in PyTorch.
pub fn wrap_dim(dim: i64, ndim: usize, what: &str) -> Result<usize> {
    let n = ndim.max(1) as i64;
    if dim < -n || dim >= n {
        bail!(
            InvalidArgument,
            "{what} = {dim} is out of range for a tensor with {ndim} dimension(s); expected a value in [{}, {}]",
            -n,
            n - 1
        );
    }
    Ok(if dim < 0 { (dim + n) as usize } else { dim as usize })
}

/// Like `wrap_dim` but for positions where a new dim may be inserted (unsqueeze): range [-ndim-1, ndim].
pub fn wrap_insert_dim(dim: i64, ndim: usize, what: &str) -> Result<usize> {
    wrap_dim(dim, ndim + 1, what)
}

/// The broadcast shape of `a` and `b`, as torch.broadcast_shapes.
pub fn broadcast_shapes(a: &[usize], b: &[usize]) -> Option<Dims> {
    let n = a.len().max(b.len());
    let mut out = Dims::from_elem(0, n);
    for i in 0..n {
        let da = if i < n - a.len() { 1 } else { a[i - (n - a.len())] };
        let db = if i < n - b.len() { 1 } else { b[i - (n - b.len())] };
        out[i] = if da == db || db == 1 {
            da
        } else if da == 1 {
            db
        } else {
            return None;
        };
    }
    Some(out)
}

/// Sorted, deduplicated-checked list of reduction dims; an empty list means every dim.
pub fn reduction_dims(dims: &[i64], ndim: usize) -> Result<SmallVec<[bool; 6]>> {
    let mut mask: SmallVec<[bool; 6]> = SmallVec::from_elem(dims.is_empty(), ndim);
    for &d in dims {
        let w = wrap_dim(d, ndim, "dims")?;
        if ndim == 0 {
            continue;
        }
        if mask[w] {
            bail!(InvalidArgument, "dim {d} appears more than once in dims; list each dimension once");
        }
        mask[w] = true;
    }
    Ok(mask)
}

/// `shape` as `[2, 3]`, for messages.
pub fn fmt_shape(shape: &[usize]) -> String {
    let parts: Vec<String> = shape.iter().map(|d| d.to_string()).collect();
    format!("[{}]", parts.join(", "))
}
