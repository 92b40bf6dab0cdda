//! Embedding lookup: rows of a (V, D) weight picked by I64 indices of any shape.

use super::raw;
use super::record::Recorder;
use crate::autograd::functions::embedding::EmbeddingBackward;
use crate::error::{bail, Result};
use crate::shape::{fmt_shape, Dims};
use crate::storage::{try_with_capacity, DType};
use crate::tensor::Tensor;

/// out[..., :] = weight[indices[...], :]; the result has shape indices.shape + \[D\].
pub fn embedding(indices: &Tensor, weight: &Tensor) -> Result<Tensor> {
    indices.expect_dtype(DType::I64, "indices")?;
    weight.expect_dtype(DType::F32, "weight")?;
    if weight.ndim() != 2 {
        bail!(Shape, "embedding: weight must be 2-D (num_embeddings, embedding_dim), got shape {}", fmt_shape(weight.shape()));
    }
    let (v, d) = (weight.shape()[0], weight.shape()[1]);
    let idx = indices.try_data::<i64>()?;
    if let Some((i, &bad)) = idx.iter().enumerate().find(|(_, &k)| k < 0 || k as u64 >= v as u64) {
        bail!(
            InvalidArgument,
            "embedding: index {bad} (element {i} of indices) is out of range for a weight with {v} rows; indices must be in [0, {v})"
        );
    }
    let mut shape: Dims = indices.shape().into();
    shape.push(d);
    let total = idx.len().checked_mul(d).filter(|&t| t <= isize::MAX as usize / 4);
    let Some(total) = total else {
        bail!(OutOfMemory, "embedding: the result of shape {} is too large to allocate", fmt_shape(&shape));
    };
    let rec = Recorder::new(&[weight])?;
    let saved = vec![rec.save(indices, "EmbeddingBackward")?];
    let w = weight.try_data::<f32>()?;
    let mut out = try_with_capacity(total)?;
    for &k in idx.iter() {
        out.extend_from_slice(&w[k as usize * d..(k as usize + 1) * d]);
    }
    let out = raw::from_vec(out, &shape, rec.inference());
    Ok(rec.finish(out, || Box::new(EmbeddingBackward { v, d }), saved))
}
