//! Derivatives of reductions.

use crate::autograd::node::Backward;
use crate::compute::raw;
use crate::error::Result;
use crate::shape::Dims;
use crate::tensor::Tensor;

/// sum: dx = dy broadcast back over the reduced dims; mean: the same times 1/count.
pub struct SumBackward {
    pub name: &'static str,
    /// The input shape with reduced dims set to 1 (the keepdim shape).
    pub keep_shape: Dims,
    pub in_shape: Dims,
    pub scale: f32,
}

impl Backward for SumBackward {
    fn name(&self) -> &'static str {
        self.name
    }

    fn apply(&self, g: &Tensor, _: &[Option<Tensor>]) -> Result<Vec<Option<Tensor>>> {
        let kept = raw::reshaped(g, &self.keep_shape)?;
        let grad = raw::expand(&kept, &self.in_shape);
        let s = self.scale;
        Ok(vec![Some(if s == 1.0 { grad } else { raw::map(&grad, false, |x| x * s)? })])
    }
}
