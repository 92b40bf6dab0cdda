//! Pure slice kernels: no Tensor, and no thread-local state but reusable scratch room (room.rs),
//! so any thread may run them.

pub mod attention;
pub mod conv;
pub mod elementwise;
pub mod gemm;
pub mod linear_nt;
pub mod mask;
pub mod norm;
pub mod packed_gemm;
pub mod pool;
pub mod reduce;
pub mod rms_norm;
pub mod room;
pub mod rotary;
pub mod shifted;
pub mod simd;
pub mod softmax;
pub mod vmath;
