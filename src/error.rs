//! Errors carry a status code and a sentence; the FFI prefixes the function name and stores the
//! sentence as the calling thread's last error.

use std::fmt;

/// Status codes of the C ABI (API.md section 1). Values are fixed by the contract.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u32)]
pub enum Code {
    NullArgument = 1,
    InvalidArgument = 2,
    InvalidHandle = 3,
    Shape = 4,
    Dtype = 5,
    Autograd = 6,
    InferenceMode = 7,
    InvalidState = 8,
    Io = 9,
    Format = 10,
    OutOfMemory = 11,
    Unsupported = 12,
    BufferTooSmall = 13,
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

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Error {
    pub code: Code,
    pub message: String,
}

pub type Result<T> = std::result::Result<T, Error>;

impl Error {
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
