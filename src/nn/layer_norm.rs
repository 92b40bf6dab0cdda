//! LayerNorm over the trailing `normalized_shape` dims, with an affine weight and bias.

use super::{Module, TrainingFlag};
use crate::creation;
use crate::error::{bail, Result};
use crate::ops;
use crate::shape::Dims;
use crate::storage::DType;
use crate::tensor::Tensor;

pub struct LayerNorm {
    pub weight: Tensor,
    pub bias: Tensor,
    shape: Dims,
    eps: f64,
    training: TrainingFlag,
}

impl LayerNorm {
    pub fn new(shape: &[usize], eps: f64) -> Result<LayerNorm> {
        if shape.is_empty() || !(eps.is_finite() && eps > 0.0) {
            bail!(InvalidArgument, "layer norm needs at least one normalized dim and eps > 0 (got {} dims, eps {eps})", shape.len());
        }
        let weight = creation::ones(shape, DType::F32)?;
        weight.mark_requires_grad(true);
        let bias = creation::zeros(shape, DType::F32)?;
        bias.mark_requires_grad(true);
        Ok(LayerNorm { weight, bias, shape: shape.into(), eps, training: TrainingFlag::default() })
    }
}

impl Module for LayerNorm {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        ops::layer_norm(x, &self.shape, Some(&self.weight), Some(&self.bias), self.eps)
    }

    fn training_flag(&self) -> &TrainingFlag {
        &self.training
    }

    fn named_tensors(&self, prefix: &str, out: &mut Vec<(String, Tensor)>) {
        out.push((format!("{prefix}weight"), self.weight.clone()));
        out.push((format!("{prefix}bias"), self.bias.clone()));
    }
}
