//! The upper or lower triangle of the last two dims, the rest zeroed (triu / tril and their
//! backward).

use super::raw;
use crate::error::Result;
use crate::storage::{DType, Element};
use crate::tensor::Tensor;

/// Keeps element (i, j) of each matrix when j - i >= diagonal (upper) or j - i <= diagonal.
pub fn mask_triangle(t: &Tensor, upper: bool, diagonal: i64, inference: bool) -> Result<Tensor> {
    match t.dtype() {
        DType::F32 => mask_typed::<f32>(t, upper, diagonal, inference),
        DType::I64 => mask_typed::<i64>(t, upper, diagonal, inference),
        DType::Bool => mask_typed::<u8>(t, upper, diagonal, inference),
    }
}

fn mask_typed<T: Element + Default>(t: &Tensor, upper: bool, diagonal: i64, inference: bool) -> Result<Tensor> {
    let mut v = t.try_to_vec::<T>()?;
    let n = t.ndim();
    let (rows, cols) = (t.shape()[n - 2], t.shape()[n - 1]);
    for (e, x) in v.iter_mut().enumerate() {
        let (i, j) = (((e / cols.max(1)) % rows.max(1)) as i64, (e % cols.max(1)) as i64);
        let keep = if upper { j - i >= diagonal } else { j - i <= diagonal };
        if !keep {
            *x = T::default();
        }
    }
    Ok(raw::from_vec(v, t.shape(), inference))
}
