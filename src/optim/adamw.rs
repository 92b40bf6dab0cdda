//! AdamW as torch.optim.AdamW (decoupled weight decay, no amsgrad): p *= 1 - lr * wd, then
//! Adam's update with no L2 term. Wrapping Adam keeps one copy of the Adam arithmetic.

use super::{check_range, Adam, Rule};
use crate::error::Result;

/// The AdamW update rule, for [`super::Optimizer::new`] (torch.optim.AdamW without amsgrad).
pub struct AdamW {
    adam: Adam,
    weight_decay: f64,
}

impl AdamW {
    /// Betas, eps and the decoupled weight decay (PyTorch's defaults: 0.9, 0.999, 1e-8, 0.01);
    /// refused as [`Adam::new`] refuses its arguments, and a negative weight decay.
    pub fn new(beta1: f64, beta2: f64, eps: f64, weight_decay: f64) -> Result<AdamW> {
        check_range("weight_decay", weight_decay, 0.0, f64::MAX, true)?;
        Ok(AdamW { adam: Adam::new(beta1, beta2, eps, 0.0)?, weight_decay })
    }
}

impl Rule for AdamW {
    fn prepare(&mut self, i: usize, len: usize) -> Result<()> {
        self.adam.prepare(i, len)
    }

    fn update(&mut self, i: usize, lr: f64, p: &mut [f32], g: &[f32]) {
        // PyTorch computes the factor in double and multiplies the float32 parameter by it as a
        // float32 scalar.
        let decay = (1.0 - lr * self.weight_decay) as f32;
        if decay != 1.0 {
            p.iter_mut().for_each(|p| *p *= decay);
        }
        self.adam.update(i, lr, p, g);
    }
}
