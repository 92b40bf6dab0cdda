//! Derivatives of softmax and log_softmax, both in terms of the saved output y:
//! softmax: dx = y * (g - sum(g * y)); log_softmax: dx = g - exp(y) * sum(g), sums along the dim.

use crate::autograd::node::{saved_at, Backward};
use crate::compute::raw;
use crate::error::Result;
use crate::kernels::softmax as kernel;
use crate::storage::try_filled;
use crate::tensor::Tensor;

/// Saved: \[y\].
pub struct SoftmaxBackward {
    /// The input seen as (outer, dim size, inner).
    pub split: (usize, usize, usize),
    pub log: bool,
}

impl Backward for SoftmaxBackward {
    fn name(&self) -> &'static str {
        if self.log {
            "LogSoftmaxBackward"
        } else {
            "SoftmaxBackward"
        }
    }

    fn apply(&self, g: &Tensor, saved: &[Option<Tensor>]) -> Result<Vec<Option<Tensor>>> {
        let y = saved_at(saved, 0);
        let mut dx = try_filled(y.numel(), 0f32)?;
        kernel::backward(&mut dx, &y.try_data::<f32>()?, &g.try_data::<f32>()?, self.split, self.log);
        Ok(vec![Some(raw::from_vec(dx, y.shape(), false))])
    }
}
