//! RMSNorm (F.rms_norm) over rows of n elements: y = x * rstd * w with
//! rstd = 1 / sqrt(mean(x²) + eps), the mean of squares accumulated in f64.
//! Backward, with dy = g w: dx = rstd (dy - x rstd² mean(dy x)), dw = Σ g x rstd.

use super::elementwise::PARALLEL_MIN;
use super::simd::{lane_sum, multiversion};
use crate::parallel::{self, Disjoint};
use std::mem::MaybeUninit;

/// y and each row's rstd; blocks of rows spread across the pool when large.
pub fn forward(x: &[f32], n: usize, eps: f64, w: Option<&[f32]>, y: &mut [MaybeUninit<f32>], rstd: &mut [f32]) {
    if n == 0 {
        return;
    }
    let (y, rstd) = (Disjoint::new(y), Disjoint::new(rstd));
    parallel::for_each_range(x.len() / n, n, PARALLEL_MIN, &|r| {
        let span = r.start * n..r.end * n;
        // SAFETY: for_each_range's ranges are disjoint, and so are the spans of their rows.
        let (y, rstd) = unsafe { (y.range(span.clone()), rstd.range(r)) };
        forward_rows(&x[span], n, eps, w, y, rstd)
    });
}

multiversion! {
    fn forward_rows(x: &[f32], n: usize, eps: f64, w: Option<&[f32]>, y: &mut [MaybeUninit<f32>], rstd: &mut [f32]) {
        for ((xr, yr), s) in x.chunks_exact(n).zip(y.chunks_exact_mut(n)).zip(rstd.iter_mut()) {
            let ms = lane_sum(xr, |v| v as f64 * v as f64) / n as f64;
            *s = (1.0 / (ms + eps).sqrt()) as f32;
            let s = *s;
            match w {
                Some(w) => yr.iter_mut().zip(xr).zip(w).for_each(|((y, &x), &w)| _ = y.write(x * s * w)),
                None => yr.iter_mut().zip(xr).for_each(|(y, &x)| _ = y.write(x * s)),
            }
        }
    }
}

/// Gradients per row (see the top of the file); dw accumulates in f64 across rows.
pub fn backward(x: &[f32], g: &[f32], n: usize, rstd: &[f32], w: Option<&[f32]>, dx: Option<&mut [f32]>, dw: Option<&mut [f64]>) {
    if n == 0 {
        return;
    }
    if let Some(dw) = dw {
        for ((xr, gr), &s) in x.chunks_exact(n).zip(g.chunks_exact(n)).zip(rstd) {
            for ((d, &xv), &gv) in dw.iter_mut().zip(xr).zip(gr) {
                *d += (gv * xv * s) as f64;
            }
        }
    }
    if let Some(dx) = dx {
        let dx = Disjoint::new(dx);
        parallel::for_each_range(x.len() / n, n, PARALLEL_MIN, &|r| {
            let span = r.start * n..r.end * n;
            // SAFETY: for_each_range's ranges are disjoint, and so are the spans of their rows.
            let dx = unsafe { dx.range(span.clone()) };
            dx_rows(&x[span.clone()], &g[span], n, &rstd[r], w, dx)
        });
    }
}

multiversion! {
    fn dx_rows(x: &[f32], g: &[f32], n: usize, rstd: &[f32], w: Option<&[f32]>, dx: &mut [f32]) {
        for (((xr, gr), dr), &s) in x.chunks_exact(n).zip(g.chunks_exact(n)).zip(dx.chunks_exact_mut(n)).zip(rstd) {
            // dx = s (g w - x s² mean(g w x)), w = 1 when absent.
            let dot: f64 = match w {
                Some(w) => xr.iter().zip(gr).zip(w).map(|((&x, &g), &w)| (g * w * x) as f64).sum(),
                None => xr.iter().zip(gr).map(|(&x, &g)| (g * x) as f64).sum(),
            };
            let c = (dot / n as f64) as f32 * s * s;
            match w {
                Some(w) => dr.iter_mut().zip(xr).zip(gr).zip(w).for_each(|(((d, &x), &g), &w)| *d = s * (g * w - x * c)),
                None => dr.iter_mut().zip(xr).zip(gr).for_each(|((d, &x), &g)| *d = s * (g - x * c)),
            }
        }
    }
}
