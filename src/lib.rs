//! libinfer: tensors, reverse-mode autograd and neural-network modules with PyTorch's grad-mode
//! and inference-mode semantics, exposed as a stable C ABI (`include/infer.h`, the contract in
//! `docs/API.md`). The same core is usable from Rust directly; this page is its map.
//!
//! # The model
//!
//! - A [`Tensor`] is a cheap handle (an `Arc`) to a storage plus a layout (shape, strides,
//!   offset): views share the storage. Element types are [`DType`]s: `F32` for values, `I64` for
//!   indices and labels. Factories live in [`creation`], ops in [`ops`]; every op validates its
//!   arguments and returns an [`Error`] (a [`Code`] and a sentence) instead of panicking.
//! - Autograd records a graph when grad mode is on and an input requires grad;
//!   [`autograd::engine::backward`] accumulates gradients into the leaves, as PyTorch does.
//! - Grad modes are per thread and scoped by RAII guards that are not `Send`:
//!   [`autograd::mode::GradModeGuard`] (`new(false)` is `no_grad`) and
//!   [`autograd::mode::InferenceModeGuard`]. Inside inference mode nothing is recorded, tensors
//!   made there are inference tensors (no version counter), and the safety rules of
//!   `docs/API.md` section 3 keep them from being saved for backward or modified in place outside
//!   the mode.
//! - [`nn`] holds modules with PyTorch's initialisation and `state_dict` names, [`optim`] SGD and
//!   Adam, [`io`] safetensors files.
//! - [`storage::memory_stats`] counts the bytes tensors hold (and their peak), [`gradcheck`] checks
//!   a gradient against finite differences, [`parallel::set_num_threads`] sizes the thread pool,
//!   and with the `ndarray` feature (on by default) `Tensor::from_ndarray`, `to_ndarray` and
//!   `ndarray_view` move data to and from `ndarray` arrays.
//!
//! ```
//! use infer::autograd::{engine::backward, mode::InferenceModeGuard};
//! use infer::ops::inplace::{self, Inplace};
//! use infer::{creation, ops, Code};
//!
//! // y = sum(w * x): dy/dw = x
//! let x = creation::from_slice(&[1f32, 2., 3.], &[3])?;
//! let w = creation::from_slice(&[0.5f32, -1., 2.], &[3])?;
//! w.set_requires_grad(true)?;
//! let y = ops::sum(&ops::mul(&w, &x)?, &[], false)?;
//! backward(&y, None, false)?;
//! assert_eq!(w.grad().unwrap().to_vec_f32(), vec![1., 2., 3.]);
//!
//! // Inference mode: no graph, and its tensors cannot be modified in place outside it.
//! let z = {
//!     let _inference = InferenceModeGuard::new(true);
//!     let z = ops::mul(&w, &x)?;
//!     assert!(z.grad_fn().is_none() && z.is_inference());
//!     z
//! };
//! assert_eq!(inplace::apply(&z, None, Inplace::AddScalar(1.0)).unwrap_err().code, Code::InferenceMode);
//! # Ok::<(), infer::Error>(())
//! ```
//!
//! The C surface is the `ffi` module: its functions are `extern "C"` and documented in
//! `docs/API.md`, not here. It, `kernels` and `compute` are public for the C ABI, the tests and the
//! benches only, and hidden from these docs: they are not part of the Rust API.

#![warn(missing_docs)]

pub mod autograd;
mod buffers;
#[doc(hidden)]
pub mod compute;
pub mod creation;
pub mod error;
#[doc(hidden)]
#[allow(missing_docs)] // documented for C callers in docs/API.md and include/infer.h
pub mod ffi;
pub mod gradcheck;
pub mod io;
#[doc(hidden)]
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
