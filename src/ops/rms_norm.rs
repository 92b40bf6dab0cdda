//! rms_norm (PyTorch's F.rms_norm): x / sqrt(mean(x² over the trailing dims `shape`) + eps) * w.

use super::raw;
use super::record::Recorder;
use crate::autograd::functions::rms_norm::RmsNormBackward;
use crate::error::{bail, Result};
use crate::kernels::rms_norm as kernel;
use crate::shape::{fmt_shape, numel};
use crate::storage::{try_filled, try_written, DType};
use crate::tensor::Tensor;

const NAME: &str = "RmsNormBackward";

/// RMS normalisation over the trailing dimensions `shape`, scaled by `w` when given (`F.rms_norm`).
pub fn rms_norm(x: &Tensor, shape: &[usize], w: Option<&Tensor>, eps: f64) -> Result<Tensor> {
    x.expect_dtype(DType::F32, "input")?;
    if let Some(w) = w {
        w.expect_dtype(DType::F32, "weight")?;
    }
    if shape.is_empty() {
        bail!(InvalidArgument, "rms_norm: normalized_shape is empty; pass at least one trailing dim to normalise over");
    }
    if !(eps.is_finite() && eps >= 0.0) {
        bail!(InvalidArgument, "rms_norm: eps is {eps}; pass a finite value >= 0 (typically 1e-6)");
    }
    let k = shape.len();
    if x.ndim() < k || x.shape()[x.ndim() - k..] != *shape {
        bail!(Shape, "rms_norm: input of shape {} does not end in normalized_shape {}", fmt_shape(x.shape()), fmt_shape(shape));
    }
    if let Some(w) = w.filter(|w| w.shape() != shape) {
        bail!(Shape, "rms_norm: weight must have shape {}, got {}", fmt_shape(shape), fmt_shape(w.shape()));
    }
    let n = numel(shape);
    let inputs: Vec<&Tensor> = [Some(x), w].into_iter().flatten().collect();
    let rec = Recorder::new(&inputs)?;
    let needs = [rec.needs_grad(0), w.is_some() && rec.needs_grad(1)];
    // dx needs x and w; dw needs x.
    let saved_x = rec.save(x, NAME)?;
    let saved_w = match w {
        Some(w) if needs[0] => rec.save(w, NAME)?,
        _ => None,
    };
    let wd = w.map(|w| w.try_data::<f32>()).transpose()?;
    let mut rstd = try_filled(x.numel().checked_div(n).unwrap_or(0), 0f32)?;
    let xd = x.try_data::<f32>()?;
    // SAFETY: kernel::forward writes every value of y (each row of n, or none if n = 0).
    let y = unsafe { try_written(x.numel(), |y| kernel::forward(&xd, n, eps, wd.as_deref(), y, &mut rstd))? };
    let out = raw::from_vec(y, x.shape(), rec.inference());
    let saved = if rec.active() {
        let rows = rstd.len();
        vec![saved_x, saved_w, rec.save(&raw::from_vec(rstd, &[rows], false), NAME)?]
    } else {
        vec![]
    };
    let backward = RmsNormBackward { n, has_weight: w.is_some(), needs, shape: shape.into() };
    Ok(rec.finish(out, || Box::new(backward), saved))
}
