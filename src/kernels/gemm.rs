//! The one GEMM entry point for matmul, linear and their backward: libinfer's packed GEMM
//! (packed_gemm.rs), whose kernels follow `simd::isa()` and so the `INFER_CPU` cap. Operands are
//! addressed by row and column strides, so transposed operands cost no copy.

use super::conv::Geometry;
use super::packed_gemm::{self, Operand, PackedB, Source};
use super::shifted::Shifts;
use std::mem::MaybeUninit;

/// dst (m x n, row-major contiguous rows of `dst_rs`) = [dst +] lhs (m x k) * rhs (k x n).
///
/// # Safety
/// Pointers and strides must address valid m x k, k x n and m x n matrices; dst must not alias
/// lhs or rhs.
#[allow(clippy::too_many_arguments)]
unsafe fn gemm(split: bool, m: usize, n: usize, k: usize, dst: *mut f32, dst_rs: isize, accumulate: bool, lhs: Operand, rhs: Operand) {
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
    packed_gemm::gemm(split, m, n, k, dst, dst_rs, accumulate, lhs, rhs)
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

    fn as_ref(&self) -> Operand {
        Operand { ptr: self.data.as_ptr(), rs: self.rs as isize, cs: self.cs as isize }
    }
}

/// The safe face of `gemm` for kernels working on slices (conv): dst (m x n, rows `dst_rs` apart)
/// = [dst +] lhs (m x k) * rhs (k x n). Bounds are asserted, so a wrong size panics instead of
/// touching memory it should not.
#[allow(clippy::too_many_arguments)]
pub fn gemm_slices(m: usize, n: usize, k: usize, dst: &mut [f32], dst_rs: usize, accumulate: bool, lhs: Mat<'_>, rhs: Mat<'_>) {
    gemm_slices_split(true, m, n, k, dst, dst_rs, accumulate, lhs, rhs)
}

/// `gemm_slices`, split across the pool (above its size threshold) only when `split` holds: a
/// caller already running one product per pool thread passes false.
#[allow(clippy::too_many_arguments)]
pub fn gemm_slices_split(
    split: bool,
    m: usize,
    n: usize,
    k: usize,
    dst: &mut [f32],
    dst_rs: usize,
    accumulate: bool,
    lhs: Mat<'_>,
    rhs: Mat<'_>,
) {
    if m == 0 || n == 0 {
        return;
    }
    assert!(n <= dst_rs && (m - 1) * dst_rs + n <= dst.len(), "gemm_slices: dst does not hold {m} x {n}");
    lhs.check(m, k, "lhs");
    rhs.check(k, n, "rhs");
    // SAFETY: the extents were checked above; `dst` is a unique borrow, so it aliases neither
    // operand.
    unsafe { gemm(split, m, n, k, dst.as_mut_ptr(), dst_rs as isize, accumulate, lhs.as_ref(), rhs.as_ref()) }
}

/// dst (channels x col_cols) = bias + W · cols, through ReLU when `relu`, with the unfolding read
/// in place from the image's `Shifts` layout (no packing) and W given as Wᵀ packed in advance
/// (`wt`, col_rows x channels): packed_gemm.rs `gemm_positions`, whose rows are the layout's grid
/// positions. The same bits as `gemm_unfolded_split`.
pub fn gemm_positions_split(split: bool, shifts: &Shifts, wt: &PackedB, dst: &mut [MaybeUninit<f32>], bias: Option<&[f32]>, relu: bool) {
    let geo = shifts.geometry().expect("gemm_positions: a laid-out image");
    let (k, m) = wt.dims();
    assert_eq!(k, geo.col_rows(), "gemm_positions: the weight's k is not the unfolding's");
    let positions = shifts.positions();
    if m == 0 || k == 0 || positions == 0 {
        return;
    }
    assert!(m * geo.col_cols() <= dst.len(), "gemm_positions: dst does not hold {m} x {}", geo.col_cols());
    assert!(bias.is_none_or(|b| b.len() >= m), "gemm_positions: fewer than {m} bias values");
    let (ptr, offsets, row) = shifts.parts();
    // SAFETY: the layout holds k offsets and every grid position of every row (and a tile's
    // height past the last); C's columns (q / row) · wo + q % row for stored q lie inside each
    // of the m planes of col_cols in dst, a unique borrow.
    unsafe {
        packed_gemm::gemm_positions(
            split,
            positions,
            (ptr, offsets, row, geo.wo),
            wt,
            dst.as_mut_ptr().cast(),
            geo.col_cols(),
            bias.map(|b| b.as_ptr()),
            relu,
        )
    }
}

/// dst (m x col_cols, rows `col_cols` apart) = bias + lhs (m x col_rows) * the unfolding of
/// `image` (conv.rs's im2col), packed straight from the image, through ReLU when `relu`; split
/// across the pool as `gemm_slices_split`. Every value of dst's m x col_cols is written (none is
/// read), so dst may be uninitialised room. Bounds are asserted; col_rows must be positive.
#[allow(clippy::too_many_arguments)]
pub fn gemm_unfolded_split(
    split: bool,
    m: usize,
    geo: &Geometry,
    image: &[f32],
    dst: &mut [MaybeUninit<f32>],
    lhs: Mat<'_>,
    bias: Option<&[f32]>,
    relu: bool,
) {
    let (k, n) = (geo.col_rows(), geo.col_cols());
    assert!(k > 0, "gemm_unfolded: an empty unfolding (an empty sum writes nothing)");
    if m == 0 || n == 0 {
        return;
    }
    assert!(m * n <= dst.len(), "gemm_unfolded: dst does not hold {m} x {n}");
    assert!(geo.c * geo.h * geo.w <= image.len(), "gemm_unfolded: the image does not fit its slice");
    assert!(bias.is_none_or(|b| b.len() >= m), "gemm_unfolded: fewer than {m} bias values");
    lhs.check(m, k, "lhs");
    let b = Source::Unfolded { ptr: image.as_ptr(), geo: *geo };
    // SAFETY: the extents were checked above; `dst` is a unique borrow, so it aliases neither
    // operand.
    unsafe {
        packed_gemm::gemm_source(split, m, n, k, dst.as_mut_ptr().cast(), n as isize, lhs.as_ref(), b, bias.map(|b| b.as_ptr()), relu)
    }
}

/// dst (m x n, rows n apart) = bias + lhs (m x k) · B for a B packed in advance (k x n, k > 0),
/// `bias` one value per column, through ReLU when `relu`; split across the pool above its size
/// threshold. Written into `dst`'s spare room (its length becomes m x n): every value is written,
/// so a fresh output needs no zero fill first. Bounds are asserted.
pub fn gemm_prepacked_into(m: usize, lhs: Mat<'_>, b: &PackedB, bias: Option<&[f32]>, relu: bool, dst: &mut Vec<f32>) {
    let (k, n) = b.dims();
    let len = m.checked_mul(n).expect("gemm_prepacked_into: m x n overflows");
    assert!(dst.is_empty() && dst.capacity() >= len, "gemm_prepacked_into: dst must be empty with room for {m} x {n}");
    assert!(k > 0, "gemm_prepacked_into: k must be positive (an empty sum writes nothing)");
    assert!(bias.is_none_or(|b| b.len() >= n), "gemm_prepacked_into: fewer than {n} bias values");
    lhs.check(m, k, "lhs");
    if len > 0 {
        // SAFETY: the extents were checked above (`b` checks its own shape and kernels); `dst`
        // is a unique borrow, so it aliases neither operand.
        unsafe { packed_gemm::gemm_prepacked(m, dst.as_mut_ptr(), n as isize, lhs.as_ref(), b, bias.map(<[f32]>::as_ptr), relu) }
    }
    // SAFETY: the GEMM wrote every one of the m x n values (accumulate is off).
    unsafe { dst.set_len(len) }
}
