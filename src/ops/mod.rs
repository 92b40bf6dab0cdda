//! The dispatch layer: validate, run the kernel, record a node when grad mode is on, inference
//! mode is off and an input requires grad. The only code that reads the thread's grad state.

pub mod arith;
pub mod copy;
pub mod inplace;
pub mod linalg;
pub mod raw;
pub mod record;
pub mod reduce;
pub mod unary;
pub mod views;

pub use arith::{add, add_scalar, binary, div, mul, mul_scalar, pow_scalar, sub};
pub use copy::{cat, clone, contiguous, to};
pub use linalg::{linear, matmul};
pub use raw::BinOp;
pub use reduce::{argmax, mean, sum};
pub use unary::{unary, UnaryOp};
pub use views::{detach, expand, flatten, narrow, permute, reshape, select, squeeze, transpose, unsqueeze, view};
