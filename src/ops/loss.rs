//! Losses reduced by their mean to a 0-d tensor: cross_entropy (fused log-softmax + negative
//! log-likelihood) and mse_loss.

use super::raw;
use super::record::Recorder;
use crate::autograd::functions::loss::{CrossEntropyBackward, MseBackward};
use crate::error::{bail, Result};
use crate::kernels::{simd, softmax, vmath};
use crate::shape::fmt_shape;
use crate::storage::{try_filled, DType};
use crate::tensor::Tensor;

/// mean over rows of -log softmax(logits)\[target\]: logits (N, C) F32, targets (N) I64 in [0, C).
pub fn cross_entropy(logits: &Tensor, targets: &Tensor) -> Result<Tensor> {
    logits.expect_dtype(DType::F32, "logits")?;
    targets.expect_dtype(DType::I64, "targets")?;
    if logits.ndim() != 2 {
        bail!(Shape, "cross_entropy: logits must be 2-D (N, C), got shape {}", fmt_shape(logits.shape()));
    }
    let (n, c) = (logits.shape()[0], logits.shape()[1]);
    if targets.shape() != [n] {
        bail!(
            Shape,
            "cross_entropy: targets must have shape [{n}] (one class index per row of logits {}), got {}",
            fmt_shape(logits.shape()),
            fmt_shape(targets.shape())
        );
    }
    let t = targets.try_data::<i64>()?;
    if let Some((i, &bad)) = t.iter().enumerate().find(|(_, &v)| v < 0 || v as u64 >= c as u64) {
        bail!(
            InvalidArgument,
            "cross_entropy: targets[{i}] = {bad} is not a class index in [0, {c}); pass class indices below the number of logits per row"
        );
    }
    let rec = Recorder::new(&[logits])?;
    let saved_targets = rec.save(targets, "NllLossBackward")?;
    let x = logits.try_data::<f32>()?;
    // The softmax is kept only when backward will need it: inference mode allocates nothing extra.
    let mut probs = if rec.active() { Some(try_filled(n * c, 0f32)?) } else { None };
    let mut total = 0f64;
    for (r, &target) in t.iter().enumerate() {
        let row = &x[r * c..(r + 1) * c];
        let m = softmax::row_max(row);
        let lse = m + softmax::row_sum_exp(row, m).ln() as f32;
        total += (lse - row[target as usize]) as f64;
        if let Some(p) = probs.as_mut() {
            simd::map_init(&mut p[r * c..(r + 1) * c], row, &vmath::ExpShifted(lse));
        }
    }
    let out = raw::from_vec(vec![(total / n as f64) as f32], &[], rec.inference());
    let saved = match probs {
        Some(p) => vec![rec.save(&raw::from_vec(p, &[n, c], false), "NllLossBackward")?, saved_targets],
        None => vec![],
    };
    Ok(rec.finish(out, || Box::new(CrossEntropyBackward), saved))
}

/// mean((a - b)^2) over elements of two F32 tensors of the same shape.
pub fn mse_loss(a: &Tensor, b: &Tensor) -> Result<Tensor> {
    a.expect_dtype(DType::F32, "a")?;
    b.expect_dtype(DType::F32, "b")?;
    if a.shape() != b.shape() {
        bail!(
            Shape,
            "mse_loss: a has shape {} but b has shape {}; both must have the same shape (reshape one of them; no broadcasting here)",
            fmt_shape(a.shape()),
            fmt_shape(b.shape())
        );
    }
    let rec = Recorder::new(&[a, b])?;
    let saved = vec![rec.save(a, "MseLossBackward")?, rec.save(b, "MseLossBackward")?];
    let (x, y) = (a.try_data::<f32>()?, b.try_data::<f32>()?);
    let sum: f64 = x.iter().zip(y.iter()).map(|(&p, &q)| ((p - q) as f64).powi(2)).sum();
    let out = raw::from_vec(vec![(sum / a.numel() as f64) as f32], &[], rec.inference());
    let needs = [rec.needs_grad(0), rec.needs_grad(1)];
    Ok(rec.finish(out, || Box::new(MseBackward { needs }), saved))
}
