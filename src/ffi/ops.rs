//! Functional ops and views (API.md section 3). Each returns a new handle in `*out`.

use super::args::{self, put_tensor};
use super::{export, types::*};
use crate::error::Result;
use crate::ops::{self, UnaryOp};
use crate::tensor::Tensor;

unsafe fn unary_op(t: *const rt_tensor, out: *mut *mut rt_tensor, f: impl FnOnce(&Tensor) -> Result<Tensor>) -> Result<()> {
    let t = args::tensor(t, "t")?;
    put_tensor(out, f(&t)?)
}

unsafe fn binary_op(
    a: *const rt_tensor,
    b: *const rt_tensor,
    out: *mut *mut rt_tensor,
    f: impl FnOnce(&Tensor, &Tensor) -> Result<Tensor>,
) -> Result<()> {
    let a = args::tensor(a, "a")?;
    let b = args::tensor(b, "b")?;
    put_tensor(out, f(&a, &b)?)
}

/// a + b with broadcasting.
#[no_mangle]
pub unsafe extern "C" fn rt_tensor_add(a: *const rt_tensor, b: *const rt_tensor, out: *mut *mut rt_tensor) -> rt_status {
    export!(rt_tensor_add, [a, b, out], { binary_op(a, b, out, ops::add) })
}

/// a - b with broadcasting.
#[no_mangle]
pub unsafe extern "C" fn rt_tensor_sub(a: *const rt_tensor, b: *const rt_tensor, out: *mut *mut rt_tensor) -> rt_status {
    export!(rt_tensor_sub, [a, b, out], { binary_op(a, b, out, ops::sub) })
}

/// a * b with broadcasting.
#[no_mangle]
pub unsafe extern "C" fn rt_tensor_mul(a: *const rt_tensor, b: *const rt_tensor, out: *mut *mut rt_tensor) -> rt_status {
    export!(rt_tensor_mul, [a, b, out], { binary_op(a, b, out, ops::mul) })
}

/// a / b with broadcasting.
#[no_mangle]
pub unsafe extern "C" fn rt_tensor_div(a: *const rt_tensor, b: *const rt_tensor, out: *mut *mut rt_tensor) -> rt_status {
    export!(rt_tensor_div, [a, b, out], { binary_op(a, b, out, ops::div) })
}

/// torch.matmul: 1-D operands, matrix products and broadcast batches.
#[no_mangle]
pub unsafe extern "C" fn rt_tensor_matmul(a: *const rt_tensor, b: *const rt_tensor, out: *mut *mut rt_tensor) -> rt_status {
    export!(rt_tensor_matmul, [a, b, out], { binary_op(a, b, out, ops::matmul) })
}

#[no_mangle]
pub unsafe extern "C" fn rt_tensor_add_scalar(a: *const rt_tensor, s: f64, out: *mut *mut rt_tensor) -> rt_status {
    export!(rt_tensor_add_scalar, [a, out], { unary_op(a, out, |t| ops::add_scalar(t, s)) })
}

#[no_mangle]
pub unsafe extern "C" fn rt_tensor_mul_scalar(a: *const rt_tensor, s: f64, out: *mut *mut rt_tensor) -> rt_status {
    export!(rt_tensor_mul_scalar, [a, out], { unary_op(a, out, |t| ops::mul_scalar(t, s)) })
}

#[no_mangle]
pub unsafe extern "C" fn rt_tensor_pow_scalar(a: *const rt_tensor, s: f64, out: *mut *mut rt_tensor) -> rt_status {
    export!(rt_tensor_pow_scalar, [a, out], { unary_op(a, out, |t| ops::pow_scalar(t, s)) })
}

#[no_mangle]
pub unsafe extern "C" fn rt_tensor_relu(a: *const rt_tensor, out: *mut *mut rt_tensor) -> rt_status {
    export!(rt_tensor_relu, [a, out], { unary_op(a, out, |t| ops::unary(t, UnaryOp::Relu)) })
}

#[no_mangle]
pub unsafe extern "C" fn rt_tensor_neg(a: *const rt_tensor, out: *mut *mut rt_tensor) -> rt_status {
    export!(rt_tensor_neg, [a, out], { unary_op(a, out, |t| ops::unary(t, UnaryOp::Neg)) })
}

#[no_mangle]
pub unsafe extern "C" fn rt_tensor_exp(a: *const rt_tensor, out: *mut *mut rt_tensor) -> rt_status {
    export!(rt_tensor_exp, [a, out], { unary_op(a, out, |t| ops::unary(t, UnaryOp::Exp)) })
}

#[no_mangle]
pub unsafe extern "C" fn rt_tensor_log(a: *const rt_tensor, out: *mut *mut rt_tensor) -> rt_status {
    export!(rt_tensor_log, [a, out], { unary_op(a, out, |t| ops::unary(t, UnaryOp::Log)) })
}

#[no_mangle]
pub unsafe extern "C" fn rt_tensor_sqrt(a: *const rt_tensor, out: *mut *mut rt_tensor) -> rt_status {
    export!(rt_tensor_sqrt, [a, out], { unary_op(a, out, |t| ops::unary(t, UnaryOp::Sqrt)) })
}

#[no_mangle]
pub unsafe extern "C" fn rt_tensor_sigmoid(a: *const rt_tensor, out: *mut *mut rt_tensor) -> rt_status {
    export!(rt_tensor_sigmoid, [a, out], { unary_op(a, out, |t| ops::unary(t, UnaryOp::Sigmoid)) })
}

#[no_mangle]
pub unsafe extern "C" fn rt_tensor_tanh(a: *const rt_tensor, out: *mut *mut rt_tensor) -> rt_status {
    export!(rt_tensor_tanh, [a, out], { unary_op(a, out, |t| ops::unary(t, UnaryOp::Tanh)) })
}

/// GELU, the exact erf form (PyTorch's default).
#[no_mangle]
pub unsafe extern "C" fn rt_tensor_gelu(a: *const rt_tensor, out: *mut *mut rt_tensor) -> rt_status {
    export!(rt_tensor_gelu, [a, out], { unary_op(a, out, |t| ops::unary(t, UnaryOp::Gelu)) })
}

/// x w^T + b; b may be NULL.
#[no_mangle]
pub unsafe extern "C" fn rt_tensor_linear(
    x: *const rt_tensor,
    w: *const rt_tensor,
    b: *const rt_tensor,
    out: *mut *mut rt_tensor,
) -> rt_status {
    export!(rt_tensor_linear, [x, w, out], {
        let x = args::tensor(x, "x")?;
        let w = args::tensor(w, "w")?;
        let b = args::opt_tensor(b, "b")?;
        put_tensor(out, ops::linear(&x, &w, b.as_ref())?)
    })
}

/// Sum over `dims` (all dims when ndims == 0, giving a 0-d tensor).
#[no_mangle]
pub unsafe extern "C" fn rt_tensor_sum(
    t: *const rt_tensor,
    dims: *const i64,
    ndims: usize,
    keepdim: bool,
    out: *mut *mut rt_tensor,
) -> rt_status {
    export!(rt_tensor_sum, [t, out], {
        let dims = args::dims(dims, ndims, "dims")?;
        unary_op(t, out, |t| ops::sum(t, dims, keepdim))
    })
}

/// Mean over `dims` (all dims when ndims == 0, giving a 0-d tensor).
#[no_mangle]
pub unsafe extern "C" fn rt_tensor_mean(
    t: *const rt_tensor,
    dims: *const i64,
    ndims: usize,
    keepdim: bool,
    out: *mut *mut rt_tensor,
) -> rt_status {
    export!(rt_tensor_mean, [t, out], {
        let dims = args::dims(dims, ndims, "dims")?;
        unary_op(t, out, |t| ops::mean(t, dims, keepdim))
    })
}

/// Index of the first maximum along dim, as an I64 tensor.
#[no_mangle]
pub unsafe extern "C" fn rt_tensor_argmax(t: *const rt_tensor, dim: i64, keepdim: bool, out: *mut *mut rt_tensor) -> rt_status {
    export!(rt_tensor_argmax, [t, out], { unary_op(t, out, |t| ops::argmax(t, dim, keepdim)) })
}

#[no_mangle]
pub unsafe extern "C" fn rt_tensor_clone(t: *const rt_tensor, out: *mut *mut rt_tensor) -> rt_status {
    export!(rt_tensor_clone, [t, out], { unary_op(t, out, ops::clone) })
}

#[no_mangle]
pub unsafe extern "C" fn rt_tensor_detach(t: *const rt_tensor, out: *mut *mut rt_tensor) -> rt_status {
    export!(rt_tensor_detach, [t, out], { unary_op(t, out, |t| Ok(ops::detach(t))) })
}

#[no_mangle]
pub unsafe extern "C" fn rt_tensor_contiguous(t: *const rt_tensor, out: *mut *mut rt_tensor) -> rt_status {
    export!(rt_tensor_contiguous, [t, out], { unary_op(t, out, ops::contiguous) })
}

/// Converts to another dtype (F32 -> I64 truncates toward zero).
#[no_mangle]
pub unsafe extern "C" fn rt_tensor_to(t: *const rt_tensor, dtype: rt_dtype, out: *mut *mut rt_tensor) -> rt_status {
    export!(rt_tensor_to, [t, out], {
        let t = args::tensor(t, "t")?;
        let dtype = args::dtype(dtype)?;
        put_tensor(out, ops::to(&t, dtype)?)
    })
}

/// Concatenates n tensors along dim.
#[no_mangle]
pub unsafe extern "C" fn rt_tensor_cat(ts: *const *const rt_tensor, n: usize, dim: i64, out: *mut *mut rt_tensor) -> rt_status {
    export!(rt_tensor_cat, [out], {
        let handles = args::slice(ts, n, "ts")?;
        if let Some(i) = handles.iter().position(|h| h.is_null()) {
            crate::error::bail!(NullArgument, "argument `ts[{i}]` is NULL; pass {n} tensor handles");
        }
        let tensors: Vec<Tensor> = handles.iter().enumerate().map(|(i, &h)| args::tensor(h, &format!("ts[{i}]"))).collect::<Result<_>>()?;
        let refs: Vec<&Tensor> = tensors.iter().collect();
        put_tensor(out, ops::cat(&refs, dim)?)
    })
}

/// A view with a new shape (one -1 allowed); RT_ERR_SHAPE when the layout needs a copy.
#[no_mangle]
pub unsafe extern "C" fn rt_tensor_view(t: *const rt_tensor, shape: *const i64, ndim: usize, out: *mut *mut rt_tensor) -> rt_status {
    export!(rt_tensor_view, [t, out], {
        let shape = args::dims(shape, ndim, "shape")?;
        unary_op(t, out, |t| ops::view(t, shape))
    })
}

/// A view when possible, otherwise a copy, with a new shape (one -1 allowed).
#[no_mangle]
pub unsafe extern "C" fn rt_tensor_reshape(t: *const rt_tensor, shape: *const i64, ndim: usize, out: *mut *mut rt_tensor) -> rt_status {
    export!(rt_tensor_reshape, [t, out], {
        let shape = args::dims(shape, ndim, "shape")?;
        unary_op(t, out, |t| ops::reshape(t, shape))
    })
}

#[no_mangle]
pub unsafe extern "C" fn rt_tensor_transpose(t: *const rt_tensor, d0: i64, d1: i64, out: *mut *mut rt_tensor) -> rt_status {
    export!(rt_tensor_transpose, [t, out], { unary_op(t, out, |t| ops::transpose(t, d0, d1)) })
}

#[no_mangle]
pub unsafe extern "C" fn rt_tensor_permute(t: *const rt_tensor, dims: *const i64, ndim: usize, out: *mut *mut rt_tensor) -> rt_status {
    export!(rt_tensor_permute, [t, out], {
        let dims = args::dims(dims, ndim, "dims")?;
        unary_op(t, out, |t| ops::permute(t, dims))
    })
}

#[no_mangle]
pub unsafe extern "C" fn rt_tensor_narrow(t: *const rt_tensor, dim: i64, start: i64, length: i64, out: *mut *mut rt_tensor) -> rt_status {
    export!(rt_tensor_narrow, [t, out], { unary_op(t, out, |t| ops::narrow(t, dim, start, length)) })
}

#[no_mangle]
pub unsafe extern "C" fn rt_tensor_select(t: *const rt_tensor, dim: i64, index: i64, out: *mut *mut rt_tensor) -> rt_status {
    export!(rt_tensor_select, [t, out], { unary_op(t, out, |t| ops::select(t, dim, index)) })
}

#[no_mangle]
pub unsafe extern "C" fn rt_tensor_unsqueeze(t: *const rt_tensor, dim: i64, out: *mut *mut rt_tensor) -> rt_status {
    export!(rt_tensor_unsqueeze, [t, out], { unary_op(t, out, |t| ops::unsqueeze(t, dim)) })
}

/// Removes dim when its size is 1 (otherwise returns a view of the same shape).
#[no_mangle]
pub unsafe extern "C" fn rt_tensor_squeeze(t: *const rt_tensor, dim: i64, out: *mut *mut rt_tensor) -> rt_status {
    export!(rt_tensor_squeeze, [t, out], { unary_op(t, out, |t| ops::squeeze(t, dim)) })
}

/// Broadcasts to shape (-1 keeps a size) without copying.
#[no_mangle]
pub unsafe extern "C" fn rt_tensor_expand(t: *const rt_tensor, shape: *const i64, ndim: usize, out: *mut *mut rt_tensor) -> rt_status {
    export!(rt_tensor_expand, [t, out], {
        let shape = args::dims(shape, ndim, "shape")?;
        unary_op(t, out, |t| ops::expand(t, shape))
    })
}

#[no_mangle]
pub unsafe extern "C" fn rt_tensor_flatten(t: *const rt_tensor, start_dim: i64, end_dim: i64, out: *mut *mut rt_tensor) -> rt_status {
    export!(rt_tensor_flatten, [t, out], { unary_op(t, out, |t| ops::flatten(t, start_dim, end_dim)) })
}
