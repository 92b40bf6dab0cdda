//! Shared computations: the tensor computations that forward ops (ops/) and backward nodes
//! (autograd/functions/) both run, and the op descriptors both name. Nothing here reads the grad
//! mode or records a node, so the layers stay one chain: kernels -> compute -> autograd -> ops ->
//! nn -> ffi.

pub mod attention;
pub mod conv;
pub mod indexing;
pub mod inplace;
pub mod linalg;
pub mod mask;
pub mod raw;
pub mod rotary;
pub mod triangle;
pub mod unary;
