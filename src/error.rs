//! Errors carry a status code and a sentence; the FFI prefixes the function name and stores the
//! sentence as the calling thread's last error.

use std::fmt;

/// Status codes of the C ABI (API.md section 1). Values are fixed by the contract.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u32)]
pub enum Code {
    /// A required pointer argument was NULL (C ABI only).
    NullArgument = 1,
    /// An argument is out of its documented range.
    InvalidArgument = 2,
    /// A handle is stale, freed or of the wrong kind (C ABI only).
    InvalidHandle = 3,
    /// Shapes do not match or do not broadcast.
    Shape = 4,
    /// An element type is not the one the operation takes.
    Dtype = 5,
    /// Autograd misuse: backward twice without `retain_graph`, a modified saved tensor, a non-leaf flag change.
    Autograd = 6,
    /// An inference tensor used where the inference-mode rules forbid it.
    InferenceMode = 7,
    /// The call is not valid in the current state (frames out of order, a module in the wrong mode).
    InvalidState = 8,
    /// A file could not be read or written.
    Io = 9,
    /// A file is not valid safetensors, or does not match the model.
    Format = 10,
    /// An allocation the size of the data failed.
    OutOfMemory = 11,
    /// The combination of arguments is valid but not supported.
    Unsupported = 12,
    /// A caller's output buffer is too small (C ABI only).
    BufferTooSmall = 13,
    /// A bug in libinfer (a caught panic).
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
