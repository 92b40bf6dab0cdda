//! Sequential's convolution block: a Conv2d, the eval-mode BatchNorm2d after it folded into its
//! weight and bias, and the activation after them applied in place, whenever no graph is
//! recorded (inference, no_grad, or nothing requiring grad). The fold is PyTorch's
//! `fuse_conv_bn_eval`, done afresh at every forward from the current running statistics, so
//! loads, optimizer steps and train/eval switches need no invalidation; it costs one pass over
//! the weight and saves the batch norm's pass (and buffer) over the whole output.

use super::{downcast, BatchNorm, Conv2d, Functional, Module};
use crate::autograd::mode;
use crate::compute::raw;
use crate::error::Result;
use crate::kernels::norm::inv_std;
use crate::ops::{self, UnaryOp};
use crate::storage::{try_collect, DType};
use crate::tensor::Tensor;
use std::sync::Arc;

/// Runs `conv` (children\[0\]) on `x` with what of children\[1..\] it can fuse; returns the output
/// and how many children it consumed.
pub(super) fn forward(conv: &Conv2d, rest: &[Arc<dyn Module>], x: &Tensor) -> Result<(Tensor, usize)> {
    let bn = rest.first().and_then(|m| downcast::<BatchNorm>(&**m)).and_then(|bn| bn.eval_2d().map(|eps| (bn, eps)));
    let folded = match bn {
        Some((bn, eps)) if !records(conv, bn, x) => fold(conv, bn, eps)?,
        _ => None,
    };
    let used = if folded.is_some() { 2 } else { 1 };
    let act = rest.get(used - 1).and_then(|m| downcast::<Functional>(&**m)).and_then(Functional::as_activation);
    let (w, b) = match &folded {
        Some((w, b)) => (w, Some(b)),
        None => (&conv.weight, conv.bias.as_ref()),
    };
    // ReLU goes into the GEMM's epilogue (when nothing is recorded), saving a pass over the output.
    let (y, fused) = ops::conv2d_relu(x, w, b, conv.stride, conv.padding, act == Some(UnaryOp::Relu))?;
    if fused {
        return Ok((y, used + 1));
    }
    match act {
        Some(act) if y.grad_fn().is_none() => {
            // SAFETY: `y` was just made by conv2d and has not been shared.
            act.apply_in_place(unsafe { y.storage().slice_mut::<f32>() });
            Ok((y, used + 1))
        }
        _ => Ok((y, used)),
    }
}

/// Whether the unfused ops would record a graph (then the batch norm runs as itself, so the
/// graph and its gradients are PyTorch's).
fn records(conv: &Conv2d, bn: &BatchNorm, x: &Tensor) -> bool {
    let inputs = [Some(x), Some(&conv.weight), conv.bias.as_ref(), Some(&bn.weight), Some(&bn.bias)];
    mode::state().recording() && inputs.into_iter().flatten().any(Tensor::requires_grad)
}

/// The folded weight W·s and bias (b - mean)·s + beta, s = gamma / sqrt(var + eps) per output
/// channel; None when a tensor's shape or type does not match the convolution's (the unfused
/// path then reports it).
fn fold(conv: &Conv2d, bn: &BatchNorm, eps: f64) -> Result<Option<(Tensor, Tensor)>> {
    let w = &conv.weight;
    let o = w.shape().first().copied().unwrap_or(0);
    let stats = [&bn.weight, &bn.bias, &bn.running_mean, &bn.running_var];
    if w.dtype() != DType::F32 || stats.iter().chain(conv.bias.as_ref().iter()).any(|t| t.dtype() != DType::F32 || t.shape() != [o]) {
        return Ok(None);
    }
    let [gamma, beta, mean, var] = stats.map(|t| t.try_data::<f32>());
    let (gamma, beta, mean, var) = (gamma?, beta?, mean?, var?);
    // The batch norm's own scale: invstd computed as it does, then times gamma.
    let scale = try_collect(o, (0..o).map(|c| inv_std(var[c] as f64, eps) * gamma[c]))?;
    let wd = w.try_data::<f32>()?;
    let per = wd.len() / o.max(1);
    let wf = try_collect(wd.len(), wd.iter().enumerate().map(|(i, &v)| v * scale[i / per.max(1)]))?;
    let bias = conv.bias.as_ref().map(|b| b.try_data::<f32>()).transpose()?;
    let bf = try_collect(o, (0..o).map(|c| (bias.as_ref().map_or(0.0, |b| b[c]) - mean[c]) * scale[c] + beta[c]))?;
    Ok(Some((raw::from_vec(wf, w.shape(), false), raw::from_vec(bf, &[o], false))))
}

#[cfg(test)]
mod tests {
    use super::super::{train, Sequential};
    use super::*;
    use crate::autograd::mode::no_grad;
    use crate::creation;

    /// Conv2d(3, 5, 3, stride 2, pad 1) [+ BatchNorm2d(5) with non-trivial affine parameters and
    /// running statistics] [+ ReLU], in eval mode.
    fn block(bias: bool, relu: bool) -> (Sequential, Arc<Conv2d>, Arc<BatchNorm>) {
        let conv = Arc::new(Conv2d::new(3, 5, 3, 2, 1, bias).unwrap());
        let bn = Arc::new(BatchNorm::new(5, 1e-3, 0.1, true).unwrap());
        let set = |t: &Tensor, v: Vec<f32>| crate::compute::raw::copy_into(t, &creation::from_vec(v, &[5]));
        set(&bn.weight, vec![0.5, -1.5, 2.0, 0.1, 1.0]);
        set(&bn.bias, vec![0.3, -0.2, 0.0, 1.0, -1.0]);
        set(&bn.running_mean, vec![0.1, -0.4, 0.25, 0.0, 0.7]);
        set(&bn.running_var, vec![0.5, 2.0, 0.01, 1.0, 3.0]);
        let mut kids: Vec<Arc<dyn Module>> = vec![conv.clone(), bn.clone()];
        if relu {
            kids.push(Arc::new(Functional::activation("ReLU", UnaryOp::Relu)));
        }
        let seq = Sequential::new(kids).unwrap();
        train(&seq, false);
        (seq, conv, bn)
    }

    /// The children one by one: conv, batch norm, activation, unfused.
    fn unfused(conv: &Conv2d, bn: &BatchNorm, relu: bool, x: &Tensor) -> Tensor {
        let y = bn.forward(&conv.forward(x).unwrap()).unwrap();
        if relu {
            ops::unary(&y, UnaryOp::Relu).unwrap()
        } else {
            y
        }
    }

    #[test]
    fn folded_batch_norm_matches_the_unfused_layers_within_rounding() {
        let x = creation::randn(&[2, 3, 9, 8]).unwrap();
        for (bias, relu) in [(true, true), (false, true), (true, false), (false, false)] {
            let (seq, conv, bn) = block(bias, relu);
            let (got, want) = no_grad(|| (seq.forward(&x).unwrap(), unfused(&conv, &bn, relu, &x)));
            assert_eq!(got.shape(), want.shape());
            let (g, w) = (got.to_vec_f32(), want.to_vec_f32());
            assert!(g.iter().zip(&w).all(|(a, b)| (a - b).abs() <= 1e-5 * (1.0 + b.abs())), "bias {bias} relu {relu}");
            assert!(!relu || g.iter().all(|&v| v >= 0.0) && g.contains(&0.0), "ReLU applied");
            // A later change of the running statistics is seen at the next forward.
            crate::compute::raw::copy_into(&bn.running_mean, &creation::from_vec(vec![1.0f32; 5], &[5]));
            let (got, want) = no_grad(|| (seq.forward(&x).unwrap(), unfused(&conv, &bn, relu, &x)));
            let (g, w) = (got.to_vec_f32(), want.to_vec_f32());
            assert!(g.iter().zip(&w).all(|(a, b)| (a - b).abs() <= 1e-5 * (1.0 + b.abs())), "after the update");
        }
    }

    #[test]
    fn a_recorded_forward_keeps_the_batch_norm_and_a_training_one_is_not_folded() {
        let x = creation::randn(&[2, 3, 9, 8]).unwrap();
        let (seq, conv, bn) = block(true, false);
        // Grad mode with parameters requiring grad: the graph ends in the batch norm's node.
        let y = seq.forward(&x).unwrap();
        assert_eq!(y.grad_fn().unwrap().name(), "NativeBatchNormBackward");
        // Training mode: batch statistics, so the result differs from the running-statistics fold.
        train(&seq, true);
        let got = no_grad(|| seq.forward(&x).unwrap()).to_vec_f32();
        train(&seq, false);
        let eval = no_grad(|| unfused(&conv, &bn, false, &x)).to_vec_f32();
        assert!(got.iter().zip(&eval).any(|(a, b)| (a - b).abs() > 1e-3));
    }
}
