//! A convolution's image laid out so that every row of its unfolding is the same buffer read
//! from its own offset: the implicit GEMM then reads the unfolding in place, with no packing
//! (packing it was a quarter of ResNet's 3x3 convolution, since each unfolded value is used by
//! only `o` multiply-adds). The GEMM (packed_gemm.rs `gemm_positions`) takes the grid positions
//! as its rows: a tile broadcasts MR consecutive positions of one unfolding row, and loads the
//! packed weight's panel whole.
//!
//! The image is padded and split into stride x stride phases (those the kernel reads): phase
//! (a, b) holds padded pixel (s·y + a, s·x + b) at (y, x). Output (oh, ow) at kernel offset
//! (i, j) reads padded pixel (s·oh + i, s·ow + j), which is phase (i % s, j % s)'s pixel
//! (oh + i / s, ow + j / s). Number the output positions on a grid as wide as a phase row,
//! q = oh·wq + ow, and row (c, i, j) of the unfolding is `buf[offset(c, i, j) + q]`. The grid's
//! wq - wo extra positions per row are computed and dropped by the GEMM's store, so a layout is
//! made only when they are at most a quarter of the grid (the digits CNN's 8 x 8 images with a
//! 3 x 3 kernel, a fifth, still gain: packing cost them more), else the GEMM packs the unfolding.

use super::conv::{write_run, Geometry};
use super::room::with_room;
use std::cell::RefCell;

/// Floats past the phases that an edge tile of the GEMM may read (its positions past the grid's
/// last, computed and dropped): more than any tile's height.
const SLACK: usize = 64;

/// Floats of buffer a thread keeps between calls (16 MiB); a larger image's buffer is freed.
const KEEP: usize = 1 << 22;

/// The padded, phase-split image and the offset of each unfolding row.
#[derive(Default)]
pub struct Shifts {
    buf: Vec<f32>,
    offsets: Vec<isize>,
    /// Grid positions per output row (a phase row's width).
    wq: usize,
    /// The geometry laid out for (its image's size bounds every read).
    geo: Option<Geometry>,
}

thread_local! {
    /// Each thread's layout, reused call after call so the buffer is not mapped and faulted in
    /// afresh for every image.
    static SHIFTS: RefCell<Shifts> = RefCell::new(Shifts::default());
}

impl Shifts {
    /// Runs `f` with this thread's layout of `img` for `g`, or returns None (without calling
    /// `f`) when the room cannot be allocated. Any geometry can be laid out; whether it is
    /// worth it is the caller's call (`pays`).
    pub fn with<R>(g: &Geometry, img: &[f32], f: impl FnOnce(&Shifts) -> R) -> Option<R> {
        let wq = grid_len(g.wo, g.kw, g.stride);
        let hq = grid_len(g.ho, g.kh, g.stride);
        with_room(&SHIFTS, |shifts| {
            let out = shifts.fill(g, img, wq, hq).then(|| f(shifts));
            if shifts.buf.capacity() > KEEP {
                *shifts = Shifts::default();
            }
            out
        })
    }

    /// Lays `img` out for `g` with a grid wq wide and phases hq tall; false when the room cannot
    /// be allocated.
    fn fill(&mut self, g: &Geometry, img: &[f32], wq: usize, hq: usize) -> bool {
        let s = g.stride;
        // Only phases some kernel offset reads: a stride beyond the kernel (a 1 x 1 stride-2
        // shortcut) skips the rest.
        let (pa, pb) = (s.min(g.kh), s.min(g.kw));
        let Some(phase) = g.c.checked_mul(hq).and_then(|v| v.checked_mul(wq)) else { return false };
        let Some(len) = phase.checked_mul(pa * pb).and_then(|v| v.checked_add(SLACK)) else { return false };
        self.buf.clear();
        self.offsets.clear();
        self.geo = None;
        if self.buf.try_reserve(len).is_err() || self.offsets.try_reserve(g.col_rows()).is_err() {
            return false;
        }
        (self.wq, self.geo) = (wq, Some(*g));
        for (a, b) in (0..pa).flat_map(|a| (0..pb).map(move |b| (a, b))) {
            // The phase row's x whose padded column s·x + b lies in the image.
            let cols_in = g.inside(b, g.w, wq);
            for c in 0..g.c {
                let plane = &img[c * g.h * g.w..(c + 1) * g.h * g.w];
                for y in 0..hq {
                    let Some(r) = (s * y + a).checked_sub(g.pad).filter(|&r| r < g.h) else {
                        self.buf.resize(self.buf.len() + wq, 0.0);
                        continue;
                    };
                    let start = self.buf.len();
                    self.buf.resize(start + wq, 0.0);
                    // The pixels through conv's run copy (stride 2 eight at a time: an iterator
                    // stepping by 2 was a tenth of the stem's time, on the calling thread alone).
                    let pixels = &mut self.buf[start + cols_in.start..start + cols_in.end];
                    write_run(pixels, Some(&plane[r * g.w + cols_in.start * s + b - g.pad..]), s);
                }
            }
        }
        self.buf.resize(len, 0.0);
        for c in 0..g.c {
            for i in 0..g.kh {
                for j in 0..g.kw {
                    let at = ((i % s) * pb + j % s) * phase + c * hq * wq + (i / s) * wq + j / s;
                    self.offsets.push(at as isize);
                }
            }
        }
        true
    }

    /// The buffer, the offset of each unfolding row (k of them), and the grid's width: row r's
    /// position q is `ptr[offsets[r] + q]`, for q up to the grid's last position plus SLACK.
    pub fn parts(&self) -> (*const f32, *const isize, usize) {
        (self.buf.as_ptr(), self.offsets.as_ptr(), self.wq)
    }

    /// The geometry laid out (None before a successful `fill`).
    pub fn geometry(&self) -> Option<Geometry> {
        self.geo
    }

    /// Grid positions: (ho - 1) rows of wq, then the last row's wo.
    pub fn positions(&self) -> usize {
        self.geo.map_or(0, |g| (g.ho - 1) * self.wq + g.wo)
    }
}

/// Whether the grid's extra columns are at most a quarter of it.
pub fn pays(g: &Geometry) -> bool {
    let wq = grid_len(g.wo, g.kw, g.stride);
    (wq - g.wo) * 4 <= wq
}

/// Phase rows (or columns) the grid needs: out positions plus the kernel's reach in phase units.
fn grid_len(out: usize, kernel: usize, stride: usize) -> usize {
    out - 1 + (kernel - 1) / stride + 1
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernels::conv::unfold;

    #[test]
    fn every_row_read_from_its_offset_is_the_unfolding() {
        // Strides 1-3 with padding, strides beyond the kernel (1 x 1 at 2, 3 x 2 at 3: phases no
        // offset reads are left out), and a shape whose grid wastes too much (laid out all the
        // same: `pays` is the caller's decision, not the layout's).
        for (c, h, w, kh, kw, stride, pad) in [
            (3, 23, 22, 7, 7, 2, 3),
            (5, 9, 40, 3, 3, 1, 1),
            (2, 31, 33, 5, 4, 3, 2),
            (1, 8, 8, 3, 3, 1, 1),
            (2, 6, 7, 5, 5, 1, 1),
            (4, 14, 15, 1, 1, 2, 0),
            (2, 17, 16, 3, 2, 3, 1),
        ] {
            let (ho, wo) = (Geometry::out_size(h, kh, stride, pad).unwrap(), Geometry::out_size(w, kw, stride, pad).unwrap());
            let g = Geometry { c, h, w, kh, kw, stride, pad, ho, wo };
            let x: Vec<f32> = (0..c * h * w).map(|i| (i as f32 * 0.37).sin()).collect();
            let checked = Shifts::with(&g, &x, |s| {
                let (ptr, offsets, wq) = s.parts();
                let mut row = vec![0f32; g.col_cols()];
                for r in 0..g.col_rows() {
                    unfold(&g, &x, r, 0, &mut row);
                    for (p, &want) in row.iter().enumerate() {
                        let q = p / wo * wq + p % wo;
                        // SAFETY: parts() promises every grid position of every row.
                        let got = unsafe { *ptr.offset(*offsets.add(r) + q as isize) };
                        assert_eq!(got.to_bits(), want.to_bits(), "{g:?} row {r} position {p}");
                    }
                }
                // The furthest read: the last offset's last tile, 8 positions tall (AVX-512), from the last position.
                // SAFETY: offsets holds col_rows values.
                let last = (0..g.col_rows()).map(|r| unsafe { *offsets.add(r) }).max().unwrap() as usize;
                assert!(last + s.positions() - 1 + 8 <= s.buf.len(), "{g:?}");
            });
            assert!(checked.is_some(), "{g:?}: the layout's room could not be allocated");
        }
        let wasteful = |kw| Geometry { c: 1, h: 6, w: 7, kh: 5, kw, stride: 1, pad: 1, ho: 4, wo: 7 + 3 - kw };
        assert!(!pays(&wasteful(5)) && pays(&wasteful(1)));
    }
}
