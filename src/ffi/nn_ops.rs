//! Functional neural-network ops (API.md section 3): softmax, losses, conv2d, pooling,
//! normalisation, dropout, embedding. Each returns a new handle in `*out`.

use super::args::{self, put_tensor};
use super::{export, types::*};
use crate::error::bail;
use crate::ops;

/// Softmax along `dim` (negative counts from the end), max-subtracted for stability.
#[no_mangle]
pub unsafe extern "C" fn rt_tensor_softmax(t: *const rt_tensor, dim: i64, out: *mut *mut rt_tensor) -> rt_status {
    export!(rt_tensor_softmax, [t, out], {
        let t = args::tensor(t, "t")?;
        put_tensor(out, ops::softmax(&t, dim)?)
    })
}

/// Log-softmax along `dim` (negative counts from the end), computed as x - logsumexp(x).
#[no_mangle]
pub unsafe extern "C" fn rt_tensor_log_softmax(t: *const rt_tensor, dim: i64, out: *mut *mut rt_tensor) -> rt_status {
    export!(rt_tensor_log_softmax, [t, out], {
        let t = args::tensor(t, "t")?;
        put_tensor(out, ops::log_softmax(&t, dim)?)
    })
}

/// Mean cross-entropy of logits (N, C) F32 against class indices targets (N) I64, a 0-d result.
/// A target outside [0, C) gives RT_ERR_INVALID_ARGUMENT (there is no ignore_index).
#[no_mangle]
pub unsafe extern "C" fn rt_tensor_cross_entropy(
    logits: *const rt_tensor,
    targets: *const rt_tensor,
    out: *mut *mut rt_tensor,
) -> rt_status {
    export!(rt_tensor_cross_entropy, [logits, targets, out], {
        let logits = args::tensor(logits, "logits")?;
        let targets = args::tensor(targets, "targets")?;
        put_tensor(out, ops::cross_entropy(&logits, &targets)?)
    })
}

/// Mean squared error of two F32 tensors of the same shape, a 0-d result.
#[no_mangle]
pub unsafe extern "C" fn rt_tensor_mse_loss(a: *const rt_tensor, b: *const rt_tensor, out: *mut *mut rt_tensor) -> rt_status {
    export!(rt_tensor_mse_loss, [a, b, out], {
        let a = args::tensor(a, "a")?;
        let b = args::tensor(b, "b")?;
        put_tensor(out, ops::mse_loss(&a, &b)?)
    })
}

/// 2-D convolution: x (N, C, H, W), w (O, C, kh, kw), b (O) or NULL; stride >= 1, padding >= 0
/// (zeros on every side). The result is (N, O, Ho, Wo).
#[no_mangle]
pub unsafe extern "C" fn rt_tensor_conv2d(
    x: *const rt_tensor,
    w: *const rt_tensor,
    b: *const rt_tensor,
    stride: i64,
    padding: i64,
    out: *mut *mut rt_tensor,
) -> rt_status {
    export!(rt_tensor_conv2d, [x, w, out], {
        let x = args::tensor(x, "x")?;
        let w = args::tensor(w, "w")?;
        let b = args::opt_tensor(b, "b")?;
        put_tensor(out, ops::conv2d(&x, &w, b.as_ref(), stride, padding)?)
    })
}

/// 2-D max pooling of x (N, C, H, W) with a square window, no padding; stride 0 means
/// stride = kernel_size. The gradient goes to the first maximum of each window.
#[no_mangle]
pub unsafe extern "C" fn rt_tensor_max_pool2d(x: *const rt_tensor, kernel_size: i64, stride: i64, out: *mut *mut rt_tensor) -> rt_status {
    export!(rt_tensor_max_pool2d, [x, out], {
        let x = args::tensor(x, "x")?;
        put_tensor(out, ops::max_pool2d(&x, kernel_size, stride)?)
    })
}

/// Layer normalisation over the trailing dims `shape` (biased variance, as PyTorch), then the
/// optional elementwise affine w, b (each of shape `shape`; NULL for none).
#[no_mangle]
pub unsafe extern "C" fn rt_tensor_layer_norm(
    x: *const rt_tensor,
    shape: *const i64,
    ndim: usize,
    w: *const rt_tensor,
    b: *const rt_tensor,
    eps: f64,
    out: *mut *mut rt_tensor,
) -> rt_status {
    export!(rt_tensor_layer_norm, [x, out], {
        args::slice(shape, ndim, "shape")?;
        let x = args::tensor(x, "x")?;
        let w = args::opt_tensor(w, "w")?;
        let b = args::opt_tensor(b, "b")?;
        let shape = args::shape(shape, ndim, "shape")?;
        put_tensor(out, ops::layer_norm(&x, &shape, w.as_ref(), b.as_ref(), eps)?)
    })
}

/// Batch normalisation over channel dim 1 of x (N, C, ...), as PyTorch's F.batch_norm.
/// training: normalises with the batch mean and biased variance; running_mean / running_var (each
/// (C), NULL for none) are updated in place, running = (1 - momentum) running + momentum batch
/// with the unbiased batch variance, and their versions are bumped. Not training: normalises with
/// the running statistics, which must then be given. w, b: (C) or NULL.
#[no_mangle]
pub unsafe extern "C" fn rt_tensor_batch_norm(
    x: *const rt_tensor,
    running_mean: *mut rt_tensor,
    running_var: *mut rt_tensor,
    w: *const rt_tensor,
    b: *const rt_tensor,
    training: bool,
    momentum: f64,
    eps: f64,
    out: *mut *mut rt_tensor,
) -> rt_status {
    export!(rt_tensor_batch_norm, [x, out], {
        if !training && (running_mean.is_null() || running_var.is_null()) {
            bail!(
                NullArgument,
                "`running_mean` and `running_var` are required when `training` is false; pass both running statistics or set training"
            );
        }
        let x = args::tensor(x, "x")?;
        let running_mean = args::opt_tensor(running_mean, "running_mean")?;
        let running_var = args::opt_tensor(running_var, "running_var")?;
        let w = args::opt_tensor(w, "w")?;
        let b = args::opt_tensor(b, "b")?;
        put_tensor(out, ops::batch_norm(&x, running_mean.as_ref(), running_var.as_ref(), w.as_ref(), b.as_ref(), training, momentum, eps)?)
    })
}

/// Dropout: in training each element is zeroed with probability p (the process-wide generator,
/// see rt_manual_seed) and the rest scaled by 1 / (1 - p); p must be in [0, 1]. Not training or
/// p == 0: `*out` is a new handle to x itself.
#[no_mangle]
pub unsafe extern "C" fn rt_tensor_dropout(x: *const rt_tensor, p: f64, training: bool, out: *mut *mut rt_tensor) -> rt_status {
    export!(rt_tensor_dropout, [x, out], {
        let x = args::tensor(x, "x")?;
        put_tensor(out, ops::dropout(&x, p, training)?)
    })
}

/// Rows of weight (V, D) F32 picked by indices (I64, any shape, each in [0, V)): the result has
/// shape `indices.shape + [D]`.
#[no_mangle]
pub unsafe extern "C" fn rt_tensor_embedding(indices: *const rt_tensor, weight: *const rt_tensor, out: *mut *mut rt_tensor) -> rt_status {
    export!(rt_tensor_embedding, [indices, weight, out], {
        let indices = args::tensor(indices, "indices")?;
        let weight = args::tensor(weight, "weight")?;
        put_tensor(out, ops::embedding(&indices, &weight)?)
    })
}
