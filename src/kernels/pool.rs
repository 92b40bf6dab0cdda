//! 2-D max pooling without padding over planes of h x w (one plane per (n, c)).

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
pub fn max_forward(p: &Pool, x: &[f32], out: &mut [f32], argmax: Option<&mut [i64]>) {
    let (hw, ohw) = (p.h * p.w, p.ho * p.wo);
    if ohw == 0 {
        return;
    }
    let Some(argmax) = argmax else {
        // No argmax (inference): the same maximum without branches on the data, which random
        // values would mispredict at every other comparison.
        // v replaces m when larger or NaN, and only a NaN replaces a NaN m (v > NaN is false): a
        // window with a NaN gives NaN. `|`, not `||`, so the compiler selects instead of branching.
        let pick = |m: f32, v: f32| if (v > m) | v.is_nan() { v } else { m };
        for (xp, o) in x.chunks_exact(hw).zip(out.chunks_exact_mut(ohw)) {
            for (oh, row) in o.chunks_exact_mut(p.wo).enumerate() {
                let h0 = oh * p.stride;
                if p.k == 2 && p.stride == 2 {
                    // The common 2 x 2 pooling, unrolled: its two input rows pair up with the output row.
                    let (a, b) = (&xp[h0 * p.w..(h0 + 1) * p.w], &xp[(h0 + 1) * p.w..(h0 + 2) * p.w]);
                    for ((best, a), b) in row.iter_mut().zip(a.chunks_exact(2)).zip(b.chunks_exact(2)) {
                        *best = pick(pick(pick(a[0], a[1]), b[0]), b[1]);
                    }
                    continue;
                }
                for (ow, best) in row.iter_mut().enumerate() {
                    let w0 = ow * p.stride;
                    let mut m = xp[h0 * p.w + w0];
                    for r in xp[h0 * p.w..].chunks(p.w).take(p.k) {
                        m = r[w0..w0 + p.k].iter().fold(m, |m, &v| pick(m, v));
                    }
                    *best = m;
                }
            }
        }
        return;
    };
    for (plane, o) in out.chunks_exact_mut(ohw).enumerate() {
        let xp = &x[plane * hw..(plane + 1) * hw];
        for oh in 0..p.ho {
            for ow in 0..p.wo {
                let (h0, w0) = (oh * p.stride, ow * p.stride);
                let mut best = xp[h0 * p.w + w0];
                let mut best_i = h0 * p.w + w0;
                'window: for ih in h0..h0 + p.k {
                    for iw in w0..w0 + p.k {
                        let i = ih * p.w + iw;
                        let v = xp[i];
                        if best.is_nan() {
                            break 'window;
                        }
                        if v > best || v.is_nan() {
                            best = v;
                            best_i = i;
                        }
                    }
                }
                o[oh * p.wo + ow] = best;
                argmax[plane * ohw + oh * p.wo + ow] = best_i as i64;
            }
        }
    }
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

    #[test]
    fn first_maximum_wins_ties() {
        let p = Pool { h: 2, w: 2, k: 2, stride: 2, ho: 1, wo: 1 };
        let (mut out, mut idx) = ([0f32], [0i64]);
        max_forward(&p, &[1.0, 3.0, 3.0, 2.0], &mut out, Some(&mut idx));
        assert_eq!((out[0], idx[0]), (3.0, 1));
        max_forward(&p, &[1.0, f32::NAN, 3.0, 2.0], &mut out, Some(&mut idx));
        assert!(out[0].is_nan() && idx[0] == 1);
    }

    #[test]
    fn max_without_argmax_equals_max_with_it_nan_included() {
        // Windows of 2 and 3, strides 1-3 (2 x 2 / 2 unrolled), NaNs in some windows: the branch-free inference loop
        // gives the values the argmax loop does (a NaN for every window holding one).
        for (k, stride) in [(2, 2), (3, 1), (2, 3)] {
            let (h, w) = (7, 9);
            let p = Pool { h, w, k, stride, ho: (h - k) / stride + 1, wo: (w - k) / stride + 1 };
            let x: Vec<f32> = (0..2 * h * w).map(|i| if i % 17 == 5 { f32::NAN } else { (i as f32 * 0.61).sin() }).collect();
            let n_out = 2 * p.ho * p.wo;
            let (mut want, mut got, mut argmax) = (vec![0f32; n_out], vec![0f32; n_out], vec![0i64; n_out]);
            max_forward(&p, &x, &mut want, Some(&mut argmax));
            max_forward(&p, &x, &mut got, None);
            assert!(want.iter().any(|v| v.is_nan()));
            for (g, w) in got.iter().zip(&want) {
                assert!(g == w || g.is_nan() && w.is_nan(), "k {k} stride {stride}: {g} vs {w}");
            }
        }
    }
}
