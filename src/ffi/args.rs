//! Reading C arguments: handles, arrays, dtypes and shapes, and writing out-parameters.

use super::handle::{self, Kind, Object};
use super::types::*;
use crate::error::{bail, Error, Result};
use crate::io::SafeTensors;
use crate::nn::Module;
use crate::shape::{dims_from_i64, Dims};
use crate::storage::DType;
use crate::tensor::Tensor;
use std::sync::Arc;

#[cold]
fn named(e: Error, name: &str) -> Error {
    Error::new(e.code, format!("argument `{name}` {}", e.message))
}

#[inline]
pub fn tensor(p: *const rt_tensor, name: &str) -> Result<Tensor> {
    handle::get_tensor(p as usize).map_err(|e| named(e, name))
}

pub fn opt_tensor(p: *const rt_tensor, name: &str) -> Result<Option<Tensor>> {
    if p.is_null() {
        Ok(None)
    } else {
        tensor(p, name).map(Some)
    }
}

pub fn module(p: *const rt_module, name: &str) -> Result<Arc<dyn Module>> {
    match handle::get(p as usize, Kind::Module).map_err(|e| named(e, name))? {
        Object::Module(m) => Ok(m),
        _ => unreachable!("kind was checked"),
    }
}

pub fn safetensors(p: *const rt_safetensors, name: &str) -> Result<Arc<SafeTensors>> {
    match handle::get(p as usize, Kind::Safetensors).map_err(|e| named(e, name))? {
        Object::Safetensors(f) => Ok(f),
        _ => unreachable!("kind was checked"),
    }
}

/// Frees a handle of `kind` (NULL is a no-op), naming the argument in the error.
pub fn free(p: usize, kind: Kind, name: &str) -> Result<()> {
    if p == 0 {
        return Ok(());
    }
    handle::remove(p, kind).map_err(|e| named(e, name))
}

/// A C array of `len` elements; NULL is allowed only when `len` is 0.
///
/// # Safety
/// A non-NULL `p` must be valid for `len` reads.
pub unsafe fn slice<'a, T>(p: *const T, len: usize, name: &str) -> Result<&'a [T]> {
    if len == 0 {
        return Ok(&[]);
    }
    if p.is_null() {
        bail!(NullArgument, "argument `{name}` is NULL but its length is {len}; pass an array or a length of 0");
    }
    // SAFETY: the caller promises p holds len elements.
    Ok(unsafe { std::slice::from_raw_parts(p, len) })
}

/// A shape array: at most RT_MAX_DIMS non-negative sizes whose element count can be allocated.
///
/// # Safety
/// As `slice`.
pub unsafe fn shape(p: *const i64, ndim: usize, name: &str) -> Result<Dims> {
    if ndim > RT_MAX_DIMS {
        bail!(InvalidArgument, "`ndim` = {ndim} is more than the {RT_MAX_DIMS} dimensions supported");
    }
    dims_from_i64(slice(p, ndim, name)?, name)
}

/// Dims arguments (for permute, sum, ...): at most RT_MAX_DIMS entries.
///
/// # Safety
/// As `slice`.
pub unsafe fn dims<'a>(p: *const i64, n: usize, name: &str) -> Result<&'a [i64]> {
    if n > RT_MAX_DIMS {
        bail!(InvalidArgument, "`{name}` has {n} entries, more than the {RT_MAX_DIMS} dimensions supported");
    }
    slice(p, n, name)
}

pub fn dtype(d: rt_dtype) -> Result<DType> {
    match d {
        RT_DTYPE_F32 => Ok(DType::F32),
        RT_DTYPE_I64 => Ok(DType::I64),
        RT_DTYPE_BOOL => Ok(DType::Bool),
        _ => bail!(InvalidArgument, "dtype {d} is not a valid rt_dtype; use RT_DTYPE_F32 (0), RT_DTYPE_I64 (1) or RT_DTYPE_BOOL (2)"),
    }
}

pub fn dtype_code(d: DType) -> rt_dtype {
    match d {
        DType::F32 => RT_DTYPE_F32,
        DType::I64 => RT_DTYPE_I64,
        DType::Bool => RT_DTYPE_BOOL,
    }
}

/// Registers `t` and writes its new handle to `out` (non-NULL, checked by `export!`).
///
/// # Safety
/// `out` must be valid for a write.
pub unsafe fn put_tensor(out: *mut *mut rt_tensor, t: Tensor) -> Result<()> {
    let h = handle::insert(Object::Tensor(t))?;
    // SAFETY: out was checked non-NULL and the caller promises it is writable.
    unsafe { *out = h as *mut rt_tensor };
    Ok(())
}

/// # Safety
/// `out` must be valid for a write.
pub unsafe fn put_module(out: *mut *mut rt_module, m: Arc<dyn Module>) -> Result<()> {
    let h = handle::insert(Object::Module(m))?;
    // SAFETY: as put_tensor.
    unsafe { *out = h as *mut rt_module };
    Ok(())
}

/// # Safety
/// `out` must be valid for a write.
pub unsafe fn put<T>(out: *mut T, value: T) -> Result<()> {
    // SAFETY: out was checked non-NULL and the caller promises it is writable.
    unsafe { out.write(value) };
    Ok(())
}

/// A NUL-terminated UTF-8 string argument.
///
/// # Safety
/// `p` must point to a NUL-terminated string.
pub unsafe fn string<'a>(p: *const std::ffi::c_char, name: &str) -> Result<&'a str> {
    // SAFETY: checked non-NULL by export!; the caller promises NUL termination.
    let s = unsafe { std::ffi::CStr::from_ptr(p) };
    s.to_str().map_err(|_| crate::error::err!(InvalidArgument, "argument `{name}` is not valid UTF-8"))
}

/// A NUL-terminated file path; any bytes but NUL are allowed, as the OS allows.
///
/// # Safety
/// `p` must point to a NUL-terminated string.
pub unsafe fn path(p: *const std::ffi::c_char) -> std::path::PathBuf {
    use std::os::unix::ffi::OsStrExt;
    // SAFETY: checked non-NULL by export!; the caller promises NUL termination.
    let bytes = unsafe { std::ffi::CStr::from_ptr(p) }.to_bytes();
    std::ffi::OsStr::from_bytes(bytes).into()
}

/// Copies `name` NUL-terminated into buf (cap bytes); `*len` always gets its length.
///
/// # Safety
/// `buf` valid for cap bytes (may be NULL when cap is 0), `len` writable.
pub unsafe fn put_name(name: &str, buf: *mut std::ffi::c_char, cap: usize, len: *mut usize) -> Result<()> {
    // Checked before *len is written: only RT_ERR_BUFFER_TOO_SMALL may report the length.
    if cap > 0 && buf.is_null() {
        bail!(NullArgument, "argument `buf` is NULL but `cap` is {cap}");
    }
    // SAFETY: len checked non-NULL by export!.
    unsafe { *len = name.len() };
    if cap <= name.len() {
        bail!(BufferTooSmall, "the name needs {} bytes with its NUL but `cap` is {cap}; *len holds its length", name.len() + 1);
    }
    // SAFETY: buf holds cap > name.len() bytes.
    unsafe {
        std::ptr::copy_nonoverlapping(name.as_ptr(), buf as *mut u8, name.len());
        *buf.add(name.len()) = 0;
    }
    Ok(())
}
