//! Pure slice kernels: no Tensor, no thread-local state, so any thread may run them.

pub mod elementwise;
pub mod gemm;
pub mod reduce;
