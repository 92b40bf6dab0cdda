//! stack (a new dim, then cat) and chunk (narrow views, as torch.chunk).

use super::copy::cat;
use super::views::{narrow, unsqueeze};
use crate::error::{bail, Result};
use crate::shape::{fmt_shape, wrap_dim, wrap_insert_dim};
use crate::storage::try_filled;
use crate::tensor::Tensor;

/// torch.stack: tensors of one shape and dtype joined along a new dim `dim`. Each input is
/// unsqueezed (a view) and the views concatenated, so the gradient flows as cat's.
pub fn stack(ts: &[&Tensor], dim: i64) -> Result<Tensor> {
    let Some(first) = ts.first() else {
        bail!(InvalidArgument, "stack: the list of tensors is empty; pass at least one tensor");
    };
    wrap_insert_dim(dim, first.ndim(), "dim")?;
    if let Some((i, t)) = ts.iter().enumerate().find(|(_, t)| t.dtype() != first.dtype()) {
        bail!(Dtype, "stack: tensor {i} is {} but tensor 0 is {}; convert with rt_tensor_to first", t.dtype().name(), first.dtype().name());
    }
    if let Some((i, t)) = ts.iter().enumerate().find(|(_, t)| t.shape() != first.shape()) {
        bail!(
            Shape,
            "stack: tensor {i} has shape {} but tensor 0 has {}; stacked tensors must have equal shapes",
            fmt_shape(t.shape()),
            fmt_shape(first.shape())
        );
    }
    let views = ts.iter().map(|t| unsqueeze(t, dim)).collect::<Result<Vec<_>>>()?;
    let refs: Vec<&Tensor> = views.iter().collect();
    cat(&refs, dim)
}

/// torch.chunk: `chunks` requested, each of ceil(size / chunks) along `dim` but the last, so
/// there may be fewer than asked; a dim of size 0 gives `chunks` empty views.
pub fn chunk(t: &Tensor, chunks: usize, dim: i64) -> Result<Vec<Tensor>> {
    if chunks == 0 {
        bail!(InvalidArgument, "chunk: chunks is 0; ask for at least 1 chunk");
    }
    if t.ndim() == 0 {
        bail!(Shape, "chunk: the input is 0-d; it needs at least 1 dim");
    }
    let d = wrap_dim(dim, t.ndim(), "dim")?;
    let size = t.shape()[d];
    let step = size.div_ceil(chunks);
    let sizes: Vec<usize> =
        if size == 0 { try_filled(chunks, 0)? } else { (0..size.div_ceil(step)).map(|i| step.min(size - i * step)).collect() };
    let mut start = 0;
    let mut out = Vec::with_capacity(sizes.len());
    for len in sizes {
        out.push(narrow(t, d as i64, start as i64, len as i64)?);
        start += len;
    }
    Ok(out)
}

/// How many views `chunk` gives, without making them (for the C API's buffer check).
pub fn chunk_count(t: &Tensor, chunks: usize, dim: i64) -> Result<usize> {
    if chunks == 0 || t.ndim() == 0 {
        return chunk(t, chunks, dim).map(|v| v.len());
    }
    let size = t.shape()[wrap_dim(dim, t.ndim(), "dim")?];
    Ok(if size == 0 { chunks } else { size.div_ceil(size.div_ceil(chunks)) })
}
