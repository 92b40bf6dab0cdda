//! Dropout with the process-wide generator (rt_manual_seed makes it reproducible).

use super::raw;
use super::record::Recorder;
use crate::autograd::functions::dropout::DropoutBackward;
use crate::error::{bail, Result};
use crate::rng::with_rng;
use crate::storage::{try_with_capacity, DType};
use crate::tensor::Tensor;
use rand::Rng;

/// Training: each element is kept with probability 1 - p and scaled by 1 / (1 - p), else zeroed
/// (p == 1 zeroes everything). Not training, or p == 0: x itself, as PyTorch returns its input.
pub fn dropout(x: &Tensor, p: f64, training: bool) -> Result<Tensor> {
    x.expect_dtype(DType::F32, "input")?;
    if !(0.0..=1.0).contains(&p) {
        bail!(InvalidArgument, "dropout: p is {p}; a drop probability must be in [0, 1]");
    }
    if !training || p == 0.0 {
        return Ok(x.clone());
    }
    let rec = Recorder::new(&[x])?;
    let scale = (1.0 / (1.0 - p)) as f32;
    let n = x.numel();
    let mut mask = try_with_capacity(n)?;
    with_rng(|r| mask.extend((0..n).map(|_| if r.random::<f64>() >= p { scale } else { 0.0 })));
    // x * m (not a select), so a NaN or infinity in x stays NaN where dropped, as in PyTorch.
    let mut out = try_with_capacity(n)?;
    out.extend(x.try_data::<f32>()?.iter().zip(&mask).map(|(&v, &m)| v * m));
    let out = raw::from_vec(out, x.shape(), rec.inference());
    // The mask becomes a tensor only when backward needs it.
    let saved = if rec.active() { vec![rec.save(&raw::from_vec(mask, x.shape(), false), "NativeDropoutBackward")?] } else { vec![] };
    Ok(rec.finish(out, || Box::new(DropoutBackward), saved))
}
