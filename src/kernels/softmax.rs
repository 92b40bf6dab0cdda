//! Softmax and log-softmax along one dim of a contiguous tensor seen as (outer, n, inner): the
//! reduced dim has n entries `inner` apart. Max-subtracted, so large logits do not overflow; a NaN
//! (ignored by the max) still reaches the sum, so its whole slice becomes NaN, as in PyTorch.

/// out = softmax (or log_softmax when `log`) of x along the middle dim.
pub fn forward(out: &mut [f32], x: &[f32], (outer, n, inner): (usize, usize, usize), log: bool) {
    if x.is_empty() {
        return;
    }
    if inner == 1 {
        for (o, xr) in out.chunks_exact_mut(n.max(1)).zip(x.chunks_exact(n.max(1))).take(outer) {
            row_forward(o, xr, log);
        }
        return;
    }
    let mut max = vec![f32::NEG_INFINITY; inner];
    let mut sum = vec![0f64; inner];
    for b in 0..outer {
        let base = b * n * inner;
        let xb = &x[base..base + n * inner];
        let ob = &mut out[base..base + n * inner];
        max.fill(f32::NEG_INFINITY);
        sum.fill(0.0);
        for xr in xb.chunks_exact(inner) {
            for (m, &v) in max.iter_mut().zip(xr) {
                *m = m.max(v);
            }
        }
        for xr in xb.chunks_exact(inner) {
            for ((s, &m), &v) in sum.iter_mut().zip(&max).zip(xr) {
                *s += ((v - m).exp()) as f64;
            }
        }
        for (or, xr) in ob.chunks_exact_mut(inner).zip(xb.chunks_exact(inner)) {
            for (((y, &v), &m), &s) in or.iter_mut().zip(xr).zip(&max).zip(&sum) {
                *y = if log { v - m - (s.ln() as f32) } else { (v - m).exp() / s as f32 };
            }
        }
    }
}

/// One contiguous row: the common case of softmax over the last dim.
fn row_forward(out: &mut [f32], x: &[f32], log: bool) {
    let m = x.iter().fold(f32::NEG_INFINITY, |m, &v| m.max(v));
    if log {
        let s: f64 = x.iter().map(|&v| (v - m).exp() as f64).sum();
        let lse = m + s.ln() as f32;
        for (y, &v) in out.iter_mut().zip(x) {
            *y = v - lse;
        }
    } else {
        let mut s = 0f64;
        for (y, &v) in out.iter_mut().zip(x) {
            *y = (v - m).exp();
            s += *y as f64;
        }
        let inv = (1.0 / s) as f32;
        for y in out.iter_mut() {
            *y *= inv;
        }
    }
}

/// dx from the output y and its gradient g:
/// softmax: dx = y * (g - sum(g * y)); log_softmax: dx = g - exp(y) * sum(g).
pub fn backward(dx: &mut [f32], y: &[f32], g: &[f32], (outer, n, inner): (usize, usize, usize), log: bool) {
    if y.is_empty() {
        return;
    }
    let mut acc = vec![0f64; inner];
    for b in 0..outer {
        let base = b * n * inner;
        let range = base..base + n * inner;
        let (yb, gb, db) = (&y[range.clone()], &g[range.clone()], &mut dx[range]);
        acc.fill(0.0);
        for (yr, gr) in yb.chunks_exact(inner).zip(gb.chunks_exact(inner)) {
            for ((a, &yv), &gv) in acc.iter_mut().zip(yr).zip(gr) {
                *a += if log { gv as f64 } else { (gv * yv) as f64 };
            }
        }
        for ((dr, yr), gr) in db.chunks_exact_mut(inner).zip(yb.chunks_exact(inner)).zip(gb.chunks_exact(inner)) {
            for (((d, &yv), &gv), &a) in dr.iter_mut().zip(yr).zip(gr).zip(&acc) {
                let a = a as f32;
                *d = if log { gv - yv.exp() * a } else { yv * (gv - a) };
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
        row_forward(&mut c0, &[0.1, -0.3, 1.2], true);
        row_forward(&mut c1, &[2.0, 0.5, -1.0], true);
        for i in 0..3 {
            assert!((y[2 * i] - c0[i]).abs() < 1e-6 && (y[2 * i + 1] - c1[i]).abs() < 1e-6);
        }
    }
}
