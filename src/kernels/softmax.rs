//! Softmax and log-softmax along one dim of a contiguous tensor seen as (outer, n, inner): the
//! reduced dim has n entries `inner` apart. Max-subtracted, so large logits do not overflow; a NaN
//! (ignored by the max) still reaches the sum, so its whole slice becomes NaN, as in PyTorch.
//! Terms e^(x - max) below e^-87.68 (1.2e-38, subnormal) count as 0 (`vmath::exp_nonpositive`):
//! they cannot change the sum, and softmax's outputs there are below 1.2e-38.

use super::elementwise::PARALLEL_MIN;
use super::simd::{as_uninit, assume_init, lane_sum, multiversion, Fma};
use super::vmath::{exp, exp_nonpositive};
use crate::parallel::{self, Disjoint};
use std::mem::MaybeUninit;

/// Lanes of the reductions below: independent accumulators LLVM keeps in one vector register.
const LANES: usize = 16;

/// out = softmax (or log_softmax when `log`) of x along the middle dim, blocks of the outer dim
/// spread across the pool when large.
pub fn forward(out: &mut [f32], x: &[f32], split: (usize, usize, usize), log: bool) {
    assert!(out.len() >= x.len(), "softmax: out holds {} values, needs {}", out.len(), x.len());
    forward_uninit(as_uninit(out), x, split, log)
}

/// `forward` into `out`'s spare room (its length becomes x's), skipping the zero fill an
/// initialised output costs (a tenth of a 256 x 1024 softmax).
pub fn forward_into(out: &mut Vec<f32>, x: &[f32], split: (usize, usize, usize), log: bool) {
    assert!(out.is_empty() && out.capacity() >= x.len(), "softmax::forward_into: bad output");
    forward_uninit(&mut out.spare_capacity_mut()[..x.len()], x, split, log);
    // SAFETY: forward_uninit wrote every one of the x.len() elements.
    unsafe { out.set_len(x.len()) }
}

/// Writes every element of `out[..x.len()]`.
fn forward_uninit(out: &mut [MaybeUninit<f32>], x: &[f32], (outer, n, inner): (usize, usize, usize), log: bool) {
    let block = n * inner;
    if x.is_empty() || block == 0 {
        return;
    }
    let out = Disjoint::new(out);
    parallel::for_each_range(outer, block, PARALLEL_MIN, &|r| {
        let span = r.start * block..r.end * block;
        // SAFETY: for_each_range's ranges are disjoint.
        forward_blocks(unsafe { out.range(span.clone()) }, &x[span], (r.len(), n, inner), log)
    });
}

multiversion! {
    fn forward_blocks(out: &mut [MaybeUninit<f32>], x: &[f32], split: (usize, usize, usize), log: bool) {
        let (outer, n, inner) = split;
        if inner == 1 {
            for (o, xr) in out.chunks_exact_mut(n).zip(x.chunks_exact(n)).take(outer) {
                row_forward::<M>(o, xr, log);
            }
        } else {
            // Columns write their terms a tile at a time across rows: zeroed first, so the
            // whole block is initialised before any of it is read.
            let out = &mut out[..outer * n * inner];
            out.iter_mut().for_each(|y| {
                y.write(0.0);
            });
            // SAFETY: every element was just written.
            columns_forward::<M>(unsafe { assume_init(out) }, x, split, log);
        }
    }
}

/// The largest value of a row, ignoring NaN (-inf if there is none).
#[inline(always)]
pub fn row_max(x: &[f32]) -> f32 {
    let mut lanes = [f32::NEG_INFINITY; LANES];
    let chunks = x.chunks_exact(LANES);
    let rest = chunks.remainder();
    for c in chunks {
        for (m, &v) in lanes.iter_mut().zip(c) {
            // one vmaxps: f32::max's NaN handling costs two more instructions per vector, and the
            // lanes need none (they are never NaN, and a NaN v compares false and is skipped)
            *m = if v > *m { v } else { *m };
        }
    }
    rest.iter().chain(&lanes).fold(f32::NEG_INFINITY, |m, &v| m.max(v))
}

multiversion! {
    /// Σ e^(x - m), accumulated in f64 (the cross-entropy's log-sum-exp).
    pub fn row_sum_exp(x: &[f32], m: f32) -> f64 {
        lane_sum(x, |v| exp::<M>(v - m) as f64)
    }
}

/// Terms summed in f32 lanes before they are added to the f64 total: an f32 sum of 16 terms per
/// lane stays within ~1e-6 relative, and keeping the e^x work in f32 lets it run in full-width
/// vectors (summing each term in f64 halved the vector width of the whole loop).
const BLOCK: usize = 16 * LANES;

/// Σ lanes in f64, pairwise: four vector steps, where a running sum was a chain of 16 dependent
/// adds (a quarter of a cycle per softmax term), and holding f64 totals in the loop instead left
/// too few registers for e^x.
#[inline(always)]
fn pairwise_sum(lanes: [f32; LANES]) -> f64 {
    let mut s = lanes.map(|v| v as f64);
    let mut w = LANES / 2;
    while w > 0 {
        for i in 0..w {
            s[i] += s[i + w];
        }
        w /= 2;
    }
    s[0]
}

/// out = e^(x - m), every element written; returns Σ out (f32 lanes per block of 256 terms,
/// blocks summed in f64).
#[inline(always)]
fn row_exp_sum<M: Fma>(out: &mut [MaybeUninit<f32>], x: &[f32], m: f32) -> f64 {
    let mut total = 0f64;
    for (ob, xb) in out.chunks_mut(BLOCK).zip(x.chunks(BLOCK)) {
        let mut lanes = [0f32; LANES];
        let mut outs = ob.chunks_exact_mut(LANES);
        let chunks = xb.chunks_exact(LANES);
        let rest = chunks.remainder();
        for (o, c) in (&mut outs).zip(chunks) {
            for ((s, y), &v) in lanes.iter_mut().zip(o).zip(c) {
                *s += *y.write(exp_nonpositive::<M>(v - m));
            }
        }
        for ((s, y), &v) in lanes.iter_mut().zip(outs.into_remainder()).zip(rest) {
            *s += *y.write(exp_nonpositive::<M>(v - m));
        }
        total += pairwise_sum(lanes);
    }
    total
}

/// One contiguous row: the common case of softmax over the last dim.
#[inline(always)]
fn row_forward<M: Fma>(out: &mut [MaybeUninit<f32>], x: &[f32], log: bool) {
    let m = row_max(x);
    // the terms go to `out` in both cases: log_softmax then overwrites them
    let sum = row_exp_sum::<M>(out, x, m);
    // SAFETY: row_exp_sum wrote every element (out and x have the row's length).
    let out = unsafe { assume_init(out) };
    if log {
        let lse = m + sum.ln() as f32;
        for (y, &v) in out.iter_mut().zip(x) {
            *y = v - lse;
        }
    } else {
        let inv = (1.0 / sum) as f32;
        for y in out.iter_mut() {
            *y *= inv;
        }
    }
}

/// Columns reduced together in one pass over the rows: their running max and sum live on the
/// stack (nothing allocated, so nothing can fail) and a tile's row slice is 1 KiB of contiguous
/// floats, which still runs in full vectors.
const TILE: usize = 256;

/// The column tiles of a row of `inner` values.
fn tiles(inner: usize) -> impl Iterator<Item = std::ops::Range<usize>> {
    (0..inner).step_by(TILE).map(move |c| c..(c + TILE).min(inner))
}

/// A dim that is not the last: vectors run along the `inner` contiguous columns, each column
/// reduced over the n rows `inner` apart, a tile of columns at a time.
#[inline(always)]
fn columns_forward<M: Fma>(out: &mut [f32], x: &[f32], (outer, n, inner): (usize, usize, usize), log: bool) {
    for b in 0..outer {
        let base = b * n * inner;
        let xb = &x[base..base + n * inner];
        let ob = &mut out[base..base + n * inner];
        for cols in tiles(inner) {
            let mut max = [f32::NEG_INFINITY; TILE];
            let mut sum = [0f64; TILE];
            let (max, sum) = (&mut max[..cols.len()], &mut sum[..cols.len()]);
            for xr in xb.chunks_exact(inner) {
                for (m, &v) in max.iter_mut().zip(&xr[cols.clone()]) {
                    *m = m.max(v);
                }
            }
            // e^(x - max) goes to the output first, then is scaled by 1 / sum (softmax) or replaced
            // by x - max - ln(sum) (log_softmax).
            for (or, xr) in ob.chunks_exact_mut(inner).zip(xb.chunks_exact(inner)) {
                for (((y, s), &m), &v) in or[cols.clone()].iter_mut().zip(sum.iter_mut()).zip(&*max).zip(&xr[cols.clone()]) {
                    *y = exp_nonpositive::<M>(v - m);
                    *s += *y as f64;
                }
            }
            // `max` is done with: it takes each column's log-sum-exp or 1 / sum
            if log {
                for (m, &s) in max.iter_mut().zip(&*sum) {
                    *m += s.ln() as f32;
                }
                for (or, xr) in ob.chunks_exact_mut(inner).zip(xb.chunks_exact(inner)) {
                    for ((y, &v), &lse) in or[cols.clone()].iter_mut().zip(&xr[cols.clone()]).zip(&*max) {
                        *y = v - lse;
                    }
                }
            } else {
                for (m, &s) in max.iter_mut().zip(&*sum) {
                    *m = (1.0 / s) as f32;
                }
                for or in ob.chunks_exact_mut(inner) {
                    for (y, &inv) in or[cols.clone()].iter_mut().zip(&*max) {
                        *y *= inv;
                    }
                }
            }
        }
    }
}

/// dx from the output y and its gradient g:
/// softmax: dx = y * (g - sum(g * y)); log_softmax: dx = g - exp(y) * sum(g).
pub fn backward(dx: &mut [f32], y: &[f32], g: &[f32], (outer, n, inner): (usize, usize, usize), log: bool) {
    if y.is_empty() {
        return;
    }
    for b in 0..outer {
        let base = b * n * inner;
        let range = base..base + n * inner;
        let (yb, gb, db) = (&y[range.clone()], &g[range.clone()], &mut dx[range]);
        for cols in tiles(inner) {
            let mut acc = [0f64; TILE];
            let acc = &mut acc[..cols.len()];
            for (yr, gr) in yb.chunks_exact(inner).zip(gb.chunks_exact(inner)) {
                for ((a, &yv), &gv) in acc.iter_mut().zip(&yr[cols.clone()]).zip(&gr[cols.clone()]) {
                    *a += if log { gv as f64 } else { (gv * yv) as f64 };
                }
            }
            for ((dr, yr), gr) in db.chunks_exact_mut(inner).zip(yb.chunks_exact(inner)).zip(gb.chunks_exact(inner)) {
                for (((d, &yv), &gv), &a) in dr[cols.clone()].iter_mut().zip(&yr[cols.clone()]).zip(&gr[cols.clone()]).zip(&*acc) {
                    let a = a as f32;
                    *d = if log { gv - yv.exp() * a } else { yv * (gv - a) };
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_sum_to_one_and_survive_large_logits() {
        let x = [1000.0f32, 1001.0, 1002.0, -5.0, 0.0, 5.0];
        let mut y = [0f32; 6];
        forward(&mut y, &x, (2, 3, 1), false);
        for r in y.chunks(3) {
            assert!((r.iter().sum::<f32>() - 1.0).abs() < 1e-6);
        }
        assert!((y[2] - 0.66524096).abs() < 1e-6);
    }

    #[test]
    fn strided_dim_matches_row_path() {
        // (1, 3, 2): softmax over the middle dim equals the rows of the transpose.
        let x = [0.1f32, 2.0, -0.3, 0.5, 1.2, -1.0];
        let mut y = [0f32; 6];
        forward(&mut y, &x, (1, 3, 2), true);
        let (mut c0, mut c1) = ([0f32; 3], [0f32; 3]);
        forward(&mut c0, &[0.1, -0.3, 1.2], (1, 3, 1), true);
        forward(&mut c1, &[2.0, 0.5, -1.0], (1, 3, 1), true);
        for i in 0..3 {
            assert!((y[2 * i] - c0[i]).abs() < 1e-6 && (y[2 * i + 1] - c1[i]).abs() < 1e-6);
        }
    }
}
