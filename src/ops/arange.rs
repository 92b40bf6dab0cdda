//! arange: start, start + step, ... below end (above it for a negative step).

use super::raw;
use crate::autograd::mode;
use crate::error::{bail, Result};
use crate::storage::{try_with_capacity, DType};
use crate::tensor::Tensor;

/// torch.arange(start, end, step, dtype): ceil((end - start) / step) values start + i step,
/// computed in f64 (PyTorch's CPU accumulation type for floats) then stored in the dtype.
pub fn arange(start: f64, end: f64, step: f64, dtype: DType) -> Result<Tensor> {
    if dtype == DType::Bool {
        bail!(Dtype, "arange: BOOL ranges are not defined (as in PyTorch); make an F32 or I64 range and compare it");
    }
    if !(start.is_finite() && end.is_finite() && step.is_finite()) {
        bail!(InvalidArgument, "arange: start {start}, end {end} and step {step} must all be finite");
    }
    if step == 0.0 {
        bail!(InvalidArgument, "arange: step is 0, so the range never ends; pass a nonzero step");
    }
    if (end - start) * step < 0.0 {
        bail!(InvalidArgument, "arange: a step of {step} never goes from {start} to {end}; the step's sign must match end - start");
    }
    if dtype == DType::I64 && [start, end, step].iter().any(|v| v.fract() != 0.0 || v.abs() >= 9.2e18) {
        bail!(InvalidArgument, "arange: an I64 range needs whole start, end and step within the int64 range, got {start}, {end}, {step}; use RT_DTYPE_F32 for fractional values");
    }
    let len = ((end - start) / step).ceil();
    if len > (isize::MAX as usize / 8) as f64 {
        bail!(OutOfMemory, "arange: {len} values are too many to allocate");
    }
    let n = len as usize;
    let inference = mode::is_inference_enabled();
    Ok(match dtype {
        DType::F32 => {
            let mut v = try_with_capacity(n)?;
            v.extend((0..n).map(|i| (start + i as f64 * step) as f32));
            raw::from_vec(v, &[n], inference)
        }
        DType::I64 => {
            let (s, st) = (start as i64, step as i64);
            let mut v = try_with_capacity(n)?;
            v.extend((0..n as i64).map(|i| s + i * st));
            raw::from_vec(v, &[n], inference)
        }
        DType::Bool => unreachable!("refused above"),
    })
}
