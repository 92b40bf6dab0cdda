//! BatchNorm1d / BatchNorm2d: batch statistics in training (updating the running statistics with
//! momentum and the unbiased variance, and counting batches), running statistics in eval.

use super::{one_input, register_weight_bias, Module, ModuleCore};
use crate::autograd::mode;
use crate::creation;
use crate::error::{bail, Result};
use crate::ops;
use crate::ops::inplace::{self, Inplace};
use crate::shape::fmt_shape;
use crate::storage::DType;
use crate::tensor::Tensor;

/// `BatchNorm1d` / `BatchNorm2d`: batch statistics in training (updating the running ones), running statistics in eval.
pub struct BatchNorm {
    /// Per-feature scale (`weight`), initialised to ones.
    pub weight: Tensor,
    /// Per-feature shift (`bias`), initialised to zeros.
    pub bias: Tensor,
    /// Running mean buffer.
    pub running_mean: Tensor,
    /// Running (unbiased) variance buffer.
    pub running_var: Tensor,
    /// Number of training batches seen (an I64 buffer).
    pub num_batches_tracked: Tensor,
    eps: f64,
    momentum: f64,
    /// Input ranks this flavour accepts: [2, 3] for BatchNorm1d, [4] for BatchNorm2d.
    ranks: &'static [usize],
    core: ModuleCore,
}

impl BatchNorm {
    /// A batch norm over `num_features` channels; `two_d` picks `BatchNorm2d` (4-D inputs) over `BatchNorm1d` (2-D or 3-D).
    pub fn new(num_features: usize, eps: f64, momentum: f64, two_d: bool) -> Result<BatchNorm> {
        if !eps.is_finite() || eps <= 0.0 || !(0.0..=1.0).contains(&momentum) {
            bail!(InvalidArgument, "eps ({eps}) must be > 0 and momentum ({momentum}) within [0, 1]");
        }
        let param = |v: f64| -> Result<Tensor> {
            let t = creation::full(&[num_features], v, DType::F32)?;
            t.mark_requires_grad(true);
            Ok(t)
        };
        let bn = BatchNorm {
            weight: param(1.0)?,
            bias: param(0.0)?,
            running_mean: creation::zeros(&[num_features], DType::F32)?,
            running_var: creation::ones(&[num_features], DType::F32)?,
            num_batches_tracked: creation::zeros(&[], DType::I64)?,
            eps,
            momentum,
            ranks: if two_d { &[4] } else { &[2, 3] },
            core: ModuleCore::new(if two_d { "BatchNorm2d" } else { "BatchNorm1d" }),
        };
        register_weight_bias(&bn.core, &bn.weight, Some(&bn.bias))?;
        bn.core.register_buffer("running_mean", bn.running_mean.clone(), true)?;
        bn.core.register_buffer("running_var", bn.running_var.clone(), true)?;
        bn.core.register_buffer("num_batches_tracked", bn.num_batches_tracked.clone(), true)?;
        Ok(bn)
    }
}

impl BatchNorm {
    /// eps, when this is a BatchNorm2d in eval mode (Sequential then folds it into the Conv2d
    /// before it).
    pub(super) fn eval_2d(&self) -> Option<f64> {
        (self.ranks == [4] && !self.core.is_training()).then_some(self.eps)
    }
}

impl Module for BatchNorm {
    fn core(&self) -> &ModuleCore {
        &self.core
    }

    fn forward_n(&self, inputs: &[Option<Tensor>]) -> Result<Tensor> {
        let x = one_input(self, inputs)?;
        if !self.ranks.contains(&x.ndim()) {
            let want = if self.ranks == [4] { "4-D (N, C, H, W)" } else { "2-D (N, C) or 3-D (N, C, L)" };
            bail!(Shape, "batch norm expects a {want} input, got shape {}", fmt_shape(x.shape()));
        }
        let training = self.core.is_training();
        let y = ops::batch_norm(
            x,
            Some(&self.running_mean),
            Some(&self.running_var),
            Some(&self.weight),
            Some(&self.bias),
            training,
            self.momentum,
            self.eps,
        )?;
        if training {
            // Counted after the op succeeded, so a refused forward changes nothing.
            let _no_grad = mode::GradModeGuard::new(false);
            let count = self.num_batches_tracked.to_vec_i64()[0];
            inplace::apply(&self.num_batches_tracked, None, Inplace::Fill(count as f64 + 1.0))?;
        }
        Ok(y)
    }
}
