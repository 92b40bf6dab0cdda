//! im2col / col2im for 2-D convolution, so that the convolution itself is one GEMM per image.
//! cols has one row per (channel, kernel row, kernel column) and one column per output position.
//! `forward` and `backward_input` run the images on the pool, each task unfolding its own.

use super::gemm::{gemm_slices_split, Mat};
use crate::parallel::{self, Disjoint};

/// The geometry of one convolution (all sizes already validated).
#[derive(Clone, Copy, Debug)]
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
    fn inside(&self, k: usize, size: usize, out: usize) -> std::ops::Range<usize> {
        let lo = (self.pad.saturating_sub(k)).div_ceil(self.stride).min(out);
        let hi = (size + self.pad).saturating_sub(k).div_ceil(self.stride).min(out);
        lo..hi.max(lo)
    }

    /// True when cols equals the image itself (1x1 kernel, stride 1, no padding).
    pub fn is_pointwise(&self) -> bool {
        self.kh == 1 && self.kw == 1 && self.stride == 1 && self.pad == 0
    }
}

/// Unfolds one image (c, h, w) into `cols` (col_rows x col_cols); padding reads as zero. Each
/// row's in-image positions are found once (`inside`), so the copy itself has no bounds checks
/// per element, and stride 1 copies whole runs.
pub fn im2col(g: &Geometry, img: &[f32], cols: &mut [f32]) {
    let npos = g.col_cols();
    let mut rows = cols.chunks_exact_mut(npos.max(1));
    for c in 0..g.c {
        let plane = &img[c * g.h * g.w..(c + 1) * g.h * g.w];
        for i in 0..g.kh {
            for j in 0..g.kw {
                let row = rows.next().expect("cols holds col_rows rows");
                let cols_in = g.inside(j, g.w, g.wo);
                for oh in 0..g.ho {
                    let dst = &mut row[oh * g.wo..(oh + 1) * g.wo];
                    let Some(ih) = g.source(oh, i, g.h) else {
                        dst.fill(0.0);
                        continue;
                    };
                    let src = &plane[ih * g.w..(ih + 1) * g.w];
                    dst[..cols_in.start].fill(0.0);
                    dst[cols_in.end..].fill(0.0);
                    if cols_in.is_empty() {
                        continue;
                    }
                    let first = cols_in.start * g.stride + j - g.pad;
                    if g.stride == 1 {
                        dst[cols_in.clone()].copy_from_slice(&src[first..first + cols_in.len()]);
                    } else {
                        for (d, &v) in dst[cols_in.clone()].iter_mut().zip(src[first..].iter().step_by(g.stride)) {
                            *d = v;
                        }
                    }
                }
            }
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

/// Floats of scratch `forward` and `backward_input` need: one unfolded image per image task
/// (none for a pointwise convolution, whose image is its own unfolding); None on overflow.
pub fn scratch_len(g: &Geometry, tasks: usize) -> Option<usize> {
    if g.is_pointwise() {
        return Some(0);
    }
    g.col_rows().checked_mul(g.col_cols())?.checked_mul(tasks)
}

/// Runs `per_image(i, cols)` for every image i in 0..n, `tasks` images at a time, each task with
/// its own part of `scratch` (`scratch_len(g, tasks)` floats).
fn each_image(g: &Geometry, n: usize, tasks: usize, scratch: &mut [f32], per_image: &(dyn Fn(usize, &mut [f32]) + Sync)) {
    let len = scratch_len(g, 1).unwrap_or(0);
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

/// y = W · cols(x) (+ bias) for x (n, c, h, w) and W (o, c·kh·kw) into out (n, o, ho, wo), with
/// `tasks = image_tasks(..)` and `scratch_len(g, tasks)` floats of scratch. Each image's output
/// comes from the same GEMM whatever the task split, so results do not depend on the thread count.
#[allow(clippy::too_many_arguments)]
pub fn forward(
    g: &Geometry,
    n: usize,
    o: usize,
    x: &[f32],
    w: &[f32],
    bias: Option<&[f32]>,
    tasks: usize,
    out: &mut [f32],
    scratch: &mut [f32],
) {
    let (rows, npos) = (g.col_rows(), g.col_cols());
    let (img, plane) = (g.c * g.h * g.w, o * npos);
    if let Some(b) = bias {
        for (i, p) in out.chunks_exact_mut(npos.max(1)).take(n * o).enumerate() {
            p.fill(b[i % o]);
        }
    }
    let lhs = Mat { data: w, rs: rows, cs: 1 };
    let outs = Disjoint::new(&mut out[..n * plane]);
    each_image(g, n, tasks, scratch, &|i, cols| {
        let image = &x[i * img..(i + 1) * img];
        let rhs = if g.is_pointwise() {
            Mat { data: image, rs: npos, cs: 1 }
        } else {
            im2col(g, image, cols);
            Mat { data: cols, rs: npos, cs: 1 }
        };
        // SAFETY: image i's output plane is written by its task alone.
        let y = unsafe { outs.range(i * plane..(i + 1) * plane) };
        gemm_slices_split(tasks == 1, o, npos, rows, y, npos, bias.is_some(), lhs, rhs);
    });
}

/// dx = col2im(Wᵀ · dy) per image, for dy (n, o, ho, wo), into dx (n, c, h, w) (zeroed by the
/// caller), with tasks and scratch as `forward`.
#[allow(clippy::too_many_arguments)]
pub fn backward_input(g: &Geometry, n: usize, o: usize, dy: &[f32], w: &[f32], tasks: usize, dx: &mut [f32], scratch: &mut [f32]) {
    let (rows, npos) = (g.col_rows(), g.col_cols());
    let (img, plane) = (g.c * g.h * g.w, o * npos);
    let w_t = Mat { data: w, rs: 1, cs: rows };
    let outs = Disjoint::new(&mut dx[..n * img]);
    each_image(g, n, tasks, scratch, &|i, cols| {
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
        // Strides 1-3, paddings 0-3, kernels wider than the image with padding: each entry is the
        // pixel its definition names, or zero.
        for (stride, pad, kh, kw, h, w) in
            [(1, 0, 3, 3, 5, 6), (1, 1, 3, 3, 5, 6), (2, 3, 7, 7, 9, 8), (3, 2, 5, 4, 7, 7), (1, 3, 6, 7, 2, 3)]
        {
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
    fn output_size_follows_pytorch() {
        assert_eq!(Geometry::out_size(5, 3, 2, 1), Some(3));
        assert_eq!(Geometry::out_size(2, 3, 1, 0), None);
        assert_eq!(Geometry::out_size(2, 3, 1, 1), Some(2));
    }
}
