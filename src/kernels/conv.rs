//! im2col / col2im for 2-D convolution, so that the convolution itself is one GEMM per image.
//! cols has one row per (channel, kernel row, kernel column) and one column per output position.

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

    /// True when cols equals the image itself (1x1 kernel, stride 1, no padding).
    pub fn is_pointwise(&self) -> bool {
        self.kh == 1 && self.kw == 1 && self.stride == 1 && self.pad == 0
    }
}

/// Unfolds one image (c, h, w) into `cols` (col_rows x col_cols); padding reads as zero.
pub fn im2col(g: &Geometry, img: &[f32], cols: &mut [f32]) {
    let npos = g.col_cols();
    let mut rows = cols.chunks_exact_mut(npos.max(1));
    for c in 0..g.c {
        let plane = &img[c * g.h * g.w..(c + 1) * g.h * g.w];
        for i in 0..g.kh {
            for j in 0..g.kw {
                let row = rows.next().expect("cols holds col_rows rows");
                for oh in 0..g.ho {
                    let dst = &mut row[oh * g.wo..(oh + 1) * g.wo];
                    match g.source(oh, i, g.h) {
                        None => dst.fill(0.0),
                        Some(ih) => {
                            let src = &plane[ih * g.w..(ih + 1) * g.w];
                            for (ow, d) in dst.iter_mut().enumerate() {
                                *d = g.source(ow, j, g.w).map_or(0.0, |iw| src[iw]);
                            }
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
                for oh in 0..g.ho {
                    let Some(ih) = g.source(oh, i, g.h) else { continue };
                    let dst = &mut plane[ih * g.w..(ih + 1) * g.w];
                    for (ow, &v) in row[oh * g.wo..(oh + 1) * g.wo].iter().enumerate() {
                        if let Some(iw) = g.source(ow, j, g.w) {
                            dst[iw] += v;
                        }
                    }
                }
            }
        }
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
    fn output_size_follows_pytorch() {
        assert_eq!(Geometry::out_size(5, 3, 2, 1), Some(3));
        assert_eq!(Geometry::out_size(2, 3, 1, 0), None);
        assert_eq!(Geometry::out_size(2, 3, 1, 1), Some(2));
    }
}
