//! The one GEMM entry point for matmul, linear and their backward: the `gemm` crate, which picks
//! AVX-512 / AVX2 / scalar kernels at run time. Operands are addressed by row and column strides,
//! so transposed operands cost no copy.

use crate::parallel;

/// A strided matrix operand (strides in elements).
#[derive(Clone, Copy)]
pub struct MatRef {
    pub ptr: *const f32,
    pub rs: isize,
    pub cs: isize,
}

/// dst (m x n, row-major contiguous rows of `dst_rs`) = [dst +] lhs (m x k) * rhs (k x n).
///
/// # Safety
/// Pointers and strides must address valid m x k, k x n and m x n matrices; dst must not alias
/// lhs or rhs.
pub unsafe fn gemm(m: usize, n: usize, k: usize, dst: *mut f32, dst_rs: isize, accumulate: bool, lhs: MatRef, rhs: MatRef) {
    if m == 0 || n == 0 {
        return;
    }
    if k == 0 {
        if !accumulate {
            for i in 0..m {
                std::ptr::write_bytes(dst.offset(i as isize * dst_rs), 0, n);
            }
        }
        return;
    }
    let par = parallel::gemm_parallelism(m, n, k);
    let ptrs = SendPtrs(dst, lhs.ptr, rhs.ptr);
    let run = move || {
        let (dst, lhs_ptr, rhs_ptr) = ptrs.get();
        gemm::gemm(
            m, n, k,
            dst, 1, dst_rs,
            accumulate,
            lhs_ptr, lhs.cs, lhs.rs,
            rhs_ptr, rhs.cs, rhs.rs,
            1.0f32, 1.0f32,
            false, false, false,
            par,
        )
    };
    match par {
        gemm::Parallelism::None => run(),
        _ => parallel::install(run),
    }
}

/// The operand pointers, moved into the pool's closure.
#[derive(Clone, Copy)]
struct SendPtrs(*mut f32, *const f32, *const f32);
// SAFETY: the caller of `gemm` keeps the matrices alive and unaliased until it returns, and the
// pool closure finishes before `gemm` returns.
unsafe impl Send for SendPtrs {}

impl SendPtrs {
    /// Taking `self` whole makes closures capture the Send wrapper, not its raw fields.
    fn get(self) -> (*mut f32, *const f32, *const f32) {
        (self.0, self.1, self.2)
    }
}
