//! Fused scaled dot-product attention (FlashAttention-2 on the CPU): for each (batch, head) and
//! block of query rows, the scores of a block of keys are computed, masked, folded into an online
//! softmax (a running maximum and sum per row, the partial output rescaled when the maximum
//! grows) and multiplied into the output at once, so no L x S matrix is ever held: the scratch is
//! one BLOCK_Q x BLOCK_K tile per task. The two products per tile go through the GEMM wrapper,
//! the row work (scale, mask, exp) through `multiversion!` loops.
//!
//! Backward recomputes each tile's probabilities from the saved per-row logsumexp
//! (P = e^(s - lse)), so it needs q, k, v, the output and the logsumexp, never the probabilities:
//! O(L) extra memory per head instead of O(L S). With dO the output gradient and D = rowsum(dO O):
//! dV += (P Z)ᵀ dO, dP = Z (dO Vᵀ), dS = P (dP - D), dQ += scale dS K, dK += scale dSᵀ Q, where
//! Z is the dropout multiplier (1 without dropout); a float mask's gradient is dS.
//!
//! Every output row (and, in backward, every k/v head with its group of query heads) is
//! computed by one task in a fixed order of blocks, so results do not depend on the thread count.

use super::elementwise::PARALLEL_MIN;
use super::gemm::{gemm_slices, Mat};
use super::simd::{assume_init, multiversion, Separate};
use super::softmax::row_max;
use super::vmath::{exp, ln};
use crate::error::{Error, Result};
use crate::parallel::{self, Disjoint};
use crate::storage::try_filled;
use parking_lot::Mutex;
use std::mem::MaybeUninit;

/// Query rows per task tile, at most (see `Problem::block_q`).
const BLOCK_Q: usize = 128;
/// Keys per tile: the online softmax folds in this many scores per row at a time.
const BLOCK_K: usize = 128;
/// Multiply-adds below which the GEMM wrapper stays on the calling thread
/// (parallel::gemm_parallelism): every tile product stays under it, so a task never fans out
/// into the pool, whose split could depend on the thread count.
const SERIAL_GEMM: usize = 1 << 20;
/// Query blocks of at most this many rows (decoding: one new token per call) take dot products
/// and row updates instead of the GEMM wrapper, which would pack a whole key block for a product
/// of a row or two (a fifth of a Llama decode step went to that packing).
const FEW_ROWS: usize = 4;

/// A batch of matrices in one slice: matrix b starts at `offsets[b]`, element (i, j) is
/// `data[offsets[b] + i * rs + j * cs]` (strides may be 0 for broadcast dims).
#[derive(Clone, Copy)]
pub struct Strided<'a, T> {
    pub data: &'a [T],
    pub offsets: &'a [usize],
    pub rs: usize,
    pub cs: usize,
}

impl<'a> Strided<'a, f32> {
    /// Rows `row..` of matrix `b`, as a GEMM operand (transposed when `t`).
    fn mat(&self, b: usize, row: usize, t: bool) -> Mat<'a> {
        // An empty operand (E or Ev of 0) may start past its (empty) storage.
        let data = self.data.get(self.offsets[b] + row * self.rs..).unwrap_or(&[]);
        if t {
            Mat { data, rs: self.cs, cs: self.rs }
        } else {
            Mat { data, rs: self.rs, cs: self.cs }
        }
    }
}

/// attn_mask broadcast to (heads, L, S): added to the scores (F32) or true = may attend (BOOL).
#[derive(Clone, Copy)]
pub enum Mask<'a> {
    Add(Strided<'a, f32>),
    Allow(Strided<'a, u8>),
}

/// Dropout of the attention weights: element (h, i, j) is kept when a hash of `seed` and its
/// index is >= p (so forward and backward see the same draws, whatever thread runs them) and
/// then scaled by 1 / (1 - p).
#[derive(Clone, Copy)]
pub struct Dropout {
    pub p: f32,
    pub seed: u64,
}

/// One attention call: `heads` query matrices (the flattened batch and head dims), each query
/// head h reading k/v matrix h / group.
pub struct Problem<'a> {
    pub heads: usize,
    pub group: usize,
    pub l: usize,
    pub s: usize,
    pub e: usize,
    pub ev: usize,
    pub q: Strided<'a, f32>,
    pub k: Strided<'a, f32>,
    pub v: Strided<'a, f32>,
    pub mask: Option<Mask<'a>>,
    pub causal: bool,
    pub scale: f32,
    pub dropout: Option<Dropout>,
}

/// How a row of scores is masked.
#[derive(Clone, Copy)]
enum RowMask<'a> {
    None,
    Add(&'a [f32], usize),
    Allow(&'a [u8], usize),
}

impl Problem<'_> {
    /// Query rows per tile: BLOCK_Q, fewer for wide heads so that each tile product
    /// (rows x BLOCK_K x E, rows x Ev x BLOCK_K) stays a serial GEMM. Depends on the shapes
    /// only, never on the thread count.
    fn block_q(&self) -> usize {
        (SERIAL_GEMM / (BLOCK_K * self.e.max(self.ev).max(1))).clamp(1, BLOCK_Q)
    }

    fn row_mask(&self, h: usize, i: usize, j0: usize) -> RowMask<'_> {
        match self.mask {
            None => RowMask::None,
            Some(Mask::Add(m)) => RowMask::Add(&m.data[m.offsets[h] + i * m.rs + j0 * m.cs..], m.cs),
            Some(Mask::Allow(m)) => RowMask::Allow(&m.data[m.offsets[h] + i * m.rs + j0 * m.cs..], m.cs),
        }
    }

    /// Keys of block j0..j1 query row i may see: all, or (causal, top-left aligned) those <= i.
    fn visible(&self, i: usize, j0: usize, j1: usize) -> usize {
        if self.causal {
            (i + 1).saturating_sub(j0).min(j1 - j0)
        } else {
            j1 - j0
        }
    }

    /// Key blocks a query block ending before row i1 needs (causal rows see no later keys).
    fn key_end(&self, i1: usize) -> usize {
        if self.causal {
            self.s.min(i1)
        } else {
            self.s
        }
    }

    /// Scores of rows i0..i0+rows against keys j0..j1 of head h into `tile` (rows BLOCK_K apart),
    /// scaled and masked (-inf where a key may not be seen).
    fn scores(&self, h: usize, i0: usize, rows: usize, j0: usize, j1: usize, tile: &mut [f32]) {
        let kh = h / self.group;
        if rows <= FEW_ROWS && self.e > 0 && self.q.cs == 1 && self.k.cs == 1 {
            for r in 0..rows {
                let q = &self.q.data[self.q.offsets[h] + (i0 + r) * self.q.rs..][..self.e];
                for (j, s) in (j0..j1).zip(&mut tile[r * BLOCK_K..]) {
                    *s = row_dot(q, &self.k.data[self.k.offsets[kh] + j * self.k.rs..][..self.e]);
                }
            }
        } else {
            gemm_slices(rows, j1 - j0, self.e, tile, BLOCK_K, false, self.q.mat(h, i0, false), self.k.mat(kh, j0, true));
        }
        for r in 0..rows {
            let i = i0 + r;
            let row = &mut tile[r * BLOCK_K..r * BLOCK_K + (j1 - j0)];
            scale_mask(row, self.scale, self.row_mask(h, i, j0), self.visible(i, j0, j1));
        }
    }

    /// Multiplies row i's weights for keys j0.. by the dropout multiplier.
    fn drop_row(&self, row: &mut [f32], h: usize, i: usize, j0: usize) {
        if let Some(d) = self.dropout {
            apply_dropout(row, d, ((h * self.l + i) * self.s + j0) as u64);
        }
    }
}

/// Runs `task` on ranges of `items` across the pool, returning the first error any range met.
fn run_items(items: usize, unit: usize, task: &(dyn Fn(std::ops::Range<usize>) -> Result<()> + Sync)) -> Result<()> {
    let failed: Mutex<Option<Error>> = Mutex::new(None);
    parallel::for_each_range(items, unit, PARALLEL_MIN, &|r| {
        if let Err(e) = task(r) {
            failed.lock().get_or_insert(e);
        }
    });
    failed.into_inner().map_or(Ok(()), Err)
}

/// out (heads, L, Ev) contiguous = softmax(scale q kᵀ + mask) v; `lse` (heads, L), when given,
/// receives each row's logsumexp (-inf for a row with no visible key, whose output is zeros).
/// Both are room: on success every value is written (each block zeroes its rows of out on the
/// thread that accumulates into them, not a serial fill before); on an error, not all are.
pub fn forward(p: &Problem<'_>, out: &mut [MaybeUninit<f32>], lse: Option<&mut [MaybeUninit<f32>]>) -> Result<()> {
    let bq = p.block_q();
    let blocks = p.l.div_ceil(bq);
    let (out, lse) = (Disjoint::new(out), lse.map(Disjoint::new));
    let unit = bq.min(p.l) * p.s.max(1) * (p.e + p.ev).max(1);
    run_items(p.heads * blocks, unit, &|items| {
        let mut tile = try_filled(BLOCK_Q * BLOCK_K, 0f32)?;
        let (mut max, mut sum) = ([0f32; BLOCK_Q], [0f32; BLOCK_Q]);
        for item in items {
            let (h, i0) = (item / blocks, item % blocks * bq);
            let rows = bq.min(p.l - i0);
            let span = (h * p.l + i0) * p.ev..(h * p.l + i0 + rows) * p.ev;
            // SAFETY: each item is one (head, query block), whose output rows no other item has.
            let acc = unsafe { out.range(span) };
            acc.fill(MaybeUninit::new(0.0));
            // SAFETY: every value of acc was written just above.
            let acc = unsafe { assume_init(acc) };
            // SAFETY: as for `acc`, one row of lse per output row; finish_rows writes each.
            let lse = lse.as_ref().map(|d| unsafe { d.range(h * p.l + i0..h * p.l + i0 + rows) });
            forward_block(p, h, i0, rows, &mut tile, acc, &mut max[..rows], &mut sum[..rows]);
            finish_rows(acc, p.ev, &max[..rows], &sum[..rows], lse);
        }
        Ok(())
    })
}

/// The online softmax over every key block for query rows i0..i0+rows of head h, accumulating
/// unnormalised weighted values into `acc` and each row's running max and sum.
#[allow(clippy::too_many_arguments)]
fn forward_block(p: &Problem<'_>, h: usize, i0: usize, rows: usize, tile: &mut [f32], acc: &mut [f32], max: &mut [f32], sum: &mut [f32]) {
    max.fill(f32::NEG_INFINITY);
    sum.fill(0.0);
    let kh = h / p.group;
    let end = p.key_end(i0 + rows);
    for j0 in (0..end).step_by(BLOCK_K) {
        let j1 = end.min(j0 + BLOCK_K);
        p.scores(h, i0, rows, j0, j1, tile);
        for r in 0..rows {
            let row = &mut tile[r * BLOCK_K..r * BLOCK_K + (j1 - j0)];
            let m = max[r].max(row_max(row));
            if m == f32::NEG_INFINITY {
                // No key visible yet: the row adds nothing.
                row.fill(0.0);
                continue;
            }
            let correction = if sum[r] == 0.0 { 0.0 } else { exp::<Separate>(max[r] - m) };
            sum[r] = sum[r] * correction + exp_row(row, m);
            max[r] = m;
            if correction != 1.0 {
                rescale(&mut acc[r * p.ev..(r + 1) * p.ev], correction);
            }
            p.drop_row(row, h, i0 + r, j0);
        }
        if rows <= FEW_ROWS && p.ev > 0 && p.v.cs == 1 {
            for r in 0..rows {
                let out = &mut acc[r * p.ev..(r + 1) * p.ev];
                for (j, &w) in (j0..j1).zip(&tile[r * BLOCK_K..]) {
                    add_scaled(out, w, &p.v.data[p.v.offsets[kh] + j * p.v.rs..][..p.ev]);
                }
            }
        } else {
            gemm_slices(rows, p.ev, j1 - j0, acc, p.ev, true, Mat { data: tile, rs: BLOCK_K, cs: 1 }, p.v.mat(kh, j0, false));
        }
    }
}

/// Divides each row by its sum (zeros where nothing was visible) and writes its logsumexp.
fn finish_rows(acc: &mut [f32], ev: usize, max: &[f32], sum: &[f32], lse: Option<&mut [MaybeUninit<f32>]>) {
    for (r, &s) in sum.iter().enumerate() {
        let row = &mut acc[r * ev..(r + 1) * ev];
        if s == 0.0 {
            row.fill(0.0);
        } else {
            rescale(row, 1.0 / s);
        }
    }
    if let Some(lse) = lse {
        for ((l, &m), &s) in lse.iter_mut().zip(max).zip(sum) {
            l.write(if s == 0.0 { f32::NEG_INFINITY } else { m + ln(s) });
        }
    }
}

/// Gradients, each contiguous and zero-filled: dq (heads, L, E), dk (heads / group, S, E),
/// dv (heads / group, S, Ev), and dmask (heads, L, S) for a float mask that requires grad.
pub struct Grads<'a> {
    pub dq: &'a mut [f32],
    pub dk: &'a mut [f32],
    pub dv: &'a mut [f32],
    pub dmask: Option<&'a mut [f32]>,
}

/// Backward of `forward`, given its output `out` and `lse` and the output gradient `g` (all
/// contiguous). Tasks are k/v heads, each with its group of query heads, so every gradient
/// element is written by one task.
pub fn backward(p: &Problem<'_>, out: &[f32], lse: &[f32], g: &[f32], grads: Grads<'_>) -> Result<()> {
    let (n, ls) = (p.group * p.l, p.l * p.s);
    let (dq, dk, dv) = (Disjoint::new(grads.dq), Disjoint::new(grads.dk), Disjoint::new(grads.dv));
    let dmask = grads.dmask.map(Disjoint::new);
    let unit = n * p.s.max(1) * (2 * p.e + 2 * p.ev).max(1);
    run_items(p.heads / p.group, unit, &|kvs| {
        let mut buf = try_filled(3 * BLOCK_Q * BLOCK_K, 0f32)?;
        let (prob, rest) = buf.split_at_mut(BLOCK_Q * BLOCK_K);
        let (dprob, kept) = rest.split_at_mut(BLOCK_Q * BLOCK_K);
        for kv in kvs {
            // SAFETY: k/v head kv and its query heads kv*group.. belong to this task alone.
            let (dq, dk, dv) = unsafe {
                (
                    dq.range(kv * n * p.e..(kv + 1) * n * p.e),
                    dk.range(kv * p.s * p.e..(kv + 1) * p.s * p.e),
                    dv.range(kv * p.s * p.ev..(kv + 1) * p.s * p.ev),
                )
            };
            // SAFETY: the dmask rows of this task's query heads, as dq's.
            let mut dmask = dmask.as_ref().map(|d| unsafe { d.range(kv * p.group * ls..(kv + 1) * p.group * ls) });
            for gi in 0..p.group {
                let h = kv * p.group + gi;
                let dm = dmask.as_deref_mut().map(|d| &mut d[gi * ls..(gi + 1) * ls]);
                let tiles = Tiles { prob: &mut *prob, dprob: &mut *dprob, kept: &mut *kept };
                let head = HeadGrads { dq: &mut dq[gi * p.l * p.e..(gi + 1) * p.l * p.e], dk: &mut *dk, dv: &mut *dv, dmask: dm };
                backward_head(p, h, out, lse, g, tiles, head);
            }
        }
        Ok(())
    })
}

/// A task's three scratch tiles (BLOCK_Q x BLOCK_K, rows BLOCK_K apart).
struct Tiles<'a> {
    prob: &'a mut [f32],
    dprob: &'a mut [f32],
    kept: &'a mut [f32],
}

/// One query head's gradient slices: its dq and dmask, its k/v head's dk and dv.
struct HeadGrads<'a> {
    dq: &'a mut [f32],
    dk: &'a mut [f32],
    dv: &'a mut [f32],
    dmask: Option<&'a mut [f32]>,
}

fn backward_head(p: &Problem<'_>, h: usize, out: &[f32], lse: &[f32], g: &[f32], t: Tiles<'_>, d: HeadGrads<'_>) {
    let kh = h / p.group;
    let (e, ev) = (p.e, p.ev);
    let HeadGrads { dq, dk, dv, mut dmask } = d;
    let bq = p.block_q();
    for i0 in (0..p.l).step_by(bq) {
        let rows = bq.min(p.l - i0);
        let gm = Mat { data: &g[(h * p.l + i0) * ev..], rs: ev, cs: 1 };
        let mut dot = [0f32; BLOCK_Q];
        for (r, d) in dot[..rows].iter_mut().enumerate() {
            let at = (h * p.l + i0 + r) * ev;
            *d = row_dot(&g[at..at + ev], &out[at..at + ev]);
        }
        let end = p.key_end(i0 + rows);
        for j0 in (0..end).step_by(BLOCK_K) {
            let (j1, cols) = (end.min(j0 + BLOCK_K), end.min(j0 + BLOCK_K) - j0);
            p.scores(h, i0, rows, j0, j1, t.prob);
            for r in 0..rows {
                let row = &mut t.prob[r * BLOCK_K..r * BLOCK_K + cols];
                probabilities(row, lse[h * p.l + i0 + r]);
                if p.dropout.is_some() {
                    let kept = &mut t.kept[r * BLOCK_K..r * BLOCK_K + cols];
                    kept.fill(1.0);
                    p.drop_row(kept, h, i0 + r, j0);
                }
            }
            // dV += (P Z)ᵀ dO, with P Z staged in the dP tile (free until dP is computed).
            let pz: &[f32] = if p.dropout.is_some() {
                for ((d, &z), &pr) in t.dprob.iter_mut().zip(t.kept.iter()).zip(t.prob.iter()) {
                    *d = z * pr;
                }
                t.dprob
            } else {
                t.prob
            };
            gemm_slices(cols, ev, rows, &mut dv[j0 * ev..], ev, true, Mat { data: pz, rs: 1, cs: BLOCK_K }, gm);
            // dP = dO Vᵀ, then dS = P (Z dP - D), in place.
            gemm_slices(rows, cols, ev, t.dprob, BLOCK_K, false, gm, p.v.mat(kh, j0, true));
            for (r, &d) in dot[..rows].iter().enumerate() {
                let span = r * BLOCK_K..r * BLOCK_K + cols;
                let z = p.dropout.is_some().then(|| &t.kept[span.clone()]);
                let ds = &mut t.dprob[span.clone()];
                score_grad(ds, &t.prob[span], z, d);
                if let Some(dm) = dmask.as_deref_mut() {
                    let at = (i0 + r) * p.s + j0;
                    dm[at..at + cols].copy_from_slice(ds);
                }
                rescale(ds, p.scale);
            }
            let ds = Mat { data: t.dprob, rs: BLOCK_K, cs: 1 };
            gemm_slices(rows, e, cols, &mut dq[i0 * e..], e, true, ds, p.k.mat(kh, j0, false));
            let dst = Mat { data: t.dprob, rs: 1, cs: BLOCK_K };
            gemm_slices(cols, e, rows, &mut dk[j0 * e..], e, true, dst, p.q.mat(h, i0, false));
        }
    }
}

multiversion! {
    /// row = row * scale + mask; -inf where the mask forbids a key and from `visible` on.
    fn scale_mask(row: &mut [f32], scale: f32, mask: RowMask<'_>, visible: usize) {
        let (seen, hidden) = row.split_at_mut(visible);
        hidden.fill(f32::NEG_INFINITY);
        match mask {
            RowMask::None => seen.iter_mut().for_each(|s| *s *= scale),
            RowMask::Add(m, 1) => seen.iter_mut().zip(m).for_each(|(s, &a)| *s = *s * scale + a),
            RowMask::Add(m, cs) => seen.iter_mut().enumerate().for_each(|(j, s)| *s = *s * scale + m[j * cs]),
            RowMask::Allow(m, cs) => seen.iter_mut().enumerate().for_each(|(j, s)| {
                *s = if m[j * cs] != 0 { *s * scale } else { f32::NEG_INFINITY }
            }),
        }
    }
}

multiversion! {
    /// row = e^(row - m), exactly 0 where row is -inf; returns the sum (f32 lanes, fixed order).
    fn exp_row(row: &mut [f32], m: f32) -> f32 {
        const LANES: usize = 16;
        let mut lanes = [0f32; LANES];
        let mut chunks = row.chunks_exact_mut(LANES);
        for c in &mut chunks {
            for (s, x) in lanes.iter_mut().zip(c.iter_mut()) {
                *x = if *x == f32::NEG_INFINITY { 0.0 } else { exp::<M>(*x - m) };
                *s += *x;
            }
        }
        for (s, x) in lanes.iter_mut().zip(chunks.into_remainder()) {
            *x = if *x == f32::NEG_INFINITY { 0.0 } else { exp::<M>(*x - m) };
            *s += *x;
        }
        lanes.iter().sum()
    }
}

multiversion! {
    /// row = e^(row - lse), the normalised weights (0 where row or lse is -inf).
    fn probabilities(row: &mut [f32], lse: f32) {
        if lse == f32::NEG_INFINITY {
            row.fill(0.0);
            return;
        }
        for x in row.iter_mut() {
            *x = if *x == f32::NEG_INFINITY { 0.0 } else { exp::<M>(*x - lse) };
        }
    }
}

multiversion! {
    /// ds = p (z ds - dot), the softmax's backward through the dropout multiplier z.
    fn score_grad(ds: &mut [f32], p: &[f32], z: Option<&[f32]>, dot: f32) {
        match z {
            None => ds.iter_mut().zip(p).for_each(|(d, &pr)| *d = pr * (*d - dot)),
            Some(z) => ds.iter_mut().zip(p).zip(z).for_each(|((d, &pr), &zv)| *d = pr * (zv * *d - dot)),
        }
    }
}

multiversion! {
    /// acc += w v: one key's weighted value row folded into an output row.
    fn add_scaled(acc: &mut [f32], w: f32, v: &[f32]) {
        acc.iter_mut().zip(v).for_each(|(a, &x)| *a += w * x);
    }
}

multiversion! {
    fn rescale(row: &mut [f32], c: f32) {
        row.iter_mut().for_each(|x| *x *= c);
    }
}

multiversion! {
    /// Σ a b in f32 lanes (fixed order).
    fn row_dot(a: &[f32], b: &[f32]) -> f32 {
        const LANES: usize = 16;
        let mut lanes = [0f32; LANES];
        let (ca, cb) = (a.chunks_exact(LANES), b.chunks_exact(LANES));
        let (ra, rb) = (ca.remainder(), cb.remainder());
        for (x, y) in ca.zip(cb) {
            for ((s, &u), &v) in lanes.iter_mut().zip(x).zip(y) {
                *s += u * v;
            }
        }
        for ((s, &u), &v) in lanes.iter_mut().zip(ra).zip(rb) {
            *s += u * v;
        }
        lanes.iter().sum()
    }
}

/// splitmix64 of the seed and an element's index: a counter-based draw, the same on every thread.
#[inline(always)]
fn draw(seed: u64, index: u64) -> f32 {
    let mut z = seed.wrapping_add(index.wrapping_mul(0x9E37_79B9_7F4A_7C15));
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^= z >> 31;
    (z >> 40) as f32 * (1.0 / (1u64 << 24) as f32)
}

/// row[j] *= 1 / (1 - p) where element `first + j` is kept, 0 where dropped.
fn apply_dropout(row: &mut [f32], d: Dropout, first: u64) {
    let keep = 1.0 / (1.0 - d.p);
    for (j, x) in row.iter_mut().enumerate() {
        *x *= if draw(d.seed, first + j as u64) >= d.p { keep } else { 0.0 };
    }
}
