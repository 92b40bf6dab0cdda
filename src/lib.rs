//! libinfer: tensors, reverse-mode autograd and neural-network modules with PyTorch's grad-mode
//! and inference-mode semantics, exposed as a stable C ABI (`include/infer.h`).
//!
//! The Rust API is usable directly; the C surface in [`ffi`] is the product contract (API.md).

pub mod autograd;
pub mod creation;
pub mod error;
pub mod ffi;
pub mod io;
pub mod kernels;
pub mod layout;
#[cfg(feature = "ndarray")]
mod ndarray_interop;
pub mod nn;
pub mod ops;
pub mod optim;
pub mod parallel;
mod recycle;
pub mod rng;
pub mod shape;
pub mod storage;
pub mod tensor;

pub use error::{Code, Error, Result};
pub use storage::DType;
pub use tensor::Tensor;
