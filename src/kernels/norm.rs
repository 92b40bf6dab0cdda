//! Layer norm (statistics per row of n elements) and batch norm (statistics per channel of a
//! contiguous (batch, channels, spatial) tensor). Statistics accumulate in f64 and the variance
//! is taken around the mean (two passes), so a large mean does not swamp it. Variances are
//! biased (divided by the count), as PyTorch normalises.

use super::elementwise::PARALLEL_MIN;
use super::simd::{lane_sum, multiversion};
use crate::error::Result;
use crate::parallel::{self, Disjoint};
use crate::storage::try_collect;
use std::mem::MaybeUninit;

/// Mean and biased variance of the values `chunks` yields.
#[inline(always)]
fn mean_var<'a>(chunks: impl Iterator<Item = &'a [f32]> + Clone, count: usize) -> (f64, f64) {
    let sum: f64 = chunks.clone().map(|c| lane_sum(c, |v| v as f64)).sum();
    let mean = sum / count as f64;
    let sq: f64 = chunks.map(|c| lane_sum(c, |v| (v as f64 - mean) * (v as f64 - mean))).sum();
    (mean, sq / count as f64)
}

pub fn inv_std(var: f64, eps: f64) -> f32 {
    (1.0 / (var + eps).sqrt()) as f32
}

/// Affine parameters, one per normalised position (layer norm) or per channel (batch norm).
#[derive(Clone, Copy)]
pub struct Affine<'a> {
    pub weight: Option<&'a [f32]>,
    pub bias: Option<&'a [f32]>,
}

impl Affine<'_> {
    fn weight(&self, i: usize) -> f32 {
        self.weight.map_or(1.0, |w| w[i])
    }

    /// y = (x - m) * s, then apply, writing every value of y (room, not read): one loop per
    /// combination of parameters, so each is a plain vector loop.
    #[inline(always)]
    fn normalize_row(&self, y: &mut [MaybeUninit<f32>], x: &[f32], m: f32, s: f32) {
        match (self.weight, self.bias) {
            (Some(w), Some(b)) => {
                for (((yv, &xv), &wv), &bv) in y.iter_mut().zip(x).zip(w).zip(b) {
                    yv.write((xv - m) * s * wv + bv);
                }
            }
            (Some(w), None) => {
                for ((yv, &xv), &wv) in y.iter_mut().zip(x).zip(w) {
                    yv.write((xv - m) * s * wv);
                }
            }
            (None, Some(b)) => {
                for ((yv, &xv), &bv) in y.iter_mut().zip(x).zip(b) {
                    yv.write((xv - m) * s + bv);
                }
            }
            (None, None) => {
                for (yv, &xv) in y.iter_mut().zip(x) {
                    yv.write((xv - m) * s);
                }
            }
        }
    }
}

/// y = (x - mean) * rstd * w + b for each row of n, writing every value of y (room: a fresh output
/// needs no zero fill); writes each row's mean and rstd. Blocks of rows are spread across the
/// pool when large.
pub fn layer_forward(x: &[f32], n: usize, eps: f64, affine: Affine<'_>, y: &mut [MaybeUninit<f32>], mean: &mut [f32], rstd: &mut [f32]) {
    if n == 0 {
        return;
    }
    let rows = x.len() / n;
    let (y, mean, rstd) = (Disjoint::new(y), Disjoint::new(mean), Disjoint::new(rstd));
    parallel::for_each_range(rows, n, PARALLEL_MIN, &|r| {
        let span = r.start * n..r.end * n;
        // SAFETY: for_each_range's ranges are disjoint, and so are the spans of their rows.
        let (y, mean, rstd) = unsafe { (y.range(span.clone()), mean.range(r.clone()), rstd.range(r)) };
        layer_rows(&x[span], n, eps, affine, y, mean, rstd)
    });
}

multiversion! {
    fn layer_rows(x: &[f32], n: usize, eps: f64, affine: Affine<'_>, y: &mut [MaybeUninit<f32>], mean: &mut [f32], rstd: &mut [f32]) {
        for (r, (xr, yr)) in x.chunks_exact(n).zip(y.chunks_exact_mut(n)).enumerate() {
            let (m, var) = mean_var(std::iter::once(xr), n);
            let (m, s) = (m as f32, inv_std(var, eps));
            affine.normalize_row(yr, xr, m, s);
            mean[r] = m;
            rstd[r] = s;
        }
    }
}

multiversion! {
    /// `Channels::normalize` of the planes from `first` on.
    fn normalize_planes(ch: &Channels, first: usize, x: &[f32], mean: &[f32], invstd: &[f32], affine: Affine<'_>, y: &mut [MaybeUninit<f32>]) {
        let sp = ch.spatial;
        for (i, (yr, xr)) in y.chunks_exact_mut(sp).zip(x.chunks_exact(sp)).enumerate() {
            let c = (first + i) % ch.channels;
            let (m, s) = (mean[c], invstd[c]);
            let (w, b) = (affine.weight(c), affine.bias.map_or(0.0, |b| b[c]));
            for (yv, &xv) in yr.iter_mut().zip(xr) {
                yv.write((xv - m) * s * w + b);
            }
        }
    }
}

/// Gradients of layer norm per row, with xhat = (x - mean) rstd and dxhat = g w:
/// dx = rstd (dxhat - mean(dxhat) - xhat mean(dxhat xhat)); dw += g xhat; db += g.
#[allow(clippy::too_many_arguments)]
pub fn layer_backward(
    x: &[f32],
    g: &[f32],
    n: usize,
    mean: &[f32],
    rstd: &[f32],
    weight: Option<&[f32]>,
    mut dx: Option<&mut [f32]>,
    mut dw: Option<&mut [f64]>,
    mut db: Option<&mut [f64]>,
) {
    if n == 0 {
        return;
    }
    let affine = Affine { weight, bias: None };
    for (r, (xr, gr)) in x.chunks_exact(n).zip(g.chunks_exact(n)).enumerate() {
        let (m, s) = (mean[r], rstd[r]);
        if let Some(dw) = dw.as_deref_mut() {
            for (i, (&xv, &gv)) in xr.iter().zip(gr).enumerate() {
                dw[i] += (gv * (xv - m) * s) as f64;
            }
        }
        if let Some(db) = db.as_deref_mut() {
            for (d, &gv) in db.iter_mut().zip(gr) {
                *d += gv as f64;
            }
        }
        if let Some(dx) = dx.as_deref_mut() {
            let (mut sum_d, mut sum_dx) = (0f64, 0f64);
            for (i, (&xv, &gv)) in xr.iter().zip(gr).enumerate() {
                let d = (gv * affine.weight(i)) as f64;
                sum_d += d;
                sum_dx += d * ((xv - m) * s) as f64;
            }
            let (mean_d, mean_dx) = ((sum_d / n as f64) as f32, (sum_dx / n as f64) as f32);
            for (i, (dv, (&xv, &gv))) in dx[r * n..(r + 1) * n].iter_mut().zip(xr.iter().zip(gr)).enumerate() {
                let xhat = (xv - m) * s;
                *dv = s * (gv * affine.weight(i) - mean_d - xhat * mean_dx);
            }
        }
    }
}

/// A contiguous (batch, channels, spatial) tensor: channel c of batch item b is the slice at
/// (b * channels + c) * spatial.
#[derive(Clone, Copy, Debug)]
pub struct Channels {
    pub batch: usize,
    pub channels: usize,
    pub spatial: usize,
}

impl Channels {
    fn slices<'a>(&self, x: &'a [f32], c: usize) -> impl Iterator<Item = &'a [f32]> + Clone + 'a {
        let (ch, sp) = (self.channels, self.spatial);
        (0..self.batch).map(move |b| &x[(b * ch + c) * sp..(b * ch + c + 1) * sp])
    }

    pub fn count(&self) -> usize {
        self.batch * self.spatial
    }

    /// Mean and biased variance of every channel.
    pub fn stats(&self, x: &[f32]) -> Result<Vec<(f64, f64)>> {
        try_collect(self.channels, (0..self.channels).map(|c| mean_var(self.slices(x, c), self.count())))
    }

    /// y = (x - mean\[c\]) * invstd\[c\] * w\[c\] + b\[c\], writing every value of y (room: a fresh
    /// output needs no zero fill). Planes (one (batch, channel) slice each) are spread across the
    /// pool when large; each value depends on its plane alone, so not on the split.
    pub fn normalize(&self, x: &[f32], mean: &[f32], invstd: &[f32], affine: Affine<'_>, y: &mut [MaybeUninit<f32>]) {
        let sp = self.spatial;
        if sp == 0 {
            return;
        }
        let y = Disjoint::new(y);
        parallel::for_each_range(x.len() / sp, sp, PARALLEL_MIN, &|r| {
            let span = r.start * sp..r.end * sp;
            // SAFETY: for_each_range's ranges are disjoint, and so are the spans of their planes.
            let y = unsafe { y.range(span.clone()) };
            normalize_planes(self, r.start, &x[span], mean, invstd, affine, y);
        });
    }

    /// Gradients of batch norm, with xhat = (x - mean) invstd: dw\[c\] = sum g xhat, db\[c\] = sum g,
    /// and dx = w invstd (g - mean(g) - xhat mean(g xhat)) when the statistics came from the
    /// batch (training), dx = w invstd g when they were constants (running statistics).
    #[allow(clippy::too_many_arguments)]
    pub fn backward(
        &self,
        x: &[f32],
        g: &[f32],
        mean: &[f32],
        invstd: &[f32],
        weight: Option<&[f32]>,
        batch_stats: bool,
        dx: Option<&mut [f32]>,
        dw: Option<&mut [f32]>,
        db: Option<&mut [f32]>,
    ) -> Result<()> {
        let count = self.count() as f64;
        let affine = Affine { weight, bias: None };
        let per_channel = (0..self.channels).map(|c| {
            let (m, s) = (mean[c], invstd[c]);
            let (mut sum_g, mut sum_gx) = (0f64, 0f64);
            for (xr, gr) in self.slices(x, c).zip(self.slices(g, c)) {
                for (&xv, &gv) in xr.iter().zip(gr) {
                    sum_g += gv as f64;
                    sum_gx += (gv * (xv - m) * s) as f64;
                }
            }
            (sum_g, sum_gx)
        });
        let sums = try_collect(self.channels, per_channel)?;
        if let Some(dw) = dw {
            for (d, &(_, sgx)) in dw.iter_mut().zip(&sums) {
                *d = sgx as f32;
            }
        }
        if let Some(db) = db {
            for (d, &(sg, _)) in db.iter_mut().zip(&sums) {
                *d = sg as f32;
            }
        }
        let Some(dx) = dx else { return Ok(()) };
        let sp = self.spatial;
        if sp == 0 {
            return Ok(());
        }
        for (i, (dr, (xr, gr))) in dx.chunks_exact_mut(sp).zip(x.chunks_exact(sp).zip(g.chunks_exact(sp))).enumerate() {
            let c = i % self.channels;
            let (m, s) = (mean[c], invstd[c]);
            let scale = affine.weight(c) * s;
            if batch_stats {
                let (mean_g, mean_gx) = ((sums[c].0 / count) as f32, (sums[c].1 / count) as f32);
                for (d, (&xv, &gv)) in dr.iter_mut().zip(xr.iter().zip(gr)) {
                    *d = scale * (gv - mean_g - (xv - m) * s * mean_gx);
                }
            } else {
                for (d, &gv) in dr.iter_mut().zip(gr) {
                    *d = scale * gv;
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernels::simd::as_uninit;

    /// Batch norm's normalize, split across the pool above PARALLEL_MIN, gives every value bit for
    /// bit as one serial pass of the formula does, with and without the affine parameters.
    #[test]
    fn batch_normalize_matches_the_serial_formula_on_any_split() {
        let ch = Channels { batch: 3, channels: 5, spatial: 97 * 53 };
        let n = ch.batch * ch.channels * ch.spatial;
        assert!(n > PARALLEL_MIN);
        let x: Vec<f32> = (0..n).map(|i| ((i * 7919) % 1000) as f32 / 100.0 - 5.0).collect();
        let (mean, invstd) = ([0.5, -1.0, 0.0, 2.0, 0.25], [1.5, 0.5, 1.0, 2.0, 0.75]);
        let (w, b) = ([1.0, 2.0, -0.5, 0.25, 3.0], [0.0, -1.0, 0.5, 2.0, 0.125]);
        for affine in [Affine { weight: Some(&w), bias: Some(&b) }, Affine { weight: None, bias: None }] {
            let mut y = vec![f32::NAN; n];
            ch.normalize(&x, &mean, &invstd, affine, as_uninit(&mut y));
            for (i, (&yv, &xv)) in y.iter().zip(&x).enumerate() {
                let c = i / ch.spatial % ch.channels;
                let want = (xv - mean[c]) * invstd[c] * affine.weight(c) + affine.bias.map_or(0.0, |b| b[c]);
                assert_eq!(yv.to_bits(), want.to_bits(), "value {i}");
            }
        }
    }
}
