//! Loading a checkpoint whose names differ from the module's through a caller's name map
//! (API.md 7.A): a `bert.` prefix, old `gamma`/`beta` keys, a saved buffer the model recomputes.

use super::args;
use super::custom::call_back;
use super::{export, types::*};
use crate::error::{bail, err, Result};
use crate::io;
use crate::nn;
use std::ffi::{c_char, c_void, CStr};

/// Writes the module's name for `file_key` into `module_key` (NUL-terminated, at most cap bytes)
/// and returns RT_OK; an empty name skips that file key. Any other status aborts the load with it.
#[allow(non_camel_case_types)]
pub type rt_key_map_fn =
    Option<unsafe extern "C" fn(ctx: *mut c_void, file_key: *const c_char, module_key: *mut c_char, cap: usize) -> rt_status>;

/// The room given to the map for a name: any name longer than the module's longest names nothing
/// in it, so this is enough for every useful answer and for a useful message about others.
fn name_capacity(m: &dyn nn::Module) -> usize {
    let longest = nn::state_dict(m).iter().map(|(k, _)| k.len()).max().unwrap_or(0);
    (longest + 1).max(1024)
}

/// rt_module_load_safetensors with each file key renamed by `map` first; the same all-or-nothing
/// checks apply after mapping, and two file keys mapped to one module name are refused.
#[no_mangle]
pub unsafe extern "C" fn rt_module_load_safetensors_mapped(
    m: *mut rt_module,
    path: *const c_char,
    strict: bool,
    map: rt_key_map_fn,
    ctx: *mut c_void,
) -> rt_status {
    export!(rt_module_load_safetensors_mapped, [m, path], {
        let Some(map) = map else {
            bail!(NullArgument, "argument `map` is NULL; pass a key map (or use rt_module_load_safetensors)");
        };
        let m = args::module(m, "m")?;
        let cap = name_capacity(&*m);
        let mut buf: Vec<u8> = Vec::new();
        let mut rename = |file_key: &str| -> Result<Option<String>> {
            let key = std::ffi::CString::new(file_key).map_err(|_| err!(Format, "file key {file_key:?} holds a NUL byte"))?;
            buf.clear();
            buf.resize(cap, 0);
            let what = || format!("the key map, for file key \"{file_key}\"");
            // SAFETY: the caller's callback, given a NUL-terminated key and cap writable bytes.
            call_back(what, || unsafe { map(ctx, key.as_ptr(), buf.as_mut_ptr() as *mut c_char, cap) })?;
            let name = CStr::from_bytes_until_nul(&buf)
                .map_err(|_| err!(InvalidArgument, "the key map wrote no NUL within the {cap} bytes given for file key \"{file_key}\""))?;
            let name = name
                .to_str()
                .map_err(|_| err!(InvalidArgument, "the key map wrote a name that is not UTF-8 for file key \"{file_key}\""))?;
            Ok((!name.is_empty()).then(|| name.to_string()))
        };
        io::module::load_mapped(&*m, &args::path(path), strict, &mut rename)
    })
}
