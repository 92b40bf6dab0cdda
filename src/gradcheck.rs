//! Finite-difference gradient check: compares the gradients backward computes with central
//! differences of the forward, for any function of tensors built from the recording ops.
//!
//! The function's output y is reduced to the scalar L = sum(y * v) with fixed, varied weights v
//! (so every output element and every sign of the derivative matters); backward gives dL/dx,
//! and each input element is then nudged by +-eps to estimate the same derivative as
//! (L(x + eps) - L(x - eps)) / (2 eps), with L summed in f64.

use crate::autograd::engine::backward;
use crate::autograd::mode::{GradModeGuard, InferenceModeGuard};
use crate::ops::{self, raw};
use crate::storage::DType;
use crate::tensor::Tensor;

/// Step and tolerances: a derivative passes when |analytic - numeric| <= atol + rtol |numeric|.
#[derive(Clone, Copy, Debug)]
pub struct Tolerance {
    /// Finite-difference step.
    pub eps: f64,
    /// Absolute tolerance.
    pub atol: f64,
    /// Relative tolerance.
    pub rtol: f64,
}

impl Default for Tolerance {
    /// Suited to f32 forward passes on inputs of magnitude ~1.
    fn default() -> Self {
        Tolerance { eps: 1e-2, atol: 2e-3, rtol: 2e-2 }
    }
}

/// The weights v of L = sum(y * v): deterministic, in [0.5, 1.5], different for neighbours.
fn weights(n: usize) -> Vec<f32> {
    (0..n).map(|i| 1.0 + 0.5 * (1.7 * i as f32).sin()).collect()
}

/// L for the given inputs, evaluated without recording.
fn objective(f: &impl Fn(&[Tensor]) -> crate::Result<Tensor>, inputs: &[Tensor], v: &[f32]) -> Result<f64, String> {
    let _no_grad = GradModeGuard::new(false);
    let y = f(inputs).map_err(|e| format!("the function failed on perturbed inputs: {e}"))?;
    let y = y.try_data::<f32>().map_err(|e| e.to_string())?;
    Ok(y.iter().zip(v).map(|(&a, &b)| a as f64 * b as f64).sum())
}

/// Checks the gradient of `f` with respect to every input that requires grad (F32 tensors;
/// other inputs, such as I64 indices, are passed through unchanged). Returns a description of
/// the first mismatch.
pub fn gradcheck(f: impl Fn(&[Tensor]) -> crate::Result<Tensor>, inputs: &[Tensor], tol: Tolerance) -> Result<(), String> {
    // Recording needs grad mode on and inference mode off, whatever the caller's thread state.
    let _recording = InferenceModeGuard::new(false);
    let checked: Vec<usize> = (0..inputs.len()).filter(|&i| inputs[i].requires_grad()).collect();
    if checked.is_empty() {
        return Err("no input requires grad, so there is nothing to check".into());
    }
    let mut leaves = Vec::with_capacity(inputs.len());
    for t in inputs {
        if t.requires_grad() {
            let leaf = raw::contiguous_copy(t, false).map_err(|e| e.to_string())?;
            leaf.set_requires_grad(true).map_err(|e| e.to_string())?;
            leaves.push(leaf);
        } else {
            leaves.push(t.clone());
        }
    }

    let y = f(&leaves).map_err(|e| format!("the function failed: {e}"))?;
    if y.dtype() != DType::F32 {
        return Err(format!("the function returned a {}, not F32", y.describe()));
    }
    let v = weights(y.numel());
    let vt = raw::from_vec(v.clone(), y.shape(), false);
    let loss = ops::sum(&ops::mul(&y, &vt).map_err(|e| e.to_string())?, &[], false).map_err(|e| e.to_string())?;
    backward(&loss, None, false).map_err(|e| format!("backward failed: {e}"))?;

    for &i in &checked {
        let leaf = &leaves[i];
        let analytic = match leaf.grad() {
            Some(g) if g.shape() != leaf.shape() => {
                return Err(format!("input {i}: the gradient has shape {:?} but the input has {:?}", g.shape(), leaf.shape()));
            }
            Some(g) => g.to_vec_f32(),
            None => vec![0.0; leaf.numel()],
        };
        let base = leaf.to_vec_f32();
        for j in 0..base.len() {
            let at = |delta: f64| -> Result<(f64, f32), String> {
                let mut data = base.clone();
                data[j] = (base[j] as f64 + delta) as f32;
                let mut args = leaves.clone();
                args[i] = raw::from_vec(data.clone(), leaf.shape(), false);
                Ok((objective(&f, &args, &v)?, data[j]))
            };
            let ((plus, xp), (minus, xm)) = (at(tol.eps)?, at(-tol.eps)?);
            // The step actually taken, after rounding the nudged inputs to f32.
            let numeric = (plus - minus) / (xp as f64 - xm as f64);
            let a = analytic[j] as f64;
            // Written so that a NaN on either side fails the check.
            let within = (a - numeric).abs() <= tol.atol + tol.rtol * numeric.abs();
            if !within {
                return Err(format!(
                    "input {i} (shape {:?}), element {j}: backward gives {a:.6} but finite differences give {numeric:.6} (eps {}, atol {}, rtol {})",
                    leaf.shape(),
                    tol.eps,
                    tol.atol,
                    tol.rtol
                ));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::autograd::node::Backward;
    use crate::ops::record::Recorder;
    use crate::ops::UnaryOp;

    /// -x with a derivative of the wrong sign (or scale): what gradcheck exists to catch.
    struct WrongNeg {
        factor: f32,
    }

    impl Backward for WrongNeg {
        fn name(&self) -> &'static str {
            "WrongNegBackward"
        }

        fn apply(&self, g: &Tensor, _: &[Option<Tensor>]) -> crate::Result<Vec<Option<Tensor>>> {
            let f = self.factor;
            Ok(vec![Some(raw::map(g, false, |v| v * f)?)])
        }
    }

    fn neg_with_derivative(x: &Tensor, factor: f32) -> crate::Result<Tensor> {
        let rec = Recorder::new(&[x])?;
        let out = raw::map(x, rec.inference(), |v: f32| -v)?;
        Ok(rec.finish(out, || Box::new(WrongNeg { factor }), vec![]))
    }

    fn input() -> Tensor {
        let x = raw::from_vec(vec![0.3f32, -1.2, 2.0, 0.7, -0.4, 1.1], &[2, 3], false);
        x.set_requires_grad(true).unwrap();
        x
    }

    #[test]
    fn accepts_a_correct_derivative() {
        gradcheck(|xs| ops::unary(&xs[0], UnaryOp::Neg), &[input()], Tolerance::default()).unwrap();
        gradcheck(|xs| neg_with_derivative(&xs[0], -1.0), &[input()], Tolerance::default()).unwrap();
    }

    #[test]
    fn catches_a_sign_error() {
        let err = gradcheck(|xs| neg_with_derivative(&xs[0], 1.0), &[input()], Tolerance::default()).unwrap_err();
        assert!(err.contains("backward gives 1.000000") && err.contains("finite differences give -1.000000"), "{err}");
    }

    #[test]
    fn catches_a_five_percent_scale_error() {
        assert!(gradcheck(|xs| neg_with_derivative(&xs[0], -1.05), &[input()], Tolerance::default()).is_err());
    }

    #[test]
    fn catches_a_missing_gradient() {
        // An op whose derivative forgets its second input.
        let (a, b) = (input(), input());
        let err = gradcheck(|xs| ops::add(&xs[0], &ops::detach(&xs[1])), &[a, b], Tolerance::default()).unwrap_err();
        assert!(err.starts_with("input 1"), "{err}");
    }
}
