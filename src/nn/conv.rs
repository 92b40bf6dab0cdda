//! Conv2d: square kernels, one stride and padding for both spatial dims.

use super::{one_input, register_weight_bias, Module, ModuleCore};
use crate::creation::uniform;
use crate::error::{bail, Result};
use crate::ops;
use crate::tensor::Tensor;

/// `Conv2d`: a 2-D convolution with PyTorch's initialisation.
pub struct Conv2d {
    /// Kernels, shape (out_channels, in_channels, kh, kw).
    pub weight: Tensor,
    /// Per-output-channel bias, if the layer has one.
    pub bias: Option<Tensor>,
    pub(super) stride: i64,
    pub(super) padding: i64,
    core: ModuleCore,
}

impl Conv2d {
    /// PyTorch's init: weight and bias ~ U(-1/sqrt(fan_in), 1/sqrt(fan_in)), fan_in = in * k * k
    /// (kaiming_uniform with a = sqrt(5)).
    pub fn new(in_channels: usize, out_channels: usize, kernel_size: usize, stride: i64, padding: i64, bias: bool) -> Result<Conv2d> {
        if stride < 1 || padding < 0 {
            bail!(InvalidArgument, "stride ({stride}) must be >= 1 and padding ({padding}) >= 0");
        }
        let fan_in = in_channels
            .checked_mul(kernel_size)
            .and_then(|v| v.checked_mul(kernel_size))
            .filter(|&f| f.checked_mul(out_channels).is_some_and(|n| n <= isize::MAX as usize / 4))
            .ok_or_else(|| {
                crate::error::err!(
                    OutOfMemory,
                    "a {out_channels} x {in_channels} x {kernel_size} x {kernel_size} weight is too large to allocate"
                )
            })?;
        let bound = 1.0 / (fan_in as f32).sqrt();
        let weight = uniform(&[out_channels, in_channels, kernel_size, kernel_size], bound)?;
        weight.mark_requires_grad(true);
        let bias = if bias {
            let b = uniform(&[out_channels], bound)?;
            b.mark_requires_grad(true);
            Some(b)
        } else {
            None
        };
        let core = ModuleCore::new("Conv2d");
        register_weight_bias(&core, &weight, bias.as_ref())?;
        Ok(Conv2d { weight, bias, stride, padding, core })
    }
}

impl Module for Conv2d {
    fn core(&self) -> &ModuleCore {
        &self.core
    }

    fn forward_n(&self, inputs: &[Option<Tensor>]) -> Result<Tensor> {
        ops::conv2d(one_input(self, inputs)?, &self.weight, self.bias.as_ref(), self.stride, self.padding)
    }
}
