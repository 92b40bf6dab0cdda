//! 2-D max pooling without padding over planes of h x w (one plane per (n, c)).

use super::elementwise::PARALLEL_MIN;
use super::simd::{assume_init, multiversion};
use crate::parallel::{self, Disjoint};
use std::mem::MaybeUninit;

/// Pooling geometry (validated: k <= h, k <= w, stride >= 1).
#[derive(Clone, Copy, Debug)]
pub struct Pool {
    pub h: usize,
    pub w: usize,
    pub k: usize,
    pub stride: usize,
    pub ho: usize,
    pub wo: usize,
}

/// out[plane, oh, ow] = max of the window; `argmax` (when given) receives the flat index
/// (ih * w + iw) of the first maximum in scan order, a NaN counting as the maximum (as PyTorch).
/// Planes are split across the pool; each plane's result does not depend on the split. Every
/// value of `out` and `argmax` is written (room: a fresh output needs no zero fill).
pub fn max_forward(p: &Pool, x: &[f32], out: &mut [MaybeUninit<f32>], argmax: Option<&mut [MaybeUninit<i64>]>) {
    let (hw, ohw) = (p.h * p.w, p.ho * p.wo);
    if ohw == 0 || out.is_empty() {
        return;
    }
    let planes = out.len() / ohw;
    let out = Disjoint::new(out);
    let argmax = argmax.map(Disjoint::new);
    parallel::for_each_range(planes, hw, PARALLEL_MIN, &|r| {
        let span = r.start * ohw..r.end * ohw;
        // SAFETY: for_each_range's ranges are disjoint, and so are their planes' outputs.
        let (o, a) = unsafe { (out.range(span.clone()), argmax.as_ref().map(|a| a.range(span))) };
        max_planes(p, &x[r.start * hw..r.end * hw], o, a);
    });
}

multiversion! {
    /// `max_forward` of consecutive planes on this thread, one output row at a time: the window
    /// is scanned in order as whole rows of candidates, so the loops over ow carry no branch and
    /// vectorise (stride 2, the common pooling, gets a copy with the stride known).
    fn max_planes(p: &Pool, x: &[f32], out: &mut [MaybeUninit<f32>], argmax: Option<&mut [MaybeUninit<i64>]>) {
        let (hw, ohw) = (p.h * p.w, p.ho * p.wo);
        match argmax {
            Some(a) => {
                for ((xp, o), a) in x.chunks_exact(hw).zip(out.chunks_exact_mut(ohw)).zip(a.chunks_exact_mut(ohw)) {
                    for (oh, (orow, arow)) in o.chunks_exact_mut(p.wo).zip(a.chunks_exact_mut(p.wo)).enumerate() {
                        if p.stride == 2 {
                            window_row::<2, true>(p, xp, oh, orow, arow);
                        } else {
                            window_row::<0, true>(p, xp, oh, orow, arow);
                        }
                    }
                }
            }
            None => {
                for (xp, o) in x.chunks_exact(hw).zip(out.chunks_exact_mut(ohw)) {
                    for (oh, orow) in o.chunks_exact_mut(p.wo).enumerate() {
                        if p.stride == 2 {
                            window_row::<2, false>(p, xp, oh, orow, &mut []);
                        } else {
                            window_row::<0, false>(p, xp, oh, orow, &mut []);
                        }
                    }
                }
            }
        }
    }
}

/// Output row `oh` of one plane `xp`: `orow[ow]` (and `arow[ow]` when `ARGMAX`) take the first
/// maximum of window (oh, ow) in scan order. A candidate v replaces the best b when v > b, or
/// when v is the first NaN (v != v while b == b); once b is NaN nothing replaces it. `S` is the
/// stride when known at compile time, 0 when it is `p.stride`. The window's first candidates
/// write every value of the rows, which are room until then.
#[inline(always)]
fn window_row<const S: usize, const ARGMAX: bool>(
    p: &Pool,
    xp: &[f32],
    oh: usize,
    orow: &mut [MaybeUninit<f32>],
    arow: &mut [MaybeUninit<i64>],
) {
    let s = if S == 0 { p.stride } else { S };
    let (w, wo) = (p.w, p.wo);
    let h0 = oh * s;
    assert!(orow.len() == wo && (!ARGMAX || arow.len() == wo));
    // SAFETY: ow < wo, so ow * s <= (wo - 1) * s <= w - k: within row h0 of the plane (h0 + k <= h).
    let first = |ow: usize| unsafe { *xp.get_unchecked(h0 * w + ow * s) };
    for (ow, o) in orow.iter_mut().enumerate() {
        o.write(first(ow));
    }
    if ARGMAX {
        for (ow, a) in arow.iter_mut().enumerate() {
            a.write((h0 * w + ow * s) as i64);
        }
    }
    // SAFETY: every value of both rows was written just above.
    let (orow, arow) = unsafe { (assume_init(orow), assume_init(arow)) };
    for kh in 0..p.k {
        let line = &xp[(h0 + kh) * w..(h0 + kh + 1) * w];
        for kw in 0..p.k {
            // the candidates of every window of the row: line[ow * s + kw] for ow < wo
            let cand = &line[kw..kw + (wo - 1) * s + 1];
            // SAFETY: ow < wo, so ow * s <= (wo - 1) * s < cand.len() (checked indexing here
            // keeps LLVM from vectorising the strided loads).
            let at = |ow: usize| unsafe { *cand.get_unchecked(ow * s) };
            if kh == 0 && kw == 0 {
                continue;
            }
            let base = ((h0 + kh) * w + kw) as i64;
            if ARGMAX {
                for (ow, (o, a)) in orow.iter_mut().zip(arow.iter_mut()).enumerate() {
                    let (v, b) = (at(ow), *o);
                    let take = replaces(v, b);
                    *o = if take { v } else { b };
                    *a = if take { base + (ow * s) as i64 } else { *a };
                }
            } else {
                for (ow, o) in orow.iter_mut().enumerate() {
                    let (v, b) = (at(ow), *o);
                    *o = if replaces(v, b) { v } else { b };
                }
            }
        }
    }
}

/// Whether candidate `v` replaces the window's best `b` so far: it is larger, or the first NaN
/// (PyTorch's max pooling propagates NaN); written without branches so the loops vectorise.
#[inline(always)]
#[allow(clippy::eq_op)] // v != v: v is NaN
fn replaces(v: f32, b: f32) -> bool {
    (v > b) | ((v != v) & (b == b))
}

/// dx[plane, argmax] += g for every output position (windows may overlap when stride < k).
pub fn max_backward(p: &Pool, g: &[f32], argmax: &[i64], dx: &mut [f32]) {
    let (hw, ohw) = (p.h * p.w, p.ho * p.wo);
    if ohw == 0 {
        return;
    }
    for (plane, (gp, ap)) in g.chunks_exact(ohw).zip(argmax.chunks_exact(ohw)).enumerate() {
        let dp = &mut dx[plane * hw..(plane + 1) * hw];
        for (&gv, &i) in gp.iter().zip(ap) {
            dp[i as usize] += gv;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernels::simd::as_uninit;

    /// The scan of the definition, one window at a time.
    fn naive(p: &Pool, x: &[f32], planes: usize) -> (Vec<f32>, Vec<i64>) {
        let (mut out, mut idx) = (Vec::new(), Vec::new());
        for xp in x.chunks_exact(p.h * p.w).take(planes) {
            for oh in 0..p.ho {
                for ow in 0..p.wo {
                    let (mut best, mut best_i) = (f32::NEG_INFINITY, usize::MAX);
                    for ih in oh * p.stride..oh * p.stride + p.k {
                        for iw in ow * p.stride..ow * p.stride + p.k {
                            let v = xp[ih * p.w + iw];
                            if best_i == usize::MAX || (!best.is_nan() && (v > best || v.is_nan())) {
                                (best, best_i) = (v, ih * p.w + iw);
                            }
                        }
                    }
                    out.push(best);
                    idx.push(best_i as i64);
                }
            }
        }
        (out, idx)
    }

    #[test]
    fn every_geometry_matches_the_scan_with_ties_and_nans_on_any_split() {
        let mut seed = 7u32;
        for (h, w, k, stride) in [(8, 8, 2, 2), (7, 9, 3, 2), (6, 5, 2, 1), (9, 9, 3, 3), (4, 4, 4, 1), (56, 56, 2, 2)] {
            let p = Pool { h, w, k, stride, ho: (h - k) / stride + 1, wo: (w - k) / stride + 1 };
            // enough planes to cross PARALLEL_MIN for the largest, so the pool splits them
            let planes = if h == 56 { 24 } else { 3 };
            let x: Vec<f32> = (0..planes * h * w)
                .map(|_| {
                    seed = seed.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                    // few distinct values, so ties are common; some NaNs
                    match seed >> 28 {
                        0 => f32::NAN,
                        r => (r % 5) as f32 - 2.0,
                    }
                })
                .collect();
            let (want, want_idx) = naive(&p, &x, planes);
            let n = planes * p.ho * p.wo;
            let (mut out, mut idx, mut only) = (vec![0f32; n], vec![0i64; n], vec![0f32; n]);
            max_forward(&p, &x, as_uninit(&mut out), Some(as_uninit(&mut idx)));
            max_forward(&p, &x, as_uninit(&mut only), None);
            let same = |a: &[f32]| a.iter().zip(&want).all(|(g, w)| g.to_bits() == w.to_bits() || (g.is_nan() && w.is_nan()));
            assert!(same(&out) && same(&only), "max of {h}x{w} k {k} stride {stride}");
            assert_eq!(idx, want_idx, "argmax of {h}x{w} k {k} stride {stride}");
        }
    }

    #[test]
    fn first_maximum_wins_ties() {
        let p = Pool { h: 2, w: 2, k: 2, stride: 2, ho: 1, wo: 1 };
        let (mut out, mut idx) = ([0f32], [0i64]);
        max_forward(&p, &[1.0, 3.0, 3.0, 2.0], as_uninit(&mut out), Some(as_uninit(&mut idx)));
        assert_eq!((out[0], idx[0]), (3.0, 1));
        max_forward(&p, &[1.0, f32::NAN, 3.0, 2.0], as_uninit(&mut out), Some(as_uninit(&mut idx)));
        assert!(out[0].is_nan() && idx[0] == 1);
    }
}
