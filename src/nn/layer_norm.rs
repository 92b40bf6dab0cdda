//! LayerNorm over the trailing `normalized_shape` dims, with an affine weight and bias.

use super::{one_input, register_weight_bias, Module, ModuleCore};
use crate::creation;
use crate::error::{bail, Result};
use crate::ops;
use crate::shape::Dims;
use crate::storage::DType;
use crate::tensor::Tensor;

/// `LayerNorm` over the trailing `shape` dimensions, with an elementwise affine transform.
pub struct LayerNorm {
    /// Scale, initialised to ones.
    pub weight: Tensor,
    /// Shift, initialised to zeros.
    pub bias: Tensor,
    shape: Dims,
    eps: f64,
    core: ModuleCore,
}

impl LayerNorm {
    /// A layer norm over trailing dimensions `shape`, with `eps` added to the variance.
    pub fn new(shape: &[usize], eps: f64) -> Result<LayerNorm> {
        if shape.is_empty() || !(eps.is_finite() && eps > 0.0) {
            bail!(InvalidArgument, "layer norm needs at least one normalized dim and eps > 0 (got {} dims, eps {eps})", shape.len());
        }
        let weight = creation::ones(shape, DType::F32)?;
        weight.mark_requires_grad(true);
        let bias = creation::zeros(shape, DType::F32)?;
        bias.mark_requires_grad(true);
        let core = ModuleCore::new("LayerNorm");
        register_weight_bias(&core, &weight, Some(&bias))?;
        Ok(LayerNorm { weight, bias, shape: shape.into(), eps, core })
    }
}

impl Module for LayerNorm {
    fn core(&self) -> &ModuleCore {
        &self.core
    }

    fn forward_n(&self, inputs: &[Option<Tensor>]) -> Result<Tensor> {
        ops::layer_norm(one_input(self, inputs)?, &self.shape, Some(&self.weight), Some(&self.bias), self.eps)
    }
}
