//! Linear: y = x W^T + b.

use super::{push_weight_bias, Module, TrainingFlag};
use crate::creation::uniform;
use crate::error::{bail, Result};
use crate::ops;
use crate::tensor::Tensor;

pub struct Linear {
    pub weight: Tensor,
    pub bias: Option<Tensor>,
    training: TrainingFlag,
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
        Ok(Linear { weight, bias, training: TrainingFlag::default() })
    }
}

impl Module for Linear {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        ops::linear(x, &self.weight, self.bias.as_ref())
    }

    fn training_flag(&self) -> &TrainingFlag {
        &self.training
    }

    fn named_tensors(&self, prefix: &str, out: &mut Vec<(String, Tensor)>) {
        push_weight_bias(prefix, &self.weight, self.bias.as_ref(), out);
    }

    fn as_linear(&self) -> Option<&Linear> {
        Some(self)
    }
}
