//! multinomial: I64 category indices drawn from rows of nonnegative weights, with the one seeded
//! generator (rt_manual_seed).

use super::raw;
use crate::autograd::mode;
use crate::error::{bail, Result};
use crate::rng::with_rng;
use crate::shape::fmt_shape;
use crate::storage::{try_filled, DType};
use crate::tensor::Tensor;
use rand::Rng;

/// torch.multinomial(probs, num_samples, replacement): probs (C) or (R, C) of unnormalised
/// weights. Everything is checked before the generator is touched, so a refused call draws
/// nothing.
pub fn multinomial(probs: &Tensor, num_samples: i64, replacement: bool) -> Result<Tensor> {
    probs.expect_dtype(DType::F32, "probs")?;
    if probs.ndim() == 0 || probs.ndim() > 2 {
        bail!(Shape, "multinomial: probs must be 1-D or 2-D, got shape {}", fmt_shape(probs.shape()));
    }
    let cats = probs.shape()[probs.ndim() - 1];
    let rows = if probs.ndim() == 2 { probs.shape()[0] } else { 1 };
    if cats == 0 {
        bail!(InvalidArgument, "multinomial: probs has no categories (last dim of size 0)");
    }
    if num_samples <= 0 {
        bail!(InvalidArgument, "multinomial: num_samples is {num_samples}; ask for at least 1 sample");
    }
    let n = num_samples as usize;
    let p = probs.try_data::<f32>()?;
    for (r, row) in p.chunks_exact(cats).enumerate() {
        if let Some((j, &v)) = row.iter().enumerate().find(|(_, v)| !(v.is_finite() && **v >= 0.0)) {
            bail!(
                InvalidArgument,
                "multinomial: probability {v} at row {r}, category {j} is not allowed; probabilities must be finite and >= 0"
            );
        }
        let nonzero = row.iter().filter(|&&v| v > 0.0).count();
        if nonzero == 0 {
            bail!(InvalidArgument, "multinomial: row {r} of probs sums to 0; each row needs a positive probability");
        }
        if !replacement && n > nonzero {
            bail!(InvalidArgument, "multinomial: {n} samples without replacement from row {r}, which has only {nonzero} nonzero probabilities; ask for at most {nonzero} or pass replacement = true");
        }
    }
    let total = rows.checked_mul(n).filter(|&t| t <= isize::MAX as usize / 8);
    let Some(total) = total else {
        bail!(OutOfMemory, "multinomial: {rows} x {n} samples are too many to allocate");
    };
    let mut out = try_filled(total, 0i64)?;
    let mut weights = try_filled(cats, 0f64)?;
    with_rng(|rng| {
        for (row, samples) in p.chunks_exact(cats).zip(out.chunks_exact_mut(n)) {
            weights.iter_mut().zip(row).for_each(|(w, &v)| *w = v as f64);
            let mut sum: f64 = weights.iter().sum();
            for s in samples.iter_mut() {
                let pick = draw(&weights, sum, rng.random::<f64>());
                *s = pick as i64;
                if !replacement {
                    // Without replacement: the drawn category leaves the urn.
                    weights[pick] = 0.0;
                    sum = weights.iter().sum();
                }
            }
        }
    });
    let shape: &[usize] = if probs.ndim() == 2 { &[rows, n] } else { &[n] };
    Ok(raw::from_vec(out, shape, mode::is_inference_enabled()))
}

/// The category whose cumulative weight interval holds u * sum; never one of weight 0.
fn draw(weights: &[f64], sum: f64, u: f64) -> usize {
    let target = u * sum;
    let mut acc = 0.0;
    let mut last = 0;
    for (j, &w) in weights.iter().enumerate() {
        if w > 0.0 {
            acc += w;
            last = j;
            if target < acc {
                return j;
            }
        }
    }
    // rounding put u * sum at or past the summed weights: the last positive category
    last
}
