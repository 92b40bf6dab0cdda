//! Optimizers: SGD (momentum, weight decay), Adam (weight decay) and AdamW, PyTorch's update rules;
//! gradient-norm clipping (clip.rs).
//! A step checks every parameter and allocates everything it needs first (state buffers, staging
//! copies), then updates each parameter in place without recording, bumping its version counter
//! (like an in-place op under no_grad): a step that fails changes no parameter.

mod adam;
mod adamw;
mod clip;
mod sgd;

pub use adam::Adam;
pub use adamw::AdamW;
pub use clip::clip_grad_norm;
pub use sgd::Sgd;

use crate::error::{bail, Result};
use crate::ops::raw;
use crate::storage::DType;
use crate::tensor::Tensor;

/// One update rule over a list of parameters.
pub trait Rule: Send {
    /// Allocates the state of parameter `i` (`len` elements) if it has none yet, so that `update`
    /// cannot fail.
    fn prepare(&mut self, i: usize, len: usize) -> Result<()>;

    /// Updates parameter `i` in place (its values row-major) from its gradient; `prepare(i, _)`
    /// came first.
    fn update(&mut self, i: usize, lr: f64, p: &mut [f32], g: &[f32]);
}

/// An optimizer: parameters, a learning rate and an update [`Rule`] (`Sgd`, `Adam`).
///
/// ```
/// use infer::autograd::engine::backward;
/// use infer::optim::{Optimizer, Sgd};
/// use infer::{creation, ops};
///
/// // One SGD step on loss = sum(w * x): w -= lr * x
/// let w = creation::from_slice(&[1f32, 1.], &[2])?;
/// w.set_requires_grad(true)?;
/// let x = creation::from_slice(&[2f32, -4.], &[2])?;
/// let mut opt = Optimizer::new(vec![w.clone()], 0.5, Box::new(Sgd::new(0.0, 0.0)?))?;
/// opt.zero_grad();
/// backward(&ops::sum(&ops::mul(&w, &x)?, &[], false)?, None, false)?;
/// opt.step()?;
/// assert_eq!(w.to_vec_f32(), vec![0., 3.]);
/// # Ok::<(), infer::Error>(())
/// ```
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

    /// The learning rate.
    pub fn lr(&self) -> f64 {
        self.lr
    }

    /// Sets the learning rate (finite and >= 0).
    pub fn set_lr(&mut self, lr: f64) -> Result<()> {
        check_lr(lr)?;
        self.lr = lr;
        Ok(())
    }

    /// The parameters it updates (those that required grad when it was made).
    pub fn params(&self) -> &[Tensor] {
        &self.params
    }

    /// Updates every parameter that has a gradient.
    pub fn step(&mut self) -> Result<()> {
        for (i, p) in self.params.iter().enumerate() {
            crate::ops::inplace::check_inplace(p, &format!("parameter {i}"), false)?;
        }
        // Everything that can fail comes before the first write.
        let mut work = Vec::new();
        for (i, p) in self.params.iter().enumerate() {
            let Some(g) = p.grad() else { continue };
            self.rule.prepare(i, p.numel())?;
            // The rule reads a contiguous gradient that is not the parameter's own memory (a
            // gradient set by rt_tensor_set_grad may be a view of anything) ...
            let g = if g.is_contiguous() && !g.shares_storage(p) { g } else { raw::contiguous_copy(&g, false)? };
            // ... and writes a contiguous parameter in place, or a staging copy of a strided one.
            let staging = if p.is_contiguous() { None } else { Some(p.try_to_vec::<f32>()?) };
            work.push((i, p, g, staging));
        }
        for (i, p, g, staging) in work {
            let g = g.data::<f32>(); // contiguous: borrowed
            match staging {
                None => {
                    let n = p.numel();
                    // SAFETY: no other slice of p's storage is alive here (g is another storage).
                    let all = unsafe { p.storage().slice_mut::<f32>() };
                    let offset = if n == 0 { 0 } else { p.layout().offset };
                    self.rule.update(i, self.lr, &mut all[offset..offset + n], &g);
                }
                Some(mut values) => {
                    self.rule.update(i, self.lr, &mut values, &g);
                    raw::write_row_major(p, &values);
                }
            }
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

    /// Gives parameter `i` a buffer of `len` zeros unless it has one.
    pub fn prepare(&mut self, i: usize, len: usize) -> Result<()> {
        if self.buffers.len() <= i {
            self.buffers.resize(i + 1, None);
        }
        if self.buffers[i].is_none() {
            self.buffers[i] = Some(raw::full(&[len], 0.0, DType::F32, false)?);
        }
        Ok(())
    }

    /// The buffer of parameter `i`, which `prepare` made.
    pub fn get(&mut self, i: usize) -> &mut [f32] {
        let t = self.buffers[i].as_ref().expect("prepare(i) runs before get(i)");
        // SAFETY: the buffer is private to this optimizer, which a step holds exclusively.
        unsafe { t.storage().slice_mut::<f32>() }
    }
}
