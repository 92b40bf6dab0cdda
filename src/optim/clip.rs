//! Gradient-norm clipping as torch.nn.utils.clip_grad_norm_ (error_if_nonfinite = false): the
//! p-norm of all gradients together, and every gradient scaled in place by
//! max_norm / (total + 1e-6) when that is below 1. Gradients are not part of any graph, so they are
//! written without recording, as PyTorch does under no_grad.

use crate::error::{bail, Result};
use crate::ops::raw;
use crate::storage::DType;
use crate::tensor::Tensor;

/// Clips the gradients of `params` (those without one are skipped) and returns their total norm
/// before clipping. Everything that can fail comes before the first write.
pub fn clip_grad_norm(params: &[Tensor], max_norm: f64, norm_type: f64) -> Result<f64> {
    if max_norm.is_nan() || max_norm < 0.0 {
        bail!(InvalidArgument, "max_norm = {max_norm} is invalid; pass a value >= 0 (INFINITY measures the norm without clipping)");
    }
    if norm_type.is_nan() || norm_type <= 0.0 {
        bail!(
            InvalidArgument,
            "norm_type = {norm_type} is invalid; pass a p > 0 (2.0 for the Euclidean norm) or INFINITY (the largest magnitude)"
        );
    }
    let mut grads = Vec::new();
    for (i, p) in params.iter().enumerate() {
        let Some(g) = p.grad() else { continue };
        if g.dtype() != DType::F32 {
            bail!(Dtype, "the gradient of parameter {i} is {:?}; only F32 gradients can be clipped", g.dtype());
        }
        crate::ops::inplace::check_inplace(&g, &format!("the gradient of parameter {i}"), false)?;
        grads.push(g);
    }
    let total = total_norm(&grads, norm_type)?;
    // torch.clamp(coef, max=1) keeps a NaN coefficient (a NaN total), which then reaches the grads.
    let coef = max_norm / (total + 1e-6);
    if coef >= 1.0 {
        return Ok(total);
    }
    let coef = coef as f32;
    // A strided gradient is scaled in a staging copy, gathered before any write.
    let mut work = Vec::with_capacity(grads.len());
    for g in grads {
        let staging = if g.is_contiguous() { None } else { Some(g.try_to_vec::<f32>()?) };
        work.push((g, staging));
    }
    for (g, staging) in work {
        match staging {
            None => {
                let n = g.numel();
                // SAFETY: no other slice of g's storage is alive here.
                let all = unsafe { g.storage().slice_mut::<f32>() };
                let offset = if n == 0 { 0 } else { g.layout().offset };
                all[offset..offset + n].iter_mut().for_each(|v| *v *= coef);
            }
            Some(mut values) => {
                values.iter_mut().for_each(|v| *v *= coef);
                raw::write_row_major(&g, &values);
            }
        }
        g.storage().bump_version();
    }
    Ok(total)
}

/// The `p`-norm of all elements of `grads` together, accumulated in double.
fn total_norm(grads: &[Tensor], p: f64) -> Result<f64> {
    let mut acc = 0.0f64;
    for g in grads {
        let values = g.try_data::<f32>()?;
        for &v in values.iter() {
            let a = (v as f64).abs();
            acc = if p == f64::INFINITY {
                // NaN wins, as in PyTorch's max-norm.
                if a.is_nan() || a > acc {
                    a
                } else {
                    acc
                }
            } else if p == 2.0 {
                acc + a * a
            } else if p == 1.0 {
                acc + a
            } else {
                acc + a.powf(p)
            };
        }
    }
    Ok(if p == f64::INFINITY || p == 1.0 { acc } else { acc.powf(1.0 / p) })
}
