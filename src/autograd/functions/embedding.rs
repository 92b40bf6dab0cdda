//! Derivative of embedding: dW\[k\] = sum of g over the positions whose index is k (scatter-add).

use crate::autograd::node::{saved_at, Backward};
use crate::compute::raw;
use crate::error::Result;
use crate::storage::try_filled;
use crate::tensor::Tensor;

/// Saved: \[indices\].
pub struct EmbeddingBackward {
    pub v: usize,
    pub d: usize,
}

impl Backward for EmbeddingBackward {
    fn name(&self) -> &'static str {
        "EmbeddingBackward"
    }

    fn apply(&self, g: &Tensor, saved: &[Option<Tensor>]) -> Result<Vec<Option<Tensor>>> {
        let d = self.d;
        let mut dw = try_filled(self.v * d, 0f32)?;
        let g = g.try_data::<f32>()?;
        for (&k, row) in saved_at(saved, 0).try_data::<i64>()?.iter().zip(g.chunks_exact(d.max(1))) {
            for (acc, &gv) in dw[k as usize * d..(k as usize + 1) * d].iter_mut().zip(row) {
                *acc += gv;
            }
        }
        Ok(vec![Some(raw::from_vec(dw, &[self.v, d], false))])
    }
}
