//! The ops of API.md 7.C (attention and modern blocks): unary functions, index-selecting
//! reductions, topk, indexing, arange, triangles, stack, chunk and multinomial.

use super::args::{self, put_tensor};
use super::handle::{self, Kind, Object};
use super::{export, types::*};
use crate::error::{bail, Result};
use crate::ops::{self, UnaryOp};
use crate::tensor::Tensor;

unsafe fn unary(a: *const rt_tensor, out: *mut *mut rt_tensor, op: UnaryOp) -> Result<()> {
    let a = args::tensor(a, "a")?;
    put_tensor(out, ops::unary(&a, op)?)
}

/// Registers every tensor, then writes the handles: either all outputs are written or, when a
/// handle cannot be made, none (the ones made are released).
///
/// # Safety
/// Each `outs[i]` is writable (checked non-NULL by `export!`).
unsafe fn put_all(outs: &[*mut *mut rt_tensor], ts: Vec<Tensor>) -> Result<()> {
    let mut made = Vec::with_capacity(ts.len());
    for t in ts {
        match handle::insert(Object::Tensor(t)) {
            Ok(h) => made.push(h),
            Err(e) => {
                for h in made {
                    handle::remove(h, Kind::Tensor)?;
                }
                return Err(e);
            }
        }
    }
    for (&o, h) in outs.iter().zip(made) {
        // SAFETY: the caller promises each out is writable.
        unsafe { *o = h as *mut rt_tensor };
    }
    Ok(())
}

/// x σ(x) (nn.SiLU).
#[no_mangle]
pub unsafe extern "C" fn rt_tensor_silu(a: *const rt_tensor, out: *mut *mut rt_tensor) -> rt_status {
    export!(rt_tensor_silu, [a, out], { unary(a, out, UnaryOp::Silu) })
}

/// 1 / √x.
#[no_mangle]
pub unsafe extern "C" fn rt_tensor_rsqrt(a: *const rt_tensor, out: *mut *mut rt_tensor) -> rt_status {
    export!(rt_tensor_rsqrt, [a, out], { unary(a, out, UnaryOp::Rsqrt) })
}

#[no_mangle]
pub unsafe extern "C" fn rt_tensor_sin(a: *const rt_tensor, out: *mut *mut rt_tensor) -> rt_status {
    export!(rt_tensor_sin, [a, out], { unary(a, out, UnaryOp::Sin) })
}

#[no_mangle]
pub unsafe extern "C" fn rt_tensor_cos(a: *const rt_tensor, out: *mut *mut rt_tensor) -> rt_status {
    export!(rt_tensor_cos, [a, out], { unary(a, out, UnaryOp::Cos) })
}

#[no_mangle]
pub unsafe extern "C" fn rt_tensor_abs(a: *const rt_tensor, out: *mut *mut rt_tensor) -> rt_status {
    export!(rt_tensor_abs, [a, out], { unary(a, out, UnaryOp::Abs) })
}

/// F.gelu(approximate="tanh").
#[no_mangle]
pub unsafe extern "C" fn rt_tensor_gelu_tanh(a: *const rt_tensor, out: *mut *mut rt_tensor) -> rt_status {
    export!(rt_tensor_gelu_tanh, [a, out], { unary(a, out, UnaryOp::GeluTanh) })
}

unsafe fn extreme(
    t: *const rt_tensor,
    dim: i64,
    keepdim: bool,
    largest: bool,
    values: *mut *mut rt_tensor,
    indices: *mut *mut rt_tensor,
) -> Result<()> {
    let t = args::tensor(t, "t")?;
    let (v, i) = ops::extreme_dim(&t, dim, keepdim, largest)?;
    put_all(&[values, indices], vec![v, i])
}

/// torch.max(t, dim): the values and I64 indices of the first maximum along dim.
#[no_mangle]
pub unsafe extern "C" fn rt_tensor_max_dim(
    t: *const rt_tensor,
    dim: i64,
    keepdim: bool,
    values: *mut *mut rt_tensor,
    indices: *mut *mut rt_tensor,
) -> rt_status {
    export!(rt_tensor_max_dim, [t, values, indices], { extreme(t, dim, keepdim, true, values, indices) })
}

/// torch.min(t, dim): the values and I64 indices of the first minimum along dim.
#[no_mangle]
pub unsafe extern "C" fn rt_tensor_min_dim(
    t: *const rt_tensor,
    dim: i64,
    keepdim: bool,
    values: *mut *mut rt_tensor,
    indices: *mut *mut rt_tensor,
) -> rt_status {
    export!(rt_tensor_min_dim, [t, values, indices], { extreme(t, dim, keepdim, false, values, indices) })
}

/// torch.amax: the maximum over `dims` (all dims when ndims == 0).
#[no_mangle]
pub unsafe extern "C" fn rt_tensor_amax(
    t: *const rt_tensor,
    dims: *const i64,
    ndims: usize,
    keepdim: bool,
    out: *mut *mut rt_tensor,
) -> rt_status {
    export!(rt_tensor_amax, [t, out], {
        let dims = args::dims(dims, ndims, "dims")?;
        let t = args::tensor(t, "t")?;
        put_tensor(out, ops::amax(&t, dims, keepdim)?)
    })
}

/// torch.topk(t, k, dim, largest, sorted=True).
#[no_mangle]
pub unsafe extern "C" fn rt_tensor_topk(
    t: *const rt_tensor,
    k: i64,
    dim: i64,
    largest: bool,
    values: *mut *mut rt_tensor,
    indices: *mut *mut rt_tensor,
) -> rt_status {
    export!(rt_tensor_topk, [t, values, indices], {
        let t = args::tensor(t, "t")?;
        let (v, i) = ops::topk(&t, k, dim, largest)?;
        put_all(&[values, indices], vec![v, i])
    })
}

/// torch.index_select(t, dim, index), index 1-D I64.
#[no_mangle]
pub unsafe extern "C" fn rt_tensor_index_select(
    t: *const rt_tensor,
    dim: i64,
    index: *const rt_tensor,
    out: *mut *mut rt_tensor,
) -> rt_status {
    export!(rt_tensor_index_select, [t, index, out], {
        let t = args::tensor(t, "t")?;
        let index = args::tensor(index, "index")?;
        put_tensor(out, ops::index_select(&t, dim, &index)?)
    })
}

/// torch.gather(t, dim, index), index I64 of t's rank.
#[no_mangle]
pub unsafe extern "C" fn rt_tensor_gather(t: *const rt_tensor, dim: i64, index: *const rt_tensor, out: *mut *mut rt_tensor) -> rt_status {
    export!(rt_tensor_gather, [t, index, out], {
        let t = args::tensor(t, "t")?;
        let index = args::tensor(index, "index")?;
        put_tensor(out, ops::gather(&t, dim, &index)?)
    })
}

/// torch.arange(start, end, step, dtype): a 1-D F32 or I64 tensor.
#[no_mangle]
pub unsafe extern "C" fn rt_tensor_arange(start: f64, end: f64, step: f64, dtype: rt_dtype, out: *mut *mut rt_tensor) -> rt_status {
    export!(rt_tensor_arange, [out], {
        let dtype = args::dtype(dtype)?;
        put_tensor(out, ops::arange(start, end, step, dtype)?)
    })
}

/// torch.triu(t, diagonal), any dtype.
#[no_mangle]
pub unsafe extern "C" fn rt_tensor_triu(t: *const rt_tensor, diagonal: i64, out: *mut *mut rt_tensor) -> rt_status {
    export!(rt_tensor_triu, [t, out], {
        let t = args::tensor(t, "t")?;
        put_tensor(out, ops::triu(&t, diagonal)?)
    })
}

/// torch.tril(t, diagonal), any dtype.
#[no_mangle]
pub unsafe extern "C" fn rt_tensor_tril(t: *const rt_tensor, diagonal: i64, out: *mut *mut rt_tensor) -> rt_status {
    export!(rt_tensor_tril, [t, out], {
        let t = args::tensor(t, "t")?;
        put_tensor(out, ops::tril(&t, diagonal)?)
    })
}

/// torch.stack(ts, dim): n tensors of one shape along a new dim.
#[no_mangle]
pub unsafe extern "C" fn rt_tensor_stack(ts: *const *const rt_tensor, n: usize, dim: i64, out: *mut *mut rt_tensor) -> rt_status {
    export!(rt_tensor_stack, [out], {
        let handles = args::slice(ts, n, "ts")?;
        if let Some(i) = handles.iter().position(|h| h.is_null()) {
            bail!(NullArgument, "argument `ts[{i}]` is NULL; pass {n} tensor handles");
        }
        let tensors: Vec<Tensor> = handles.iter().enumerate().map(|(i, &h)| args::tensor(h, &format!("ts[{i}]"))).collect::<Result<_>>()?;
        let refs: Vec<&Tensor> = tensors.iter().collect();
        put_tensor(out, ops::stack(&refs, dim)?)
    })
}

/// torch.chunk(t, chunks, dim): views written to outs[0..*n_out]; *n_out is always written,
/// and RT_ERR_BUFFER_TOO_SMALL (outs untouched) when cap < *n_out.
#[no_mangle]
pub unsafe extern "C" fn rt_tensor_chunk(
    t: *const rt_tensor,
    chunks: usize,
    dim: i64,
    outs: *mut *mut rt_tensor,
    cap: usize,
    n_out: *mut usize,
) -> rt_status {
    export!(rt_tensor_chunk, [t, n_out], {
        let t = args::tensor(t, "t")?;
        let n = ops::stack::chunk_count(&t, chunks, dim)?;
        if cap > 0 && outs.is_null() {
            bail!(NullArgument, "argument `outs` is NULL but `cap` is {cap}");
        }
        // SAFETY: n_out checked non-NULL by export!.
        unsafe { *n_out = n };
        if cap < n {
            bail!(BufferTooSmall, "chunk gives {n} views but `cap` is {cap}; *n_out holds the count");
        }
        let views = ops::chunk(&t, chunks, dim)?;
        // SAFETY: outs holds cap >= n entries.
        let slots: Vec<*mut *mut rt_tensor> = (0..n).map(|i| unsafe { outs.add(i) }).collect();
        put_all(&slots, views)
    })
}

/// torch.multinomial(probs, num_samples, replacement): I64 indices, the seeded generator.
#[no_mangle]
pub unsafe extern "C" fn rt_tensor_multinomial(
    probs: *const rt_tensor,
    num_samples: i64,
    replacement: bool,
    out: *mut *mut rt_tensor,
) -> rt_status {
    export!(rt_tensor_multinomial, [probs, out], {
        let probs = args::tensor(probs, "probs")?;
        put_tensor(out, ops::multinomial(&probs, num_samples, replacement)?)
    })
}
