//! The one GEMM entry point for matmul, linear and their backward: the `gemm` crate, which picks
//! AVX-512 / AVX2 / scalar kernels at run time. Operands are addressed by row and column strides,
//! so transposed operands cost no copy.

use crate::parallel;

/// A strided matrix operand (strides in elements).
#[derive(Clone, Copy)]
struct MatRef {
    pub ptr: *const f32,
    pub rs: isize,
    pub cs: isize,
}

/// dst (m x n, row-major contiguous rows of `dst_rs`) = [dst +] lhs (m x k) * rhs (k x n).
///
/// # Safety
/// Pointers and strides must address valid m x k, k x n and m x n matrices; dst must not alias
/// lhs or rhs.
#[allow(clippy::too_many_arguments)]
unsafe fn gemm(m: usize, n: usize, k: usize, dst: *mut f32, dst_rs: isize, accumulate: bool, lhs: MatRef, rhs: MatRef) {
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
            m, n, k, dst, 1, dst_rs, accumulate, lhs_ptr, lhs.cs, lhs.rs, rhs_ptr, rhs.cs, rhs.rs, 1.0f32, 1.0f32, false, false, false, par,
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

/// A strided matrix inside a slice: element (i, j) is `data[i * rs + j * cs]`.
#[derive(Clone, Copy)]
pub struct Mat<'a> {
    pub data: &'a [f32],
    pub rs: usize,
    pub cs: usize,
}

impl Mat<'_> {
    /// Asserts that every element of a rows x cols matrix lies inside the slice.
    fn check(&self, rows: usize, cols: usize, what: &str) {
        if rows > 0 && cols > 0 {
            let last = (rows - 1) * self.rs + (cols - 1) * self.cs;
            assert!(last < self.data.len(), "gemm_slices: {what} ({rows} x {cols}) does not fit its slice");
        }
    }

    fn as_ref(&self) -> MatRef {
        MatRef { ptr: self.data.as_ptr(), rs: self.rs as isize, cs: self.cs as isize }
    }
}

/// The safe face of `gemm` for kernels working on slices (conv): dst (m x n, rows `dst_rs` apart)
/// = [dst +] lhs (m x k) * rhs (k x n). Bounds are asserted, so a wrong size panics instead of
/// touching memory it should not.
#[allow(clippy::too_many_arguments)]
pub fn gemm_slices(m: usize, n: usize, k: usize, dst: &mut [f32], dst_rs: usize, accumulate: bool, lhs: Mat<'_>, rhs: Mat<'_>) {
    if m == 0 || n == 0 {
        return;
    }
    assert!(n <= dst_rs && (m - 1) * dst_rs + n <= dst.len(), "gemm_slices: dst does not hold {m} x {n}");
    lhs.check(m, k, "lhs");
    rhs.check(k, n, "rhs");
    // SAFETY: the extents were checked above; `dst` is a unique borrow, so it aliases neither
    // operand.
    unsafe { gemm(m, n, k, dst.as_mut_ptr(), dst_rs as isize, accumulate, lhs.as_ref(), rhs.as_ref()) }
}
