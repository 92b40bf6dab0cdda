//! Linear: y = x W^T + b.

use super::{one_input, register_weight_bias, Module, ModuleCore};
use crate::creation::uniform;
use crate::error::{bail, Result};
use crate::ops;
use crate::tensor::Tensor;

/// `Linear`: y = x Wᵀ + b, with PyTorch's initialisation.
pub struct Linear {
    /// Weights, shape (out_features, in_features).
    pub weight: Tensor,
    /// Bias, shape (out_features), if the layer has one.
    pub bias: Option<Tensor>,
    core: ModuleCore,
}

impl Linear {
    /// PyTorch's init: kaiming_uniform(a = sqrt(5)) for the weight, which is U(-1/sqrt(in), 1/sqrt(in)),
    /// and the same bound for the bias.
    pub fn new(in_features: usize, out_features: usize, bias: bool) -> Result<Linear> {
        if in_features == 0 || out_features == 0 {
            bail!(InvalidArgument, "in_features ({in_features}) and out_features ({out_features}) must be positive");
        }
        in_features
            .checked_mul(out_features)
            .filter(|n| n.checked_mul(4).is_some_and(|b| b <= isize::MAX as usize))
            .ok_or_else(|| crate::error::err!(OutOfMemory, "a {out_features} x {in_features} weight is too large to allocate"))?;
        let bound = 1.0 / (in_features as f32).sqrt();
        let weight = uniform(&[out_features, in_features], bound)?;
        weight.mark_requires_grad(true);
        let bias = if bias {
            let b = uniform(&[out_features], bound)?;
            b.mark_requires_grad(true);
            Some(b)
        } else {
            None
        };
        let core = ModuleCore::new("Linear");
        register_weight_bias(&core, &weight, bias.as_ref())?;
        Ok(Linear { weight, bias, core })
    }
}

impl Module for Linear {
    fn core(&self) -> &ModuleCore {
        &self.core
    }

    fn forward_n(&self, inputs: &[Option<Tensor>]) -> Result<Tensor> {
        ops::linear(one_input(self, inputs)?, &self.weight, self.bias.as_ref())
    }
}
