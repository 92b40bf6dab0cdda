//! Elementwise loops over strided operands, with a contiguous fast path.

use super::simd::{self, LaneFn, LaneFn2};
use crate::parallel::{self, Disjoint};

/// Calls `row(out_start, a_start, b_start, len)` for each innermost row of `shape`, where a and b
/// are addressed through their own strides (0 for broadcast dims) and the output is contiguous.
/// Returns the innermost strides of a and b for the caller's row loop.
pub fn for_each_row2(
    shape: &[usize],
    (oa, sa): (usize, &[usize]),
    (ob, sb): (usize, &[usize]),
    mut row: impl FnMut(usize, usize, usize, usize),
) {
    let n = shape.len();
    if n == 0 {
        row(0, oa, ob, 1);
        return;
    }
    let len = shape[n - 1];
    if len == 0 || shape.contains(&0) {
        return;
    }
    let rows: usize = shape[..n - 1].iter().product();
    let mut idx = [0usize; 16];
    let mut idx_vec;
    let idx: &mut [usize] = if n <= 16 {
        &mut idx[..n]
    } else {
        idx_vec = vec![0usize; n];
        &mut idx_vec
    };
    let (mut a, mut b) = (oa, ob);
    for r in 0..rows {
        row(r * len, a, b, len);
        for d in (0..n - 1).rev() {
            idx[d] += 1;
            a += sa[d];
            b += sb[d];
            if idx[d] < shape[d] {
                break;
            }
            a -= sa[d] * shape[d];
            b -= sb[d] * shape[d];
            idx[d] = 0;
        }
    }
}

/// out\[i\] = f(a\[i\], b\[i\]) over broadcast operands described by (offset, strides) into `a` and `b`.
pub fn binary<T: Copy, U: Copy>(
    out: &mut [U],
    shape: &[usize],
    a: &[T],
    la: (usize, &[usize]),
    b: &[T],
    lb: (usize, &[usize]),
    f: impl Fn(T, T) -> U,
) {
    let n = shape.len();
    let (ia, ib) = if n == 0 { (1, 1) } else { (la.1[n - 1], lb.1[n - 1]) };
    for_each_row2(shape, la, lb, |o, pa, pb, len| {
        let out = &mut out[o..o + len];
        match (ia, ib) {
            (1, 1) => {
                for ((y, &x0), &x1) in out.iter_mut().zip(&a[pa..pa + len]).zip(&b[pb..pb + len]) {
                    *y = f(x0, x1);
                }
            }
            (1, 0) => {
                let x1 = b[pb];
                for (y, &x0) in out.iter_mut().zip(&a[pa..pa + len]) {
                    *y = f(x0, x1);
                }
            }
            (0, 1) => {
                let x0 = a[pa];
                for (y, &x1) in out.iter_mut().zip(&b[pb..pb + len]) {
                    *y = f(x0, x1);
                }
            }
            _ => {
                for (i, y) in out.iter_mut().enumerate() {
                    *y = f(a[pa + i * ia], b[pb + i * ib]);
                }
            }
        }
    });
}

/// out\[i\] = f(a\[i\]) over a strided operand.
pub fn unary<T: Copy, U: Copy>(out: &mut [U], shape: &[usize], a: &[T], la: (usize, &[usize]), f: impl Fn(T) -> U) {
    let n = shape.len();
    let ia = if n == 0 { 1 } else { la.1[n - 1] };
    for_each_row2(shape, la, la, |o, pa, _, len| {
        let out = &mut out[o..o + len];
        if ia == 1 {
            for (y, &x) in out.iter_mut().zip(&a[pa..pa + len]) {
                *y = f(x);
            }
        } else {
            for (i, y) in out.iter_mut().enumerate() {
                *y = f(a[pa + i * ia]);
            }
        }
    });
}

/// Values of a strided row gathered at a time, so that `simd::map` and `simd::zip` (the code the
/// contiguous path runs) compute them: results do not depend on the layout.
const GATHER: usize = 256;

/// Copies `len` values `stride` apart from `x[start..]` into `buf`.
fn gather<'b>(buf: &'b mut [f32; GATHER], x: &[f32], start: usize, stride: usize, len: usize) -> &'b [f32] {
    for (i, b) in buf[..len].iter_mut().enumerate() {
        *b = x[start + i * stride];
    }
    &buf[..len]
}

/// out\[i\] = f(a\[i\]) over a strided operand, each element computed as the contiguous path
/// computes it.
pub fn unary_lanes(out: &mut [f32], shape: &[usize], a: &[f32], la: (usize, &[usize]), f: &impl LaneFn) {
    let n = shape.len();
    let ia = if n == 0 { 1 } else { la.1[n - 1] };
    let mut buf = [0f32; GATHER];
    for_each_row2(shape, la, la, |o, pa, _, len| {
        for c in (0..len).step_by(GATHER) {
            let k = GATHER.min(len - c);
            let x = if ia == 1 { &a[pa + c..pa + c + k] } else { gather(&mut buf, a, pa + c * ia, ia, k) };
            simd::map_init(&mut out[o + c..o + c + k], x, f);
        }
    });
}

/// out\[i\] = f(a\[i\], b\[i\]) over broadcast operands, each element computed as the contiguous
/// path computes it.
pub fn binary_lanes(
    out: &mut [f32],
    shape: &[usize],
    a: &[f32],
    la: (usize, &[usize]),
    b: &[f32],
    lb: (usize, &[usize]),
    f: &impl LaneFn2,
) {
    let n = shape.len();
    let (ia, ib) = if n == 0 { (1, 1) } else { (la.1[n - 1], lb.1[n - 1]) };
    let (mut ba, mut bb) = ([0f32; GATHER], [0f32; GATHER]);
    for_each_row2(shape, la, lb, |o, pa, pb, len| {
        for c in (0..len).step_by(GATHER) {
            let k = GATHER.min(len - c);
            let x = if ia == 1 { &a[pa + c..pa + c + k] } else { gather(&mut ba, a, pa + c * ia, ia, k) };
            let y = if ib == 1 { &b[pb + c..pb + c + k] } else { gather(&mut bb, b, pb + c * ib, ib, k) };
            simd::zip_init(&mut out[o + c..o + c + k], x, y, f);
        }
    });
}

/// Below this many elements an elementwise op runs on the calling thread (waking the pool costs
/// more than it saves).
pub const PARALLEL_MIN: usize = 1 << 16;

/// out\[i\] = f(a\[i\], b\[i\]) on the calling thread (for the small outputs recycle.rs hands out).
pub fn zip_write(out: &mut [f32], a: &[f32], b: &[f32], f: &impl LaneFn2) {
    simd::zip_init(out, a, b, f)
}

/// out\[i\] = f(a\[i\]) on the calling thread.
pub fn map_write(out: &mut [f32], a: &[f32], f: &impl LaneFn) {
    simd::map_init(out, a, f)
}

/// Sets `f(a[i], b[i])` for every i as `out` (empty, with room for `a.len()`), across the
/// library's pool when large. Writing into spare capacity skips the zero fill a zeroed buffer
/// costs; `simd::zip` writes every element before the length is set. Each element is computed the
/// same way whatever the split, so results do not depend on the thread count.
pub fn zip_into(out: &mut Vec<f32>, a: &[f32], b: &[f32], f: impl LaneFn2 + Sync) {
    assert!(a.len() == b.len() && out.is_empty() && out.capacity() >= a.len(), "zip_into: bad output");
    let room = Disjoint::new(&mut out.spare_capacity_mut()[..a.len()]);
    parallel::for_each_range(a.len(), 1, PARALLEL_MIN, &|r| {
        // SAFETY: for_each_range's ranges are disjoint.
        simd::zip(unsafe { room.range(r.clone()) }, &a[r.clone()], &b[r], &f)
    });
    // SAFETY: the ranges cover 0..a.len(), and simd::zip wrote every element of each.
    unsafe { out.set_len(a.len()) }
}

/// Sets `f(a[i])` for every i as `out`, as `zip_into`.
pub fn map_into(out: &mut Vec<f32>, a: &[f32], f: impl LaneFn + Sync) {
    assert!(out.is_empty() && out.capacity() >= a.len(), "map_into: bad output");
    let room = Disjoint::new(&mut out.spare_capacity_mut()[..a.len()]);
    parallel::for_each_range(a.len(), 1, PARALLEL_MIN, &|r| {
        // SAFETY: for_each_range's ranges are disjoint.
        simd::map(unsafe { room.range(r.clone()) }, &a[r], &f)
    });
    // SAFETY: the ranges cover 0..a.len(), and simd::map wrote every element of each.
    unsafe { out.set_len(a.len()) }
}
