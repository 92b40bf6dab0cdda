//! Optimizers: SGD (momentum, weight decay) and Adam (weight decay), PyTorch's update rules.
//! A step checks every parameter first, then updates each in place without recording, bumping
//! its version counter (like an in-place op under no_grad).

mod adam;
mod sgd;

pub use adam::Adam;
pub use sgd::Sgd;

use crate::autograd::mode;
use crate::error::{bail, Result};
use crate::ops::raw;
use crate::storage::DType;
use crate::tensor::Tensor;

/// One update rule over a list of parameters.
pub trait Rule: Send {
    /// New values of parameter `i` (row-major) from its values and gradient.
    fn update(&mut self, i: usize, lr: f64, p: &[f32], g: &[f32]) -> Result<Vec<f32>>;
}

pub struct Optimizer {
    params: Vec<Tensor>,
    lr: f64,
    rule: Box<dyn Rule>,
}

impl Optimizer {
    /// Keeps the parameters that require grad (others are never updated, as in PyTorch).
    pub fn new(params: Vec<Tensor>, lr: f64, rule: Box<dyn Rule>) -> Result<Optimizer> {
        check_lr(lr)?;
        // Only F32 tensors can require grad, so every kept parameter is F32.
        let params: Vec<Tensor> = params.into_iter().filter(|p| p.requires_grad()).collect();
        Ok(Optimizer { params, lr, rule })
    }

    pub fn lr(&self) -> f64 {
        self.lr
    }

    pub fn set_lr(&mut self, lr: f64) -> Result<()> {
        check_lr(lr)?;
        self.lr = lr;
        Ok(())
    }

    pub fn params(&self) -> &[Tensor] {
        &self.params
    }

    /// Updates every parameter that has a gradient.
    pub fn step(&mut self) -> Result<()> {
        let inference = mode::is_inference_enabled();
        for (i, p) in self.params.iter().enumerate() {
            if p.is_inference() && !inference {
                bail!(
                    InferenceMode,
                    "parameter {i} is an inference tensor, which cannot be updated in place outside inference mode (rule I6)"
                );
            }
            if p.layout().has_internal_overlap() {
                bail!(InvalidArgument, "parameter {i} is an expanded tensor whose elements share memory; pass a contiguous tensor");
            }
        }
        for (i, p) in self.params.iter().enumerate() {
            let Some(g) = p.grad() else { continue };
            let values = self.rule.update(i, self.lr, &p.data::<f32>(), &g.data::<f32>())?;
            raw::copy_into(p, &raw::from_vec(values, p.shape(), false));
            p.storage().bump_version();
        }
        Ok(())
    }

    /// Sets every parameter's gradient to none.
    pub fn zero_grad(&self) {
        for p in &self.params {
            p.meta().grad = None;
        }
    }
}

fn check_lr(lr: f64) -> Result<()> {
    if !(lr.is_finite() && lr >= 0.0) {
        bail!(InvalidArgument, "learning rate {lr} is invalid; pass a finite value >= 0");
    }
    Ok(())
}

/// A hyperparameter that must be finite and within [lo, hi) (or [lo, hi] when `closed`).
pub fn check_range(name: &str, v: f64, lo: f64, hi: f64, closed: bool) -> Result<()> {
    let ok = v.is_finite() && v >= lo && (v < hi || (closed && v == hi));
    if !ok {
        let close = if closed { ']' } else { ')' };
        bail!(InvalidArgument, "{name} = {v} is invalid; pass a value in [{lo}, {hi}{close}");
    }
    Ok(())
}

/// Per-parameter state buffers, allocated as library tensors so the memory statistics count them.
pub(crate) struct StateBuffers {
    buffers: Vec<Option<Tensor>>,
}

impl StateBuffers {
    pub fn new() -> Self {
        StateBuffers { buffers: Vec::new() }
    }

    /// The buffer of parameter `i` (zeros of `len` elements on first use) as a mutable slice.
    pub fn get(&mut self, i: usize, len: usize) -> Result<&mut [f32]> {
        if self.buffers.len() <= i {
            self.buffers.resize(i + 1, None);
        }
        if self.buffers[i].is_none() {
            self.buffers[i] = Some(raw::full(&[len], 0.0, DType::F32, false)?);
        }
        let t = self.buffers[i].as_ref().expect("just made");
        // SAFETY: the buffer is private to this optimizer, which a step holds exclusively.
        Ok(unsafe { t.storage().slice_mut::<f32>() })
    }

    pub fn has(&self, i: usize) -> bool {
        self.buffers.get(i).is_some_and(|b| b.is_some())
    }
}
