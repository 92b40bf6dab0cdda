//! Derivative of max pooling: each output's gradient goes to the input position that was the
//! (first) maximum of its window; overlapping windows add up.

use crate::autograd::node::{saved_at, Backward};
use crate::compute::raw;
use crate::error::Result;
use crate::kernels::pool::{max_backward, Pool};
use crate::shape::{numel, Dims};
use crate::storage::try_filled;
use crate::tensor::Tensor;

/// Saved: [argmax indices (I64, the output's shape)].
pub struct MaxPool2dBackward {
    pub pool: Pool,
    pub in_shape: Dims,
}

impl Backward for MaxPool2dBackward {
    fn name(&self) -> &'static str {
        "MaxPool2DWithIndicesBackward"
    }

    fn apply(&self, g: &Tensor, saved: &[Option<Tensor>]) -> Result<Vec<Option<Tensor>>> {
        let mut dx = try_filled(numel(&self.in_shape), 0f32)?;
        max_backward(&self.pool, &g.try_data::<f32>()?, &saved_at(saved, 0).try_data::<i64>()?, &mut dx);
        Ok(vec![Some(raw::from_vec(dx, &self.in_shape, false))])
    }
}
