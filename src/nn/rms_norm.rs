//! RMSNorm (nn.RMSNorm(shape, eps, elementwise_affine=True)): x / sqrt(mean(x²) + eps) * weight
//! over the trailing `shape` dims; the weight starts at ones, as PyTorch's.

use super::{one_input, Module, ModuleCore};
use crate::creation;
use crate::error::{bail, Result};
use crate::ops;
use crate::shape::Dims;
use crate::storage::DType;
use crate::tensor::Tensor;

/// `RMSNorm` over the trailing dimensions, with an optional elementwise scale.
pub struct RmsNorm {
    /// Scale, initialised to ones.
    pub weight: Tensor,
    shape: Dims,
    eps: f64,
    core: ModuleCore,
}

impl RmsNorm {
    /// `eps` is taken literally (rt_tensor_rms_norm's choice: PyTorch's eps=None is FLT_EPSILON).
    pub fn new(shape: &[usize], eps: f64) -> Result<RmsNorm> {
        if shape.is_empty() {
            bail!(InvalidArgument, "RMSNorm needs at least one normalized dim; `ndim` is 0");
        }
        if !(eps.is_finite() && eps >= 0.0) {
            bail!(InvalidArgument, "`eps` is {eps}; pass a finite value >= 0 (typically 1e-6)");
        }
        let weight = creation::ones(shape, DType::F32)?;
        let core = ModuleCore::new("RMSNorm");
        core.register_parameter("weight", weight.clone(), true)?;
        Ok(RmsNorm { weight, shape: shape.into(), eps, core })
    }
}

impl Module for RmsNorm {
    fn core(&self) -> &ModuleCore {
        &self.core
    }

    fn forward_n(&self, inputs: &[Option<Tensor>]) -> Result<Tensor> {
        ops::rms_norm(one_input(self, inputs)?, &self.shape, Some(&self.weight), self.eps)
    }
}
