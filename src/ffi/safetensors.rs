//! Safetensors files and module state (API.md sections 4 and 5).

use super::args::{self, put, put_tensor};
use super::handle::{self, Kind, Object};
use super::{export, types::*};
use crate::error::bail;
use crate::io::{self, SafeTensors};
use crate::tensor::Tensor;
use std::ffi::c_char;
use std::sync::Arc;

/// Reads and validates the whole file (it is not mapped, so later changes to it cannot affect the
/// handle). RT_ERR_IO when it cannot be read; RT_ERR_FORMAT when it is malformed, detected before
/// anything is allocated from the header's claims.
#[no_mangle]
pub unsafe extern "C" fn rt_safetensors_open(path: *const c_char, out: *mut *mut rt_safetensors) -> rt_status {
    export!(rt_safetensors_open, [path, out], {
        let f = SafeTensors::open(&args::path(path))?;
        let h = handle::insert(Object::Safetensors(Arc::new(f)))?;
        put(out, h as *mut rt_safetensors)
    })
}

/// Number of tensors in the file (`__metadata__` is not one).
#[no_mangle]
pub unsafe extern "C" fn rt_safetensors_count(f: *const rt_safetensors, out: *mut usize) -> rt_status {
    export!(rt_safetensors_count, [f, out], { put(out, args::safetensors(f, "f")?.len()) })
}

/// The name of tensor `index`, names sorted byte-wise (whatever order the file stores them in);
/// written NUL-terminated, *len always set to its length; RT_ERR_BUFFER_TOO_SMALL when cap <= *len.
#[no_mangle]
pub unsafe extern "C" fn rt_safetensors_name(
    f: *const rt_safetensors,
    index: usize,
    buf: *mut c_char,
    cap: usize,
    len: *mut usize,
) -> rt_status {
    export!(rt_safetensors_name, [f, len], {
        let f = args::safetensors(f, "f")?;
        match f.entries().get(index) {
            Some(e) => args::put_name(&e.name, buf, cap, len),
            None => bail!(InvalidArgument, "`index` {index} is out of range: the file has {} tensors", f.len()),
        }
    })
}

/// A new tensor holding `name`'s values: F32, I64 and BOOL load as such, U8 and the other integer
/// types as I64, F16/BF16/F64 (and F8_E4M3/F8_E5M2) as F32. It is a normal tensor, or an
/// inference tensor inside inference mode, and outlives the file handle.
#[no_mangle]
pub unsafe extern "C" fn rt_safetensors_get(f: *const rt_safetensors, name: *const c_char, out: *mut *mut rt_tensor) -> rt_status {
    export!(rt_safetensors_get, [f, name, out], {
        let f = args::safetensors(f, "f")?;
        let name = args::string(name, "name")?;
        put_tensor(out, f.get(name)?)
    })
}

/// Releases a file handle; NULL is a no-op. Tensors already returned by get stay valid.
#[no_mangle]
pub unsafe extern "C" fn rt_safetensors_free(f: *mut rt_safetensors) -> rt_status {
    export!(rt_safetensors_free, [], { args::free(f as usize, Kind::Safetensors, "f") })
}

/// Writes n tensors under the given names (unique, else RT_ERR_INVALID_ARGUMENT) to path,
/// row-major whatever their strides. The file is written under a temporary name in the same
/// directory and renamed into place, so path never holds a partial file; RT_ERR_IO on failure.
#[no_mangle]
pub unsafe extern "C" fn rt_safetensors_save(
    path: *const c_char,
    names: *const *const c_char,
    ts: *const *const rt_tensor,
    n: usize,
) -> rt_status {
    export!(rt_safetensors_save, [path], {
        let names = args::slice(names, n, "names")?;
        let handles = args::slice(ts, n, "ts")?;
        if let Some(i) = names.iter().position(|p| p.is_null()) {
            bail!(NullArgument, "argument `names[{i}]` is NULL; pass {n} names");
        }
        if let Some(i) = handles.iter().position(|p| p.is_null()) {
            bail!(NullArgument, "argument `ts[{i}]` is NULL; pass {n} tensor handles");
        }
        let tensors =
            handles.iter().enumerate().map(|(i, &h)| args::tensor(h, &format!("ts[{i}]"))).collect::<crate::Result<Vec<Tensor>>>()?;
        let names =
            names.iter().enumerate().map(|(i, &p)| args::string(p, &format!("names[{i}]"))).collect::<crate::Result<Vec<&str>>>()?;
        let items: Vec<(&str, &Tensor)> = names.into_iter().zip(&tensors).collect();
        io::safetensors::save(&args::path(path), &items)
    })
}

/// Copies the file's tensors into the module's own tensors (in place, as under no_grad: versions
/// are bumped). Every key, dtype and shape is checked first, so a failed load leaves the module as
/// it was. strict: missing and unexpected keys are RT_ERR_INVALID_ARGUMENT; otherwise the keys both
/// have are loaded. Shape mismatch: RT_ERR_SHAPE; a dtype that converts (as rt_safetensors_get) to
/// another dtype than the module's tensor: RT_ERR_DTYPE.
#[no_mangle]
pub unsafe extern "C" fn rt_module_load_safetensors(m: *mut rt_module, path: *const c_char, strict: bool) -> rt_status {
    export!(rt_module_load_safetensors, [m, path], {
        let m = args::module(m, "m")?;
        io::module::load(&*m, &args::path(path), strict)
    })
}

/// Writes the module's state_dict (parameters then buffers, PyTorch's names) to path, atomically
/// as rt_safetensors_save.
#[no_mangle]
pub unsafe extern "C" fn rt_module_save_safetensors(m: *const rt_module, path: *const c_char) -> rt_status {
    export!(rt_module_save_safetensors, [m, path], {
        let m = args::module(m, "m")?;
        io::module::save(&*m, &args::path(path))
    })
}
