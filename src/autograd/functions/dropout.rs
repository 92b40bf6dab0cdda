//! Derivative of dropout: y = x * m with the saved mask m (0 or 1 / (1 - p)), so dx = g * m.

use crate::autograd::node::{saved_at, Backward};
use crate::compute::raw;
use crate::error::Result;
use crate::tensor::Tensor;

/// Saved: \[m\].
pub struct DropoutBackward;

impl Backward for DropoutBackward {
    fn name(&self) -> &'static str {
        "NativeDropoutBackward"
    }

    fn apply(&self, g: &Tensor, saved: &[Option<Tensor>]) -> Result<Vec<Option<Tensor>>> {
        Ok(vec![Some(raw::mul(g, saved_at(saved, 0))?)])
    }
}
