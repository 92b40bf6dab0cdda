//! Errors carry a status code and a sentence; the FFI prefixes the function name and stores the
//! sentence as the calling thread's last error.

use std::fmt;

/// Status codes of the C ABI (API.md section 1). Values are fixed by the contract.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u32)]
pub enum Code {
    /// A required pointer was NULL (C ABI only).
    NullArgument = 1,
    /// A value is out of range (dim, index, probability, size...).
    InvalidArgument = 2,
    /// A freed, foreign or wrong-kind handle (C ABI only).
    InvalidHandle = 3,
    /// Shapes do not match or cannot broadcast, or a view is impossible.
    Shape = 4,
    /// A dtype the function does not accept.
    Dtype = 5,
    /// Autograd misuse: backward on a tensor with no grad_fn that does not require grad, a tensor
    /// saved for backward modified in place, in-place on a leaf that requires grad in grad mode,
    /// a graph already freed (no `retain_graph`).
    Autograd = 6,
    /// An inference-mode rule was broken (docs/API.md section 3).
    InferenceMode = 7,
    /// An unbalanced or mismatched grad-mode exit on this thread.
    InvalidState = 8,
    /// A file could not be opened, read or written.
    Io = 9,
    /// A file or buffer is malformed.
    Format = 10,
    /// An allocation could not be made (or its size overflows).
    OutOfMemory = 11,
    /// A valid request this build does not support.
    Unsupported = 12,
    /// The caller's buffer is too small (C ABI only).
    BufferTooSmall = 13,
    /// A bug: a caught panic.
    Internal = 14,
}

impl Code {
    /// Every status code but RT_OK, in value order: the one list the C header's `RT_ERR_*`
    /// constants, API.md's table, `rt_status_str` and the Go binding's constants are checked
    /// against (tests/status_codes.rs).
    pub const ALL: [Code; 14] = [
        Code::NullArgument,
        Code::InvalidArgument,
        Code::InvalidHandle,
        Code::Shape,
        Code::Dtype,
        Code::Autograd,
        Code::InferenceMode,
        Code::InvalidState,
        Code::Io,
        Code::Format,
        Code::OutOfMemory,
        Code::Unsupported,
        Code::BufferTooSmall,
        Code::Internal,
    ];
}

/// A failed call: what went wrong ([`Code`]) and a sentence naming the argument and the fix.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Error {
    /// The status code (`rt_status` in C).
    pub code: Code,
    /// The sentence.
    pub message: String,
}

/// The result of every fallible call.
pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    /// An error of `code` saying `message`.
    pub fn new(code: Code, message: impl Into<String>) -> Self {
        Error { code, message: message.into() }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Error {}

/// `bail!(Code, "format", args...)` returns early with an error of that code.
macro_rules! bail {
    ($code:ident, $($arg:tt)*) => {
        return Err($crate::error::Error::new($crate::error::Code::$code, format!($($arg)*)))
    };
}
pub(crate) use bail;

/// `err!(Code, "format", args...)` builds an error of that code.
macro_rules! err {
    ($code:ident, $($arg:tt)*) => {
        $crate::error::Error::new($crate::error::Code::$code, format!($($arg)*))
    };
}
pub(crate) use err;
