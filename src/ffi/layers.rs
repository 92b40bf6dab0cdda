//! Constructors of the layers beyond Linear and the activations (API.md section 4).

use super::args::{self, put_module};
use super::{export, types::*};
use crate::error::{bail, Result};
use crate::nn::{BatchNorm, Conv2d, Embedding, Functional, LayerNorm};
use std::sync::Arc;

fn size(v: i64, name: &str) -> Result<usize> {
    if v <= 0 {
        bail!(InvalidArgument, "`{name}` is {v}; it must be positive");
    }
    usize::try_from(v).map_err(|_| crate::error::err!(InvalidArgument, "`{name}` = {v} is too large"))
}

/// Conv2d(in_channels, out_channels, kernel_size, stride, padding) with PyTorch's init.
#[no_mangle]
pub unsafe extern "C" fn rt_module_conv2d(
    in_channels: i64,
    out_channels: i64,
    kernel_size: i64,
    stride: i64,
    padding: i64,
    bias: bool,
    out: *mut *mut rt_module,
) -> rt_status {
    export!(rt_module_conv2d, [out], {
        let m = Conv2d::new(
            size(in_channels, "in_channels")?,
            size(out_channels, "out_channels")?,
            size(kernel_size, "kernel_size")?,
            stride,
            padding,
            bias,
        )?;
        put_module(out, Arc::new(m))
    })
}

/// BatchNorm1d over (N, C) or (N, C, L) inputs.
#[no_mangle]
pub unsafe extern "C" fn rt_module_batch_norm1d(num_features: i64, eps: f64, momentum: f64, out: *mut *mut rt_module) -> rt_status {
    export!(rt_module_batch_norm1d, [out], {
        put_module(out, Arc::new(BatchNorm::new(size(num_features, "num_features")?, eps, momentum, false)?))
    })
}

/// BatchNorm2d over (N, C, H, W) inputs.
#[no_mangle]
pub unsafe extern "C" fn rt_module_batch_norm2d(num_features: i64, eps: f64, momentum: f64, out: *mut *mut rt_module) -> rt_status {
    export!(rt_module_batch_norm2d, [out], {
        put_module(out, Arc::new(BatchNorm::new(size(num_features, "num_features")?, eps, momentum, true)?))
    })
}

/// LayerNorm over the trailing dims `shape`.
#[no_mangle]
pub unsafe extern "C" fn rt_module_layer_norm(shape: *const i64, ndim: usize, eps: f64, out: *mut *mut rt_module) -> rt_status {
    export!(rt_module_layer_norm, [out], {
        let shape = args::shape(shape, ndim, "shape")?;
        put_module(out, Arc::new(LayerNorm::new(&shape, eps)?))
    })
}

/// Dropout(p): zeroes with probability p in training, scaling by 1/(1-p); identity in eval.
#[no_mangle]
pub unsafe extern "C" fn rt_module_dropout(p: f64, out: *mut *mut rt_module) -> rt_status {
    export!(rt_module_dropout, [out], {
        if !(0.0..=1.0).contains(&p) {
            bail!(InvalidArgument, "`p` = {p} is not a probability; pass a value in [0, 1]");
        }
        put_module(out, Arc::new(Functional::dropout(p)))
    })
}

/// MaxPool2d(kernel_size, stride); stride 0 means stride = kernel_size.
#[no_mangle]
pub unsafe extern "C" fn rt_module_max_pool2d(kernel_size: i64, stride: i64, out: *mut *mut rt_module) -> rt_status {
    export!(rt_module_max_pool2d, [out], {
        size(kernel_size, "kernel_size")?;
        if stride < 0 {
            bail!(InvalidArgument, "`stride` is {stride}; pass a positive stride (or 0 for stride = kernel_size)");
        }
        put_module(out, Arc::new(Functional::max_pool2d(kernel_size, stride)))
    })
}

/// Flatten(start_dim, end_dim).
#[no_mangle]
pub unsafe extern "C" fn rt_module_flatten(start_dim: i64, end_dim: i64, out: *mut *mut rt_module) -> rt_status {
    export!(rt_module_flatten, [out], { put_module(out, Arc::new(Functional::flatten(start_dim, end_dim))) })
}

/// Embedding(num_embeddings, dim), weight ~ N(0, 1).
#[no_mangle]
pub unsafe extern "C" fn rt_module_embedding(num_embeddings: i64, dim: i64, out: *mut *mut rt_module) -> rt_status {
    export!(rt_module_embedding, [out], {
        put_module(out, Arc::new(Embedding::new(size(num_embeddings, "num_embeddings")?, size(dim, "dim")?)?))
    })
}

/// Softmax over `dim`.
#[no_mangle]
pub unsafe extern "C" fn rt_module_softmax(dim: i64, out: *mut *mut rt_module) -> rt_status {
    export!(rt_module_softmax, [out], { put_module(out, Arc::new(Functional::softmax(dim))) })
}
