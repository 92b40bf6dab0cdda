//! Tensor lifecycle, data access and inspection (API.md section 3).

use super::args::{self, put, put_tensor};
use super::handle::{self, Kind};
use super::{export, types::*};
use crate::creation;
use crate::error::{bail, Result};
use crate::shape::numel;
use crate::storage::DType;
use std::ffi::c_void;

fn check_nbytes(nbytes: usize, shape: &[usize], dtype: DType) -> Result<()> {
    let expected = numel(shape) * dtype.size();
    if nbytes != expected {
        bail!(
            InvalidArgument,
            "`nbytes` is {nbytes} but a {} tensor of shape {} needs {expected} bytes",
            dtype.name(),
            crate::shape::fmt_shape(shape)
        );
    }
    Ok(())
}

/// Creates a tensor by copying `nbytes` of row-major data (nbytes must equal numel * dtype size).
#[no_mangle]
pub unsafe extern "C" fn rt_tensor_from_data(
    data: *const c_void,
    nbytes: usize,
    dtype: rt_dtype,
    shape: *const i64,
    ndim: usize,
    out: *mut *mut rt_tensor,
) -> rt_status {
    export!(rt_tensor_from_data, [out], {
        let bytes = args::slice(data as *const u8, nbytes, "data")?;
        let shape = args::shape(shape, ndim, "shape")?;
        let dtype = args::dtype(dtype)?;
        check_nbytes(nbytes, &shape, dtype)?;
        let t = match dtype {
            DType::F32 => creation::from_vec(ne_values(bytes, f32::from_ne_bytes)?, &shape),
            DType::I64 => creation::from_vec(ne_values(bytes, i64::from_ne_bytes)?, &shape),
            DType::Bool => creation::from_vec(bool_bytes(bytes)?, &shape),
        };
        put_tensor(out, t)
    })
}

/// A copy of BOOL bytes, each of which must be 0 or 1 (RT_ERR_INVALID_ARGUMENT naming the first
/// that is not: PyTorch's bool holds nothing else, and comparisons rely on it).
fn bool_bytes(b: &[u8]) -> Result<Vec<u8>> {
    check_bool_bytes(b)?;
    crate::storage::try_copy(b)
}

fn check_bool_bytes(b: &[u8]) -> Result<()> {
    match b.iter().position(|&v| v > 1) {
        Some(i) => bail!(InvalidArgument, "`data` byte {i} is {} but BOOL elements must be 0 or 1", b[i]),
        None => Ok(()),
    }
}

/// Native-endian elements of `N` bytes each, read from a byte buffer of any alignment into the
/// one vector the tensor will own.
fn ne_values<T, const N: usize>(b: &[u8], from_bytes: fn([u8; N]) -> T) -> crate::Result<Vec<T>> {
    let chunks = b.chunks_exact(N);
    crate::storage::try_collect(chunks.len(), chunks.map(|c| from_bytes(c.try_into().expect("chunks_exact gives N bytes"))))
}

/// Wraps caller memory without copying; `deleter(data, ctx)` runs once when the last tensor using
/// it is gone (never when this call fails). NULL deleter: the caller keeps the memory alive.
#[no_mangle]
pub unsafe extern "C" fn rt_tensor_from_blob(
    data: *mut c_void,
    nbytes: usize,
    dtype: rt_dtype,
    shape: *const i64,
    ndim: usize,
    deleter: Option<unsafe extern "C" fn(data: *mut c_void, ctx: *mut c_void)>,
    ctx: *mut c_void,
    out: *mut *mut rt_tensor,
) -> rt_status {
    export!(rt_tensor_from_blob, [out], {
        let bytes = args::slice(data as *const u8, nbytes, "data")?;
        let shape = args::shape(shape, ndim, "shape")?;
        let dtype = args::dtype(dtype)?;
        check_nbytes(nbytes, &shape, dtype)?;
        if !(data as usize).is_multiple_of(dtype.size()) {
            bail!(InvalidArgument, "`data` is not aligned to {} bytes, the size of {}; pass aligned memory", dtype.size(), dtype.name());
        }
        // Checked when wrapped, as rt_tensor_from_data does; bytes the caller writes later are
        // the caller's business (readers take any nonzero byte as true).
        if dtype == DType::Bool {
            check_bool_bytes(bytes)?;
        }
        let t = creation::from_blob(data, &shape, dtype, deleter, ctx);
        // The deleter must not run when this call fails: take it back if no handle can be made.
        match handle::insert(handle::Object::Tensor(t.clone())) {
            Ok(h) => {
                *out = h as *mut rt_tensor;
                Ok(())
            }
            Err(e) => {
                t.storage().forget_deleter();
                Err(e)
            }
        }
    })
}

unsafe fn factory(
    shape: *const i64,
    ndim: usize,
    out: *mut *mut rt_tensor,
    make: impl FnOnce(&[usize]) -> Result<crate::Tensor>,
) -> Result<()> {
    let shape = args::shape(shape, ndim, "shape")?;
    put_tensor(out, make(&shape)?)
}

#[no_mangle]
pub unsafe extern "C" fn rt_tensor_zeros(shape: *const i64, ndim: usize, dtype: rt_dtype, out: *mut *mut rt_tensor) -> rt_status {
    export!(rt_tensor_zeros, [out], {
        let shape = args::shape(shape, ndim, "shape")?;
        put_tensor(out, creation::zeros(&shape, args::dtype(dtype)?)?)
    })
}

#[no_mangle]
pub unsafe extern "C" fn rt_tensor_ones(shape: *const i64, ndim: usize, dtype: rt_dtype, out: *mut *mut rt_tensor) -> rt_status {
    export!(rt_tensor_ones, [out], {
        let shape = args::shape(shape, ndim, "shape")?;
        put_tensor(out, creation::ones(&shape, args::dtype(dtype)?)?)
    })
}

#[no_mangle]
pub unsafe extern "C" fn rt_tensor_full(
    shape: *const i64,
    ndim: usize,
    value: f64,
    dtype: rt_dtype,
    out: *mut *mut rt_tensor,
) -> rt_status {
    export!(rt_tensor_full, [out], {
        let shape = args::shape(shape, ndim, "shape")?;
        put_tensor(out, creation::full(&shape, value, args::dtype(dtype)?)?)
    })
}

/// F32 samples of N(0, 1) from the process-wide generator.
#[no_mangle]
pub unsafe extern "C" fn rt_tensor_randn(shape: *const i64, ndim: usize, out: *mut *mut rt_tensor) -> rt_status {
    export!(rt_tensor_randn, [out], { factory(shape, ndim, out, creation::randn) })
}

/// F32 samples of U[0, 1) from the process-wide generator.
#[no_mangle]
pub unsafe extern "C" fn rt_tensor_rand(shape: *const i64, ndim: usize, out: *mut *mut rt_tensor) -> rt_status {
    export!(rt_tensor_rand, [out], { factory(shape, ndim, out, creation::rand) })
}

/// A second handle to the same tensor.
#[no_mangle]
pub unsafe extern "C" fn rt_tensor_share(t: *const rt_tensor, out: *mut *mut rt_tensor) -> rt_status {
    export!(rt_tensor_share, [t, out], { put_tensor(out, args::tensor(t, "t")?) })
}

/// Releases a handle; NULL is a no-op. A second free of the same handle is RT_ERR_INVALID_HANDLE.
#[no_mangle]
pub unsafe extern "C" fn rt_tensor_free(t: *mut rt_tensor) -> rt_status {
    export!(rt_tensor_free, [], {
        if t.is_null() {
            return Ok(());
        }
        handle::remove(t as usize, Kind::Tensor).map_err(|e| crate::error::Error::new(e.code, format!("argument `t` {}", e.message)))
    })
}

#[no_mangle]
pub unsafe extern "C" fn rt_tensor_ndim(t: *const rt_tensor, out: *mut usize) -> rt_status {
    export!(rt_tensor_ndim, [t, out], { put(out, args::tensor(t, "t")?.ndim()) })
}

/// Writes the sizes into dims; `*ndim` is always written; RT_ERR_BUFFER_TOO_SMALL when cap < ndim.
#[no_mangle]
pub unsafe extern "C" fn rt_tensor_shape(t: *const rt_tensor, dims: *mut i64, cap: usize, ndim: *mut usize) -> rt_status {
    export!(rt_tensor_shape, [t, ndim], {
        // NULL comes before every other error, and *ndim may only be written on success or
        // RT_ERR_BUFFER_TOO_SMALL.
        if cap > 0 && dims.is_null() {
            bail!(NullArgument, "argument `dims` is NULL but `cap` is {cap}; pass a buffer, or a cap of 0 to ask for the count");
        }
        let t = args::tensor(t, "t")?;
        *ndim = t.ndim();
        if cap < t.ndim() {
            bail!(BufferTooSmall, "`cap` is {cap} but the tensor has {} dimensions; *ndim holds the count", t.ndim());
        }
        for (i, &d) in t.shape().iter().enumerate() {
            *dims.add(i) = d as i64;
        }
        Ok(())
    })
}

#[no_mangle]
pub unsafe extern "C" fn rt_tensor_numel(t: *const rt_tensor, out: *mut usize) -> rt_status {
    export!(rt_tensor_numel, [t, out], { put(out, args::tensor(t, "t")?.numel()) })
}

#[no_mangle]
pub unsafe extern "C" fn rt_tensor_dtype(t: *const rt_tensor, out: *mut rt_dtype) -> rt_status {
    export!(rt_tensor_dtype, [t, out], { put(out, args::dtype_code(args::tensor(t, "t")?.dtype())) })
}

#[no_mangle]
pub unsafe extern "C" fn rt_tensor_is_contiguous(t: *const rt_tensor, out: *mut bool) -> rt_status {
    export!(rt_tensor_is_contiguous, [t, out], { put(out, args::tensor(t, "t")?.is_contiguous()) })
}

#[no_mangle]
pub unsafe extern "C" fn rt_tensor_requires_grad(t: *const rt_tensor, out: *mut bool) -> rt_status {
    export!(rt_tensor_requires_grad, [t, out], { put(out, args::tensor(t, "t")?.requires_grad()) })
}

/// Rules: I64 -> RT_ERR_DTYPE; inference tensor outside inference mode (true) ->
/// RT_ERR_INFERENCE_MODE (I5); non-leaf -> RT_ERR_AUTOGRAD.
#[no_mangle]
pub unsafe extern "C" fn rt_tensor_set_requires_grad(t: *mut rt_tensor, requires_grad: bool) -> rt_status {
    export!(rt_tensor_set_requires_grad, [t], { args::tensor(t, "t")?.set_requires_grad(requires_grad) })
}

#[no_mangle]
pub unsafe extern "C" fn rt_tensor_is_inference(t: *const rt_tensor, out: *mut bool) -> rt_status {
    export!(rt_tensor_is_inference, [t, out], { put(out, args::tensor(t, "t")?.is_inference()) })
}

#[no_mangle]
pub unsafe extern "C" fn rt_tensor_is_leaf(t: *const rt_tensor, out: *mut bool) -> rt_status {
    export!(rt_tensor_is_leaf, [t, out], { put(out, args::tensor(t, "t")?.is_leaf()) })
}

#[no_mangle]
pub unsafe extern "C" fn rt_tensor_has_grad_fn(t: *const rt_tensor, out: *mut bool) -> rt_status {
    export!(rt_tensor_has_grad_fn, [t, out], { put(out, !args::tensor(t, "t")?.is_leaf()) })
}

/// True for views of normal tensors.
#[no_mangle]
pub unsafe extern "C" fn rt_tensor_is_view(t: *const rt_tensor, out: *mut bool) -> rt_status {
    export!(rt_tensor_is_view, [t, out], { put(out, args::tensor(t, "t")?.is_view()) })
}

/// The version counter; inference tensors have none (RT_ERR_INFERENCE_MODE, I3).
#[no_mangle]
pub unsafe extern "C" fn rt_tensor_version(t: *const rt_tensor, out: *mut u64) -> rt_status {
    export!(rt_tensor_version, [t, out], {
        match args::tensor(t, "t")?.version() {
            Some(v) => put(out, v),
            None => bail!(InferenceMode, "inference tensors have no version counter (rule I3); only normal tensors do"),
        }
    })
}

/// Copies the elements row-major into dst; nbytes must equal numel * dtype size.
#[no_mangle]
pub unsafe extern "C" fn rt_tensor_copy_to(t: *const rt_tensor, dst: *mut c_void, nbytes: usize) -> rt_status {
    export!(rt_tensor_copy_to, [t], {
        if nbytes > 0 && dst.is_null() {
            bail!(NullArgument, "argument `dst` is NULL but `nbytes` is {nbytes}");
        }
        let t = args::tensor(t, "t")?;
        check_nbytes(nbytes, t.shape(), t.dtype())?;
        match t.dtype() {
            DType::F32 => std::ptr::copy_nonoverlapping(t.try_data::<f32>()?.as_ptr() as *const u8, dst as *mut u8, nbytes),
            DType::I64 => std::ptr::copy_nonoverlapping(t.try_data::<i64>()?.as_ptr() as *const u8, dst as *mut u8, nbytes),
            DType::Bool => std::ptr::copy_nonoverlapping(t.try_data::<u8>()?.as_ptr(), dst as *mut u8, nbytes),
        }
        Ok(())
    })
}

/// A borrowed pointer to the first element of a contiguous tensor (valid while the tensor lives).
#[no_mangle]
pub unsafe extern "C" fn rt_tensor_data_ptr(t: *const rt_tensor, out: *mut *const c_void) -> rt_status {
    export!(rt_tensor_data_ptr, [t, out], {
        let t = args::tensor(t, "t")?;
        if !t.is_contiguous() {
            bail!(
                InvalidArgument,
                "the tensor is not contiguous (strides {:?}); call rt_tensor_contiguous first",
                t.layout().strides.as_slice()
            );
        }
        // An empty view may keep an offset past its storage's end: it gets the storage's start.
        let offset = if t.numel() == 0 { 0 } else { t.layout().offset };
        let p = t.storage().as_ptr().add(offset * t.dtype().size());
        put(out, p as *const c_void)
    })
}

/// The single element as a double; RT_ERR_SHAPE unless numel == 1.
#[no_mangle]
pub unsafe extern "C" fn rt_tensor_item(t: *const rt_tensor, out: *mut f64) -> rt_status {
    export!(rt_tensor_item, [t, out], {
        let t = args::tensor(t, "t")?;
        if t.numel() != 1 {
            bail!(Shape, "item needs exactly one element but the tensor is a {}", t.describe());
        }
        let off = t.layout().offset;
        put(
            out,
            match t.dtype() {
                DType::F32 => t.storage().slice::<f32>()[off] as f64,
                DType::I64 => t.storage().slice::<i64>()[off] as f64,
                DType::Bool => (t.storage().slice::<u8>()[off] != 0) as u8 as f64,
            },
        )
    })
}

/// Seeds the one process-wide generator (randn, rand, dropout, initialisation).
#[no_mangle]
pub extern "C" fn rt_manual_seed(seed: u64) {
    super::infallible((), || crate::rng::manual_seed(seed))
}
