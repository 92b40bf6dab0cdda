//! Derivative of rms_norm (formulas in kernels/rms_norm.rs).

use crate::autograd::node::{saved_at, Backward};
use crate::compute::raw;
use crate::error::Result;
use crate::kernels::rms_norm::backward;
use crate::shape::Dims;
use crate::storage::{try_collect, try_filled};
use crate::tensor::Tensor;

/// Saved: [x, weight (when dx is wanted and there is one), rstd per row].
pub struct RmsNormBackward {
    /// Elements per normalised row.
    pub n: usize,
    pub has_weight: bool,
    /// Gradients wanted for [x, weight].
    pub needs: [bool; 2],
    /// normalized_shape, the weight's shape.
    pub shape: Dims,
}

impl Backward for RmsNormBackward {
    fn name(&self) -> &'static str {
        "RmsNormBackward"
    }

    fn apply(&self, g: &Tensor, saved: &[Option<Tensor>]) -> Result<Vec<Option<Tensor>>> {
        let x = saved_at(saved, 0);
        let weight = saved[1].as_ref().map(|w| w.try_data::<f32>()).transpose()?;
        let rstd = saved_at(saved, 2).try_data::<f32>()?;
        let mut dx = if self.needs[0] { Some(try_filled(x.numel(), 0f32)?) } else { None };
        let mut dw = if self.needs[1] { Some(try_filled(self.n, 0f64)?) } else { None };
        backward(&x.try_data::<f32>()?, &g.try_data::<f32>()?, self.n, &rstd, weight.as_deref(), dx.as_deref_mut(), dw.as_deref_mut());
        let mut out = vec![dx.map(|d| raw::from_vec(d, x.shape(), false))];
        if self.has_weight {
            out.push(match dw {
                Some(d) => Some(raw::from_vec(try_collect(d.len(), d.iter().map(|&v| v as f32))?, &self.shape, false)),
                None => None,
            });
        }
        Ok(out)
    }
}
