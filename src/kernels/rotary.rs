//! The rotary embedding in Hugging Face's convention, fused: y = x cos + rotate_half(x) sin with
//! rotate_half(x) = cat(-x2, x1) of each row's halves, over rows of d (even) elements.
//! rotate_half's transpose maps (g1, g2) to (g2, -g1), so dx = g cos + rotate_halfᵀ(g sin).

use super::elementwise::PARALLEL_MIN;
use super::simd::multiversion;
use crate::parallel::{self, Disjoint};
use std::mem::MaybeUninit;

/// cos or sin broadcast to x's rows: element i of row r is `data[offsets[r] + i * cs]`.
#[derive(Clone, Copy)]
pub struct Rows<'a> {
    pub data: &'a [f32],
    pub offsets: &'a [usize],
    pub cs: usize,
}

impl<'a> Rows<'a> {
    fn row(&self, r: usize, d: usize) -> Row<'a> {
        let start = self.offsets[r];
        if self.cs == 1 {
            Row::Dense(&self.data[start..start + d])
        } else {
            Row::Strided(self.data.get(start..).unwrap_or(&[]), self.cs)
        }
    }
}

#[derive(Clone, Copy)]
enum Row<'a> {
    Dense(&'a [f32]),
    Strided(&'a [f32], usize),
}

/// Element i of a row of cos or sin.
trait At: Copy {
    fn at(&self, i: usize) -> f32;
}

impl At for Row<'_> {
    #[inline(always)]
    fn at(&self, i: usize) -> f32 {
        match *self {
            Row::Dense(v) => v[i],
            Row::Strided(v, cs) => v[i * cs],
        }
    }
}

impl At for &[f32] {
    #[inline(always)]
    fn at(&self, i: usize) -> f32 {
        self[i]
    }
}

/// Which of the two fused loops to run.
#[derive(Clone, Copy)]
pub enum Pass {
    /// y = x cos + rotate_half(x) sin.
    Forward,
    /// dx = g cos + rotate_halfᵀ(g sin).
    Backward,
}

/// `out` for every row of `x` (the input, or the output gradient for `Pass::Backward`), writing
/// every value (room: a fresh output needs no zero fill).
pub fn run(x: &[f32], d: usize, cos: Rows<'_>, sin: Rows<'_>, pass: Pass, out: &mut [MaybeUninit<f32>]) {
    if d == 0 {
        return;
    }
    let out = Disjoint::new(out);
    parallel::for_each_range(x.len() / d, d, PARALLEL_MIN, &|r| {
        // SAFETY: for_each_range's ranges are disjoint, and so are the spans of their rows.
        let out = unsafe { out.range(r.start * d..r.end * d) };
        rotate_rows(r.start, d, out, &x[r.start * d..r.end * d], cos, sin, pass);
    });
}

multiversion! {
    /// `run` over consecutive rows of d from row `first`; dense tables (the usual (seq, d) cos
    /// and sin) get a loop over plain slices, which vectorises.
    fn rotate_rows(first: usize, d: usize, out: &mut [MaybeUninit<f32>], x: &[f32], cos: Rows<'_>, sin: Rows<'_>, pass: Pass) {
        for (row, (o, xr)) in (first..).zip(out.chunks_exact_mut(d).zip(x.chunks_exact(d))) {
            match (cos.row(row, d), sin.row(row, d)) {
                (Row::Dense(c), Row::Dense(s)) => rotate_row(o, xr, c, s, pass),
                (c, s) => rotate_row(o, xr, c, s, pass),
            }
        }
    }
}

/// One row of `run`: writes every value of `o` (both halves, h values each).
#[inline(always)]
fn rotate_row(o: &mut [MaybeUninit<f32>], x: &[f32], c: impl At, s: impl At, pass: Pass) {
    let h = x.len() / 2;
    let (x1, x2) = x.split_at(h);
    let (o1, o2) = o.split_at_mut(h);
    let (o1, o2) = (&mut o1[..h], &mut o2[..h]);
    match pass {
        Pass::Forward => {
            for i in 0..h {
                o1[i].write(x1[i] * c.at(i) - x2[i] * s.at(i));
                o2[i].write(x2[i] * c.at(i + h) + x1[i] * s.at(i + h));
            }
        }
        Pass::Backward => {
            for i in 0..h {
                o1[i].write(x1[i] * c.at(i) + x2[i] * s.at(i + h));
                o2[i].write(x2[i] * c.at(i + h) - x1[i] * s.at(i));
            }
        }
    }
}

/// out = g * rotate_half(x), the gradient of sin before it is summed to sin's shape.
pub fn grad_sin(x: &[f32], g: &[f32], d: usize, out: &mut [f32]) {
    if d == 0 {
        return;
    }
    let h = d / 2;
    for ((o, xr), gr) in out.chunks_exact_mut(d).zip(x.chunks_exact(d)).zip(g.chunks_exact(d)) {
        for i in 0..h {
            o[i] = -xr[i + h] * gr[i];
            o[i + h] = xr[i] * gr[i + h];
        }
    }
}
