//! Version, status strings and the thread's last error message.

use super::{infallible, types::*};
use std::cell::RefCell;
use std::ffi::c_char;

thread_local! {
    static LAST_ERROR: RefCell<String> = const { RefCell::new(String::new()) };
}

pub fn set_last_error(message: String) {
    LAST_ERROR.with(|e| *e.borrow_mut() = message);
}

/// Puts `message` as this thread's last error and returns the one it replaces (a caller-defined
/// module's forward runs with an empty one, to tell whether anything failed inside it).
pub fn replace_last_error(message: String) -> String {
    LAST_ERROR.with(|e| std::mem::replace(&mut *e.borrow_mut(), message))
}

/// The ABI version this library implements (== RT_ABI_VERSION).
#[no_mangle]
pub extern "C" fn rt_abi_version() -> u32 {
    RT_ABI_VERSION
}

/// The library version, as a static NUL-terminated string; never NULL.
#[no_mangle]
pub extern "C" fn rt_version_string() -> *const c_char {
    concat!(env!("CARGO_PKG_VERSION"), "\0").as_ptr() as *const c_char
}

/// A static description of a status code; never NULL, also for unknown codes.
#[no_mangle]
pub extern "C" fn rt_status_str(code: rt_status) -> *const c_char {
    let s: &'static str = match code {
        RT_OK => "RT_OK: success\0",
        RT_ERR_NULL_ARGUMENT => "RT_ERR_NULL_ARGUMENT: a required pointer was NULL\0",
        RT_ERR_INVALID_ARGUMENT => "RT_ERR_INVALID_ARGUMENT: a value is out of range\0",
        RT_ERR_INVALID_HANDLE => "RT_ERR_INVALID_HANDLE: freed, foreign or wrong-kind handle\0",
        RT_ERR_SHAPE => "RT_ERR_SHAPE: shapes do not match or cannot broadcast\0",
        RT_ERR_DTYPE => "RT_ERR_DTYPE: dtype not accepted by this function\0",
        RT_ERR_AUTOGRAD => "RT_ERR_AUTOGRAD: autograd misuse\0",
        RT_ERR_INFERENCE_MODE => "RT_ERR_INFERENCE_MODE: an inference-mode rule was broken\0",
        RT_ERR_INVALID_STATE => "RT_ERR_INVALID_STATE: unbalanced or mismatched grad-mode exit\0",
        RT_ERR_IO => "RT_ERR_IO: file could not be opened, read or written\0",
        RT_ERR_FORMAT => "RT_ERR_FORMAT: a file or buffer is malformed\0",
        RT_ERR_OUT_OF_MEMORY => "RT_ERR_OUT_OF_MEMORY: an allocation could not be made\0",
        RT_ERR_UNSUPPORTED => "RT_ERR_UNSUPPORTED: valid request this build does not support\0",
        RT_ERR_BUFFER_TOO_SMALL => "RT_ERR_BUFFER_TOO_SMALL: caller's buffer is too small\0",
        RT_ERR_INTERNAL => "RT_ERR_INTERNAL: a bug (a caught panic)\0",
        _ => "unknown status code\0",
    };
    s.as_ptr() as *const c_char
}

/// Copies this thread's last error into buf (NUL-terminated when cap > 0, truncated if needed) and
/// returns its full length without the NUL, snprintf-style; 0 when there is none.
///
/// # Safety
/// `buf` must be valid for `cap` bytes (or NULL with cap 0).
#[no_mangle]
pub unsafe extern "C" fn rt_last_error_message(buf: *mut c_char, cap: usize) -> usize {
    infallible(0, || {
        LAST_ERROR.with(|e| {
            let msg = e.borrow();
            if !buf.is_null() && cap > 0 {
                let n = msg.len().min(cap - 1);
                // SAFETY: the caller promises buf holds cap bytes; n < cap.
                unsafe {
                    std::ptr::copy_nonoverlapping(msg.as_ptr(), buf as *mut u8, n);
                    *buf.add(n) = 0;
                }
            }
            msg.len()
        })
    })
}
