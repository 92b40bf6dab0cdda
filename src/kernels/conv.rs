//! im2col / col2im for 2-D convolution, so that the convolution itself is one GEMM per image.
//! cols has one row per (channel, kernel row, kernel column) and one column per output position.
//! `forward` never materialises cols: the GEMM reads them in place from the image laid out by
//! shifted.rs (or, when that layout would waste too much or the channels outnumber the positions,
//! packs B straight from the image), an implicit GEMM, and adds the bias in its epilogue.
//! `forward` and `backward_input` run the images on the pool, each task unfolding its own.

use super::gemm::{gemm_positions_split, gemm_slices_split, gemm_unfolded_split, Mat};
use super::packed_gemm::{Operand, PackedB};
use super::shifted::{self, Shifts};
use super::simd::isa;
use crate::parallel::{self, Disjoint};
use std::mem::MaybeUninit;

/// The geometry of one convolution (all sizes already validated).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Geometry {
    pub c: usize,
    pub h: usize,
    pub w: usize,
    pub kh: usize,
    pub kw: usize,
    pub stride: usize,
    pub pad: usize,
    pub ho: usize,
    pub wo: usize,
}

impl Geometry {
    /// Output size of one spatial dim, or None when the kernel does not fit the padded input.
    pub fn out_size(input: usize, kernel: usize, stride: usize, pad: usize) -> Option<usize> {
        let padded = input.checked_add(pad.checked_mul(2)?)?;
        if kernel == 0 || padded < kernel {
            return None;
        }
        Some((padded - kernel) / stride + 1)
    }

    pub fn col_rows(&self) -> usize {
        self.c * self.kh * self.kw
    }

    pub fn col_cols(&self) -> usize {
        self.ho * self.wo
    }

    /// The input coordinate of output position `o` at kernel offset `k`, if inside the image.
    fn source(&self, o: usize, k: usize, size: usize) -> Option<usize> {
        (o * self.stride + k).checked_sub(self.pad).filter(|&i| i < size)
    }

    /// The output positions o in 0..out whose input coordinate o * stride + k - pad lies inside
    /// 0..size: the others read padding.
    pub(crate) fn inside(&self, k: usize, size: usize, out: usize) -> std::ops::Range<usize> {
        // Stride 1 (most convolutions) skips the two divisions: this runs once per unfolded row.
        let div = |v: usize| if self.stride == 1 { v } else { v.div_ceil(self.stride) };
        let lo = div(self.pad.saturating_sub(k)).min(out);
        let hi = div((size + self.pad).saturating_sub(k)).min(out);
        lo..hi.max(lo)
    }

    /// True when cols equals the image itself (1x1 kernel, stride 1, no padding).
    pub fn is_pointwise(&self) -> bool {
        self.kh == 1 && self.kw == 1 && self.stride == 1 && self.pad == 0
    }
}

/// Unfolds one image (c, h, w) into `cols` (col_rows x col_cols); padding reads as zero.
pub fn im2col(g: &Geometry, img: &[f32], cols: &mut [f32]) {
    let npos = g.col_cols();
    for (r, row) in cols.chunks_exact_mut(npos.max(1)).take(g.col_rows()).enumerate() {
        unfold(g, img, r, 0, row);
    }
}

/// Writes the entries of row `r` of the image's unfolding for output positions `first..first +
/// out.len()` into `out`: `im2col`'s row (`unfold_panels` packs the same runs for the implicit
/// GEMM, so the two agree bit for bit).
#[inline(always)]
pub fn unfold(g: &Geometry, img: &[f32], r: usize, first: usize, out: &mut [f32]) {
    runs(g, img, r, first, out.len(), &mut Line(out));
}

/// `unfold` of `len` positions from `first` into the packed GEMM's B panels, as row `p` of each
/// (panel q holds positions q·nr.. of the row at `dst[q·nr·kc + p·nr..]`, nr wide); columns past
/// `len` in the last panel are zeros. Output rows at least a panel wide are written in place,
/// each run cut at the panel edges; narrower ones (the digits CNN's 8 x 8) come in runs of a few
/// entries, cheaper to gather in an L1 line first and copy a panel width at a time.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
pub fn unfold_panels(g: &Geometry, img: &[f32], r: usize, first: usize, len: usize, nr: usize, kc: usize, p: usize, dst: &mut [f32]) {
    let mut panels = Panels { dst, nr, kc, p };
    if g.wo >= nr {
        runs(g, img, r, first, len, &mut panels);
    } else {
        // A multiple of every panel width, so each part starts a panel.
        let mut line = [0f32; 256];
        for part in (0..len).step_by(line.len()) {
            let line = &mut line[..(len - part).min(256)];
            unfold(g, img, r, first + part, line);
            for (q, piece) in line.chunks(nr).enumerate() {
                let o = panels.at(part + q * nr);
                if piece.len() == nr {
                    // A length the compiler knows (nr is the kernel's constant): a few vector
                    // moves, not a call to memcpy per panel.
                    panels.dst[o..o + nr].copy_from_slice(piece);
                } else {
                    panels.dst[o..o + piece.len()].copy_from_slice(piece);
                }
            }
        }
    }
    if !len.is_multiple_of(nr) {
        let o = panels.at(len);
        panels.dst[o..o + nr - len % nr].fill(0.0);
    }
}

/// Where `runs` writes: each call fills entries `at..at + n` of the row with zeros (`src`
/// None) or src\[0\], src\[stride\], ... A trait with inlined methods rather than a closure, so
/// the writes are compiled into the caller (the packed GEMM's AVX2 loop), not called out of line.
trait Sink {
    fn run(&mut self, at: usize, n: usize, src: Option<&[f32]>, stride: usize);
}

/// A contiguous row.
struct Line<'a>(&'a mut [f32]);

impl Sink for Line<'_> {
    #[inline(always)]
    fn run(&mut self, at: usize, n: usize, src: Option<&[f32]>, stride: usize) {
        write_run(&mut self.0[at..at + n], src, stride);
    }
}

/// Row `p` of the nr-wide panels of a k block of kc rows.
struct Panels<'a> {
    dst: &'a mut [f32],
    nr: usize,
    kc: usize,
    p: usize,
}

impl Panels<'_> {
    /// The index of the row's entry `at`.
    #[inline(always)]
    fn at(&self, at: usize) -> usize {
        (at / self.nr) * self.nr * self.kc + self.p * self.nr + at % self.nr
    }
}

impl Sink for Panels<'_> {
    #[inline(always)]
    fn run(&mut self, at: usize, n: usize, src: Option<&[f32]>, stride: usize) {
        // Cut at the panel edges.
        let mut done = 0;
        while done < n {
            let piece = (self.nr - (at + done) % self.nr).min(n - done);
            let o = self.at(at + done);
            write_run(&mut self.dst[o..o + piece], src.map(|s| &s[done * stride..]), stride);
            done += piece;
        }
    }
}

/// Writes entries `0..len` of row `r` of the image's unfolding (positions `first..first + len`)
/// into `sink` as runs of padding and pixels. Each output row's in-image positions are found
/// once (`inside`), so the copies need no bounds checks per element.
#[inline(always)]
fn runs(g: &Geometry, img: &[f32], r: usize, first: usize, len: usize, sink: &mut impl Sink) {
    let (c, i, j) = (r / (g.kh * g.kw), r / g.kw % g.kh, r % g.kw);
    let plane = &img[c * g.h * g.w..(c + 1) * g.h * g.w];
    let cols_in = g.inside(j, g.w, g.wo);
    // The output position is divided once, then stepped row by row: a division per output row
    // cost as much as copying it (56 floats for ResNet's 56 x 56).
    let (mut oh, mut ow) = (first / g.wo, first % g.wo);
    let mut at = 0;
    while at < len {
        // Entries at..at + n hold positions ow..ow + n of output row oh.
        let n = (g.wo - ow).min(len - at);
        if let Some(ih) = g.source(oh, i, g.h) {
            let (lo, hi) = (cols_in.start.clamp(ow, ow + n), cols_in.end.clamp(ow, ow + n));
            let hi = hi.max(lo);
            if lo > ow {
                sink.run(at, lo - ow, None, g.stride);
            }
            if hi > lo {
                sink.run(at + lo - ow, hi - lo, Some(&plane[ih * g.w + lo * g.stride + j - g.pad..]), g.stride);
            }
            if ow + n > hi {
                sink.run(at + hi - ow, ow + n - hi, None, g.stride);
            }
        } else {
            sink.run(at, n, None, g.stride);
        }
        (at, oh, ow) = (at + n, oh + 1, 0);
    }
}

/// dst = zeros (`src` None), or src\[0\], src\[stride\], ...
#[inline(always)]
pub(crate) fn write_run(dst: &mut [f32], src: Option<&[f32]>, stride: usize) {
    let n = dst.len();
    match (src, stride) {
        (None, _) => put(dst, |_| [0.0; 8], |_| 0.0),
        (Some(s), 1) => {
            let s = &s[..n];
            put(dst, |i| s[i..i + 8].try_into().expect("8 values"), |i| s[i])
        }
        // Eight out of sixteen loaded values: a fixed-size pick the compiler turns into two
        // shuffles at any vector width (an iterator over `chunks(2)` stayed scalar, a sixth of
        // the stem convolution's time). The last eight read one value past the run's last.
        (Some(s), 2) if 2 * n <= s.len() => {
            let s = &s[..2 * n];
            let eight = |i: usize| {
                let v: &[f32; 16] = s[2 * i..2 * i + 16].try_into().expect("16 values");
                std::array::from_fn(|l| v[2 * l])
            };
            put(dst, eight, |i| s[2 * i])
        }
        (Some(s), _) => dst.iter_mut().zip(s.iter().step_by(stride)).for_each(|(d, &v)| *d = v),
    }
}

/// dst\[i\] = one(i) for every i, through `eight(i)` (= one(i..i + 8)) from 8 entries on, the
/// last eight overlapping the one before when 8 does not divide the length. Runs are short
/// (panel pieces of at most 16, a padding entry or two), so every write has a size the compiler
/// knows: no call to memcpy or memset per run.
#[inline(always)]
fn put(dst: &mut [f32], eight: impl Fn(usize) -> [f32; 8], one: impl Fn(usize) -> f32) {
    let n = dst.len();
    if n >= 8 {
        let mut i = 0;
        while i + 8 <= n {
            dst[i..i + 8].copy_from_slice(&eight(i));
            i += 8;
        }
        if i < n {
            dst[n - 8..].copy_from_slice(&eight(n - 8));
        }
        return;
    }
    let mut i = 0;
    for width in [4, 2, 1] {
        if n & width != 0 {
            (i..i + width).for_each(|k| dst[k] = one(k));
            i += width;
        }
    }
}

/// The adjoint of `im2col`: adds every entry of `cols` into the image position it was read from.
pub fn col2im(g: &Geometry, cols: &[f32], img: &mut [f32]) {
    let npos = g.col_cols();
    let mut rows = cols.chunks_exact(npos.max(1));
    for c in 0..g.c {
        let plane = &mut img[c * g.h * g.w..(c + 1) * g.h * g.w];
        for i in 0..g.kh {
            for j in 0..g.kw {
                let row = rows.next().expect("cols holds col_rows rows");
                let cols_in = g.inside(j, g.w, g.wo);
                if cols_in.is_empty() {
                    continue;
                }
                let first = cols_in.start * g.stride + j - g.pad;
                for oh in 0..g.ho {
                    let Some(ih) = g.source(oh, i, g.h) else { continue };
                    let dst = &mut plane[ih * g.w..(ih + 1) * g.w];
                    for (d, &v) in dst[first..].iter_mut().step_by(g.stride).zip(&row[oh * g.wo..(oh + 1) * g.wo][cols_in.clone()]) {
                        *d += v;
                    }
                }
            }
        }
    }
}

/// How many images run at once in `forward` / `backward_input`: one per thread when the images
/// are many or each one's product is too small to split (the digits CNN's 8 x 8 images), so the
/// unfolding is split too; else 1, and each image's GEMM is split across the pool instead (a
/// single 224 x 224 image).
pub fn image_tasks(g: &Geometry, n: usize, o: usize) -> usize {
    let threads = parallel::num_threads();
    let per_image = o.saturating_mul(g.col_rows()).saturating_mul(g.col_cols());
    if threads <= 1 || n < 2 || per_image.saturating_mul(n) < PARALLEL_MIN {
        return 1;
    }
    if n >= 2 * threads || per_image < PARALLEL_MIN {
        threads.min(n)
    } else {
        1
    }
}

/// Multiply-adds below which a convolution stays on the calling thread (as a GEMM does).
const PARALLEL_MIN: usize = 1 << 21;

/// Floats of scratch `backward_input` needs: one unfolded image per image task (none for a
/// pointwise convolution, whose image is its own unfolding); None on overflow.
pub fn scratch_len(g: &Geometry, tasks: usize) -> Option<usize> {
    if g.is_pointwise() {
        return Some(0);
    }
    g.col_rows().checked_mul(g.col_cols())?.checked_mul(tasks)
}

/// Runs `per_image(i, cols)` for every image i in 0..n, `tasks` images at a time, each task with
/// its own `len` floats of `scratch` (`len * tasks` floats).
fn each_image(n: usize, tasks: usize, len: usize, scratch: &mut [f32], per_image: &(dyn Fn(usize, &mut [f32]) + Sync)) {
    if tasks <= 1 {
        (0..n).for_each(|i| per_image(i, &mut scratch[..len]));
        return;
    }
    let room = Disjoint::new(scratch);
    let per_task = n.div_ceil(tasks);
    parallel::for_each_chunk(tasks - 1, n.div_ceil(per_task), &|t| {
        // SAFETY: task t alone uses scratch part t.
        let cols = unsafe { room.range(t * len..(t + 1) * len) };
        (t * per_task..((t + 1) * per_task).min(n)).for_each(|i| per_image(i, cols));
    });
}

/// Whether `forward` runs the shifted layout's GEMM (`gemm_positions_split`) over Wᵀ packed in
/// the kernels' panels: when the layout pays and packing the weight (o x rows values) costs no
/// more than the packed unfolding's panels would (n x npos x rows): not for many channels on a
/// small image. The caller may then pass the pack from its cache (ops/packed_weights.rs).
pub fn uses_positions(g: &Geometry, n: usize, o: usize) -> bool {
    g.col_rows() > 0 && shifted::pays(g) && o <= n.saturating_mul(g.col_cols())
}

/// y = W · cols(x) (+ bias), through ReLU when `relu`, for x (n, c, h, w) and W (o, c·kh·kw) into
/// out (n, o, ho, wo), with `tasks = image_tasks(..)`. `packed` is Wᵀ (c·kh·kw x o) already in the
/// kernels' panels, if the caller has it; when `uses_positions` and it is None, W is packed here.
/// Each image's output comes from the same GEMM whatever the task split, so results do not depend
/// on the thread count.
#[allow(clippy::too_many_arguments)]
pub fn forward(
    g: &Geometry,
    n: usize,
    o: usize,
    x: &[f32],
    (w, packed): (&[f32], Option<&PackedB>),
    bias: Option<&[f32]>,
    relu: bool,
    tasks: usize,
    out: &mut [MaybeUninit<f32>],
) {
    let (rows, npos) = (g.col_rows(), g.col_cols());
    let (img, plane) = (g.c * g.h * g.w, o * npos);
    if rows == 0 {
        // An empty sum: the output is the bias (or zero).
        for (i, p) in out.chunks_exact_mut(npos.max(1)).take(n * o).enumerate() {
            let v = bias.map_or(0.0, |b| b[i % o]);
            p.fill(MaybeUninit::new(if relu && v < 0.0 { 0.0 } else { v }));
        }
        return;
    }
    let lhs = Mat { data: w, rs: rows, cs: 1 };
    assert!(w.len() >= o * rows, "conv::forward: the weight holds {} values, needs {}", w.len(), o * rows);
    assert!(packed.is_none_or(|p| p.dims() == (rows, o)), "conv::forward: the packed weight is not W's transpose");
    let packed_here = (packed.is_none() && uses_positions(g, n, o))
        // SAFETY: w holds o x rows values (asserted), read as its transpose.
        .then(|| unsafe { PackedB::new(isa(), rows, o, Operand { ptr: w.as_ptr(), rs: 1, cs: rows as isize }) })
        .flatten();
    let wt = packed.or(packed_here.as_ref());
    let outs = Disjoint::new(&mut out[..n * plane]);
    let per_image = |i: usize| {
        let image = &x[i * img..(i + 1) * img];
        // SAFETY: image i's output plane is written by its chunk alone.
        let y = unsafe { outs.range(i * plane..(i + 1) * plane) };
        let shifted = wt.and_then(|wt| Shifts::with(g, image, |s| gemm_positions_split(tasks == 1, s, wt, &mut *y, bias, relu)));
        if shifted.is_none() {
            gemm_unfolded_split(tasks == 1, o, g, image, y, lhs, bias, relu);
        }
    };
    if tasks <= 1 {
        (0..n).for_each(per_image);
    } else {
        // No scratch to share, so one chunk per image: a thread the shared machine slows down
        // takes fewer images instead of holding the others up with a fixed half of the batch.
        parallel::for_each_chunk(tasks - 1, n, &per_image);
    }
}

/// dx = col2im(Wᵀ · dy) per image, for dy (n, o, ho, wo), into dx (n, c, h, w) (zeroed by the
/// caller), with tasks and scratch as `forward`.
#[allow(clippy::too_many_arguments)]
pub fn backward_input(g: &Geometry, n: usize, o: usize, dy: &[f32], w: &[f32], tasks: usize, dx: &mut [f32], scratch: &mut [f32]) {
    let (rows, npos) = (g.col_rows(), g.col_cols());
    let (img, plane) = (g.c * g.h * g.w, o * npos);
    let w_t = Mat { data: w, rs: 1, cs: rows };
    let outs = Disjoint::new(&mut dx[..n * img]);
    each_image(n, tasks, scratch_len(g, 1).unwrap_or(0), scratch, &|i, cols| {
        let gi = Mat { data: &dy[i * plane..(i + 1) * plane], rs: npos, cs: 1 };
        // SAFETY: image i's gradient is written by its task alone.
        let dimg = unsafe { outs.range(i * img..(i + 1) * img) };
        if g.is_pointwise() {
            gemm_slices_split(tasks == 1, rows, npos, o, dimg, npos, false, w_t, gi);
        } else {
            gemm_slices_split(tasks == 1, rows, npos, o, cols, npos, false, w_t, gi);
            col2im(g, cols, dimg);
        }
    });
}

/// Images per task of `backward_weight` is fixed by the sizes alone, never by the thread count:
/// each group sums its images' products in order and the groups are then added in order, so the
/// weight gradient does not depend on the thread count. At most 8 groups.
pub fn weight_groups(g: &Geometry, n: usize, o: usize) -> usize {
    let per_image = o.saturating_mul(g.col_rows()).saturating_mul(g.col_cols());
    if n < 2 || per_image.saturating_mul(n) < PARALLEL_MIN {
        1
    } else {
        n.min(8)
    }
}

/// Floats of scratch `backward_weight` needs: a partial gradient per group after the first and an
/// unfolded image per group; None on overflow.
pub fn weight_scratch_len(g: &Geometry, o: usize, groups: usize) -> Option<usize> {
    let partials = o.checked_mul(g.col_rows())?.checked_mul(groups - 1)?;
    partials.checked_add(scratch_len(g, groups)?)
}

/// dW = Σ_i dy_i · cols(x_i)ᵀ over the n images, into dw (o, c·kh·kw), with
/// `groups = weight_groups(..)` and `weight_scratch_len(g, o, groups)` floats of scratch.
#[allow(clippy::too_many_arguments)]
pub fn backward_weight(g: &Geometry, n: usize, o: usize, dy: &[f32], x: &[f32], groups: usize, dw: &mut [f32], scratch: &mut [f32]) {
    let (rows, npos) = (g.col_rows(), g.col_cols());
    let (img, plane, wlen) = (g.c * g.h * g.w, o * npos, o * rows);
    let (partials, cols_room) = scratch.split_at_mut(wlen * (groups - 1));
    let col_len = scratch_len(g, 1).unwrap_or(0);
    let per_group = n.div_ceil(groups);
    let (dws, cols_room) = (Disjoint::new(partials), Disjoint::new(cols_room));
    let first = Disjoint::new(&mut dw[..wlen]);
    let group = |t: usize| {
        // SAFETY: group t alone uses its partial gradient (the caller's for group 0) and scratch.
        let (acc, cols) = unsafe {
            let acc = if t == 0 { first.range(0..wlen) } else { dws.range((t - 1) * wlen..t * wlen) };
            (acc, cols_room.range(t * col_len..(t + 1) * col_len))
        };
        for (j, i) in (t * per_group..((t + 1) * per_group).min(n)).enumerate() {
            let image = &x[i * img..(i + 1) * img];
            let cols_t = if g.is_pointwise() {
                Mat { data: image, rs: 1, cs: npos }
            } else {
                im2col(g, image, cols);
                Mat { data: cols, rs: 1, cs: npos }
            };
            let gi = Mat { data: &dy[i * plane..(i + 1) * plane], rs: npos, cs: 1 };
            gemm_slices_split(groups == 1, o, rows, npos, acc, rows, j > 0, gi, cols_t);
        }
    };
    let used = n.div_ceil(per_group);
    if groups == 1 {
        group(0);
    } else {
        parallel::for_each_chunk(parallel::num_threads() - 1, used, &group);
    }
    let (dw, partials) = (first, dws);
    // SAFETY: every task has finished; these are the only references.
    let (dw, partials) = unsafe { (dw.range(0..wlen), partials.range(0..wlen * (groups - 1))) };
    for p in partials.chunks_exact(wlen.max(1)).take(used - 1) {
        dw.iter_mut().zip(p).for_each(|(d, &v)| *d += v);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernels::simd::as_uninit;

    #[test]
    fn col2im_is_the_adjoint_of_im2col() {
        // <im2col(x), y> == <x, col2im(y)> for any x, y.
        let g = Geometry { c: 2, h: 4, w: 5, kh: 3, kw: 2, stride: 2, pad: 1, ho: 0, wo: 0 };
        let g = Geometry { ho: Geometry::out_size(4, 3, 2, 1).unwrap(), wo: Geometry::out_size(5, 2, 2, 1).unwrap(), ..g };
        let x: Vec<f32> = (0..g.c * g.h * g.w).map(|i| (i as f32 * 0.37).sin()).collect();
        let y: Vec<f32> = (0..g.col_rows() * g.col_cols()).map(|i| (i as f32 * 0.91).cos()).collect();
        let mut cols = vec![0f32; y.len()];
        im2col(&g, &x, &mut cols);
        let mut back = vec![0f32; x.len()];
        col2im(&g, &y, &mut back);
        let lhs: f32 = cols.iter().zip(&y).map(|(a, b)| a * b).sum();
        let rhs: f32 = x.iter().zip(&back).map(|(a, b)| a * b).sum();
        assert!((lhs - rhs).abs() < 1e-4, "{lhs} vs {rhs}");
    }

    #[test]
    fn im2col_reads_every_position_or_padding() {
        // Strides 1-3, paddings 0-3, kernels wider than the image with padding, narrow and wide
        // images: each entry is the pixel its definition names, or zero.
        for (stride, pad, kh, kw, h, w) in [
            (1, 0, 3, 3, 5, 6),
            (1, 1, 3, 3, 5, 6),
            (2, 3, 7, 7, 9, 8),
            (3, 2, 5, 4, 7, 7),
            (1, 3, 6, 7, 2, 3),
            (1, 1, 3, 3, 4, 40),
            (2, 3, 7, 7, 9, 45),
            (3, 1, 3, 3, 4, 70),
        ] {
            let (Some(ho), Some(wo)) = (Geometry::out_size(h, kh, stride, pad), Geometry::out_size(w, kw, stride, pad)) else { continue };
            let g = Geometry { c: 2, h, w, kh, kw, stride, pad, ho, wo };
            let x: Vec<f32> = (0..g.c * h * w).map(|i| i as f32 + 1.0).collect();
            let mut cols = vec![f32::NAN; g.col_rows() * g.col_cols()];
            im2col(&g, &x, &mut cols);
            for (r, row) in cols.chunks_exact(g.col_cols()).enumerate() {
                let (c, i, j) = (r / (kh * kw), r / kw % kh, r % kw);
                for (p, &v) in row.iter().enumerate() {
                    let (oh, ow) = (p / wo, p % wo);
                    let want = match (g.source(oh, i, h), g.source(ow, j, w)) {
                        (Some(ih), Some(iw)) => x[(c * h + ih) * w + iw],
                        _ => 0.0,
                    };
                    assert_eq!(v, want, "stride {stride} pad {pad} {kh}x{kw} on {h}x{w}: row {r}, position {p}");
                }
            }
        }
    }

    #[test]
    fn implicit_gemm_equals_im2col_then_gemm_bit_for_bit() {
        // Strides 1-3, paddings, output rows narrower and wider than a 16-column panel, with and
        // without bias and ReLU, against the materialised unfolding followed by the same GEMM,
        // through both of forward's paths: the shifted layout, and the packed unfolding for the
        // grids that would waste more than a quarter or for more channels than positions (both
        // asserted taken below).
        let mut paths = Vec::new();
        for (c, h, w, o, kh, kw, stride, pad) in [
            (3, 23, 22, 10, 7, 7, 2, 3),
            (5, 9, 40, 7, 3, 3, 1, 1),
            (2, 11, 13, 13, 5, 4, 3, 2),
            (4, 6, 7, 6, 1, 1, 1, 0),
            (1, 3, 3, 2, 3, 3, 1, 2),
            (2, 6, 7, 4, 5, 5, 1, 1),
            (3, 10, 10, 5, 7, 7, 2, 3),
            // Past NC = 512 columns: a second column block starts inside an output row.
            (3, 60, 61, 20, 7, 7, 2, 3),
            // Past KC = 256 rows of the unfolding (later k blocks add to the output), with a
            // whole 16-channel panel and a partial one.
            (32, 8, 20, 20, 3, 3, 1, 1),
            // A grid that pays, but 60 channels on 48 positions.
            (2, 4, 12, 60, 3, 3, 1, 1),
        ] {
            let (ho, wo) = (Geometry::out_size(h, kh, stride, pad).unwrap(), Geometry::out_size(w, kw, stride, pad).unwrap());
            let g = Geometry { c, h, w, kh, kw, stride, pad, ho, wo };
            paths.push(uses_positions(&g, 1, o));
            let x: Vec<f32> = (0..c * h * w).map(|i| (i as f32 * 0.37).sin()).collect();
            let wt: Vec<f32> = (0..o * g.col_rows()).map(|i| (i as f32 * 0.71).cos()).collect();
            let bias: Vec<f32> = (0..o).map(|i| i as f32 * 0.25 - 1.0).collect();
            for b in [None, Some(&bias[..])] {
                let mut cols = vec![0f32; g.col_rows() * g.col_cols()];
                im2col(&g, &x, &mut cols);
                let mut want: Vec<f32> = (0..o * g.col_cols()).map(|i| b.map_or(0.0, |b| b[i / g.col_cols()])).collect();
                let (lhs, rhs) = (Mat { data: &wt, rs: g.col_rows(), cs: 1 }, Mat { data: &cols, rs: g.col_cols(), cs: 1 });
                gemm_slices_split(false, o, g.col_cols(), g.col_rows(), &mut want, g.col_cols(), b.is_some(), lhs, rhs);
                // NaN where nothing was written: forward must write every value.
                let mut got = vec![f32::NAN; want.len()];
                forward(&g, 1, o, &x, (&wt, None), b, false, 1, as_uninit(&mut got));
                assert!(got.iter().zip(&want).all(|(p, q)| p.to_bits() == q.to_bits()), "{g:?} bias {}", b.is_some());
                // With Wᵀ packed by the caller (as ops/packed_weights.rs's cache does), the same.
                // SAFETY: wt holds o x col_rows values, read as its transpose.
                let packed =
                    unsafe { PackedB::new(isa(), g.col_rows(), o, Operand { ptr: wt.as_ptr(), rs: 1, cs: g.col_rows() as isize }) };
                got.fill(f32::NAN);
                forward(&g, 1, o, &x, (&wt, packed.as_ref()), b, false, 1, as_uninit(&mut got));
                assert!(got.iter().zip(&want).all(|(p, q)| p.to_bits() == q.to_bits()), "{g:?} bias {} packed", b.is_some());
                // ReLU in the epilogue (full and edge tiles) equals a pass over the output.
                forward(&g, 1, o, &x, (&wt, None), b, true, 1, as_uninit(&mut got));
                let relu = want.iter().map(|&v| if v < 0.0 { 0.0 } else { v });
                assert!(got.iter().zip(relu).all(|(p, q)| p.to_bits() == q.to_bits()), "{g:?} bias {} relu", b.is_some());
            }
        }
        assert!(paths.contains(&true) && paths.contains(&false), "both paths: {paths:?}");
    }

    #[test]
    fn output_size_follows_pytorch() {
        assert_eq!(Geometry::out_size(5, 3, 2, 1), Some(3));
        assert_eq!(Geometry::out_size(2, 3, 1, 0), None);
        assert_eq!(Geometry::out_size(2, 3, 1, 1), Some(2));
    }
}
