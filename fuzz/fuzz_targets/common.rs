//! What both fuzz targets check after every C call, and the sanitizer settings they need.

use infer::ffi::error::rt_last_error_message;
use infer::ffi::runtime::rt_memory_stats_get;
use infer::ffi::types::*;
use std::ffi::c_char;

/// A failed allocation must reach the library as NULL, which it reports as RT_ERR_OUT_OF_MEMORY
/// (API.md: the library never aborts for an allocation it cannot make). ASan's default is to
/// report the huge request and abort; this makes it behave like the C library's malloc.
#[no_mangle]
pub extern "C" fn __asan_default_options() -> *const c_char {
    c"allocator_may_return_null=1".as_ptr()
}

/// This thread's last-error message.
pub fn last_error() -> String {
    let mut buf = vec![0u8; 4096];
    // SAFETY: buf holds 4096 bytes.
    let n = unsafe { rt_last_error_message(buf.as_mut_ptr() as *mut c_char, buf.len()) };
    buf.truncate(n.min(buf.len() - 1));
    String::from_utf8_lossy(&buf).into_owned()
}

/// The contract every call keeps, whatever its arguments (API.md section 1): a known status, never
/// RT_ERR_INTERNAL (a caught panic is a bug), and on failure a last-error message that names the
/// function.
pub fn check(status: rt_status, function: &str) {
    if trace() {
        eprintln!("{function} -> {status}");
    }
    assert!(status <= RT_ERR_INTERNAL, "{function} returned the unknown status {status}");
    if status == RT_OK {
        return;
    }
    let message = last_error();
    assert!(status != RT_ERR_INTERNAL, "{function} panicked inside the library: {message}");
    assert!(message.starts_with(function), "{function} failed with {status} but the last error is {message:?}");
}

/// INFER_FUZZ_TRACE=1 prints every call's name and status (for reading a crash input).
fn trace() -> bool {
    static TRACE: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *TRACE.get_or_init(|| std::env::var_os("INFER_FUZZ_TRACE").is_some())
}

/// Calls an `rt_` function and checks the contract on its status: `call!(rt_x(a, b))`.
#[macro_export]
macro_rules! call {
    ($f:ident($($arg:expr),* $(,)?)) => {{
        // SAFETY: every pointer passed is NULL, a handle (live, freed or of another kind, all of
        // which the library must refuse without dereferencing), or valid for the length given.
        // Some rt_ functions are safe to call; one macro serves both.
        #[allow(unused_unsafe)]
        let status = unsafe { $f($($arg),*) };
        $crate::common::check(status, stringify!($f));
        status
    }};
}

/// Bytes of tensor storage the library holds.
pub fn live_bytes() -> u64 {
    let mut stats = std::mem::MaybeUninit::<rt_memory_stats>::zeroed();
    // SAFETY: stats is writable.
    assert_eq!(unsafe { rt_memory_stats_get(stats.as_mut_ptr()) }, RT_OK);
    // SAFETY: written by the successful call above.
    unsafe { stats.assume_init() }.live_bytes
}
