//! layer_norm and the functional batch_norm (PyTorch's F.layer_norm / F.batch_norm).

use super::raw;
use super::record::Recorder;
use crate::autograd::functions::norm::{BatchNormBackward, LayerNormBackward};
use crate::error::{bail, Result};
use crate::kernels::norm::{inv_std, layer_forward, Affine, Channels};
use crate::shape::{fmt_shape, numel};
use crate::storage::{try_collect, try_copy, try_filled, try_written, DType};
use crate::tensor::Tensor;

fn check_eps(eps: f64, op: &str) -> Result<()> {
    if !(eps.is_finite() && eps >= 0.0) {
        bail!(InvalidArgument, "{op}: eps is {eps}; pass a finite value >= 0 (typically 1e-5)");
    }
    Ok(())
}

fn check_param(p: Option<&Tensor>, shape: &[usize], what: &str, op: &str) -> Result<()> {
    match p {
        Some(p) if p.shape() != shape => bail!(Shape, "{op}: {what} must have shape {}, got {}", fmt_shape(shape), fmt_shape(p.shape())),
        _ => Ok(()),
    }
}

/// The tensors an op records: x, then the weight and bias that were given.
fn inputs<'a>(x: &'a Tensor, w: Option<&'a Tensor>, b: Option<&'a Tensor>) -> Vec<&'a Tensor> {
    [Some(x), w, b].into_iter().flatten().collect()
}

/// Normalises over the trailing dims `normalized_shape` (biased variance), then applies the
/// optional elementwise affine w, b (each of shape `normalized_shape`).
pub fn layer_norm(x: &Tensor, normalized_shape: &[usize], w: Option<&Tensor>, b: Option<&Tensor>, eps: f64) -> Result<Tensor> {
    x.expect_dtype(DType::F32, "input")?;
    for (p, what) in [(w, "weight"), (b, "bias")] {
        if let Some(p) = p {
            p.expect_dtype(DType::F32, what)?;
        }
    }
    if normalized_shape.is_empty() {
        bail!(InvalidArgument, "layer_norm: normalized_shape is empty; pass at least one trailing dim to normalise over");
    }
    check_eps(eps, "layer_norm")?;
    let k = normalized_shape.len();
    if x.ndim() < k || x.shape()[x.ndim() - k..] != *normalized_shape {
        bail!(
            Shape,
            "layer_norm: input of shape {} does not end in normalized_shape {}",
            fmt_shape(x.shape()),
            fmt_shape(normalized_shape)
        );
    }
    check_param(w, normalized_shape, "weight", "layer_norm")?;
    check_param(b, normalized_shape, "bias", "layer_norm")?;
    let n = numel(normalized_shape);
    let rows = numel(&x.shape()[..x.ndim() - k]);
    let rec = Recorder::new(&inputs(x, w, b))?;
    let needs =
        [rec.needs_grad(0), w.is_some_and(|w| w.requires_grad()) && rec.active(), b.is_some_and(|b| b.requires_grad()) && rec.active()];
    let saved_x = rec.save(x, "NativeLayerNormBackward")?;
    let saved_w = match w {
        Some(w) if needs[0] => rec.save(w, "NativeLayerNormBackward")?,
        _ => None,
    };
    let (wd, bd) = (w.map(|w| w.try_data::<f32>()).transpose()?, b.map(|b| b.try_data::<f32>()).transpose()?);
    let (mut mean, mut rstd) = (try_filled(rows, 0f32)?, try_filled(rows, 0f32)?);
    let (xd, affine) = (x.try_data::<f32>()?, Affine { weight: wd.as_deref(), bias: bd.as_deref() });
    // SAFETY: layer_forward writes every value of y (rows x n).
    let y = unsafe { try_written(x.numel(), |y| layer_forward(&xd, n, eps, affine, y, &mut mean, &mut rstd))? };
    let out = raw::from_vec(y, x.shape(), rec.inference());
    let saved = if rec.active() {
        let stats = |v: Vec<f32>| rec.save(&raw::from_vec(v, &[rows], false), "NativeLayerNormBackward");
        vec![saved_x, saved_w, stats(mean)?, stats(rstd)?]
    } else {
        vec![]
    };
    let backward = LayerNormBackward { n, has_weight: w.is_some(), has_bias: b.is_some(), needs, shape: normalized_shape.into() };
    Ok(rec.finish(out, || Box::new(backward), saved))
}

/// Running statistics are updated in place: the rules of in-place ops apply (API.md I6), checked
/// before anything is written.
fn check_running(t: &Tensor, what: &str) -> Result<()> {
    super::inplace::check_inplace(t, &format!("batch_norm: {what}, which training mode updates in place,"), false)
}

/// F.batch_norm over channel dim 1 of x (N, C, ...): training normalises with the batch mean and
/// biased variance and, when running statistics are given, updates them in place with
/// `momentum` (the variance with the unbiased batch variance), bumping their versions; eval
/// normalises with the running statistics, which are then required.
#[allow(clippy::too_many_arguments)]
pub fn batch_norm(
    x: &Tensor,
    running_mean: Option<&Tensor>,
    running_var: Option<&Tensor>,
    w: Option<&Tensor>,
    b: Option<&Tensor>,
    training: bool,
    momentum: f64,
    eps: f64,
) -> Result<Tensor> {
    if !training && (running_mean.is_none() || running_var.is_none()) {
        bail!(
            NullArgument,
            "batch_norm: running_mean and running_var are required in evaluation mode (training = false); pass both or set training"
        );
    }
    let params = [(Some(x), "input"), (running_mean, "running_mean"), (running_var, "running_var"), (w, "weight"), (b, "bias")];
    for (p, what) in params {
        if let Some(p) = p {
            p.expect_dtype(DType::F32, what)?;
        }
    }
    check_eps(eps, "batch_norm")?;
    if !momentum.is_finite() {
        bail!(InvalidArgument, "batch_norm: momentum is {momentum}; pass a finite value (typically 0.1)");
    }
    if x.ndim() < 2 {
        bail!(Shape, "batch_norm: input must have at least 2 dims (N, C, ...), got shape {}", fmt_shape(x.shape()));
    }
    let ch = Channels { batch: x.shape()[0], channels: x.shape()[1], spatial: numel(&x.shape()[2..]) };
    for (p, what) in &params[1..] {
        check_param(*p, &[ch.channels], what, "batch_norm")?;
    }
    if training && ch.count() <= 1 {
        bail!(Shape, "batch_norm: training needs more than 1 value per channel to compute batch statistics, but the input has shape {}; use a larger batch or evaluation mode", fmt_shape(x.shape()));
    }
    let running: Vec<(&Tensor, &str)> =
        [(running_mean, "running_mean"), (running_var, "running_var")].into_iter().filter_map(|(t, n)| t.map(|t| (t, n))).collect();
    if training {
        for (t, what) in &running {
            check_running(t, what)?;
        }
    }
    let rec = Recorder::new(&inputs(x, w, b))?;
    let needs =
        [rec.needs_grad(0), w.is_some_and(|w| w.requires_grad()) && rec.active(), b.is_some_and(|b| b.requires_grad()) && rec.active()];
    let saved_x = rec.save(x, "NativeBatchNormBackward")?;
    let saved_w = match w {
        Some(w) if needs[0] => rec.save(w, "NativeBatchNormBackward")?,
        _ => None,
    };

    let xd = x.try_data::<f32>()?;
    let (mean, invstd, batch_var) = if training {
        let stats = ch.stats(&xd)?;
        let mean = try_collect(stats.len(), stats.iter().map(|s| s.0 as f32))?;
        let invstd = try_collect(stats.len(), stats.iter().map(|s| inv_std(s.1, eps)))?;
        (mean, invstd, Some(stats))
    } else {
        let rm = running_mean.expect("checked above").try_to_vec::<f32>()?;
        let rv = running_var.expect("checked above").try_data::<f32>()?;
        let invstd = try_collect(rv.len(), rv.iter().map(|&v| inv_std(v as f64, eps)))?;
        (rm, invstd, None)
    };
    let (wd, bd) = (w.map(|w| w.try_data::<f32>()).transpose()?, b.map(|b| b.try_data::<f32>()).transpose()?);
    let affine = Affine { weight: wd.as_deref(), bias: bd.as_deref() };
    // SAFETY: normalize writes every value of y (every plane of `spatial` values).
    let y = unsafe { try_written(x.numel(), |y| ch.normalize(&xd, &mean, &invstd, affine, y))? };
    let out = raw::from_vec(y, x.shape(), rec.inference());
    let saved = if rec.active() {
        let stat = |v: &[f32]| rec.save(&raw::from_vec(try_copy(v)?, &[ch.channels], false), "NativeBatchNormBackward");
        vec![saved_x, saved_w, stat(&mean)?, stat(&invstd)?]
    } else {
        vec![]
    };
    if let Some(stats) = batch_var {
        update_running(running_mean, running_var, &stats, ch.count(), momentum)?;
    }
    let backward = BatchNormBackward { ch, training, has_weight: w.is_some(), has_bias: b.is_some(), needs };
    Ok(rec.finish(out, || Box::new(backward), saved))
}

/// running = (1 - momentum) running + momentum batch, with the unbiased variance (count / (count - 1)).
/// Both new values are computed before either tensor is written.
fn update_running(rm: Option<&Tensor>, rv: Option<&Tensor>, stats: &[(f64, f64)], count: usize, momentum: f64) -> Result<()> {
    let unbias = count as f64 / (count - 1) as f64;
    let mut updates = Vec::with_capacity(2);
    for (t, variance) in [(rm, false), (rv, true)] {
        let Some(t) = t else { continue };
        let new = try_collect(
            stats.len(),
            t.try_data::<f32>()?.iter().zip(stats).map(|(&r, &(m, v))| {
                let batch = if variance { v * unbias } else { m };
                ((1.0 - momentum) * r as f64 + momentum * batch) as f32
            }),
        )?;
        updates.push((t, raw::from_vec(new, &[stats.len()], false)));
    }
    for (t, new) in updates {
        raw::copy_into(t, &new);
        t.storage().bump_version();
    }
    Ok(())
}
