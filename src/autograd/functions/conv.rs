//! Derivative of conv2d, through the same im2col + GEMM as the forward (kernels/conv.rs). Per
//! image n, with cols = im2col(x\[n\]) and G = dy\[n\] as (O, Ho*Wo):
//! dW += G cols^T; dx\[n\] = col2im(W^T G); db = sum of dy over n, h, w.

use crate::autograd::node::{saved_at, Backward};
use crate::compute::raw;
use crate::error::{bail, Result};
use crate::kernels::conv::{self, Geometry};
use crate::storage::{try_collect, try_filled};
use crate::tensor::Tensor;

/// Saved: [x (when dW is wanted), W (when dx is wanted)].
pub struct Conv2dBackward {
    pub geo: Geometry,
    pub n: usize,
    pub o: usize,
    pub needs: [bool; 3],
}

impl Backward for Conv2dBackward {
    fn name(&self) -> &'static str {
        "ConvolutionBackward"
    }

    fn apply(&self, g: &Tensor, saved: &[Option<Tensor>]) -> Result<Vec<Option<Tensor>>> {
        let (geo, n, o) = (&self.geo, self.n, self.o);
        let (rows, npos) = (geo.col_rows(), geo.col_cols());
        let img = geo.c * geo.h * geo.w;
        let gd = g.try_data::<f32>()?;

        let gw = if self.needs[1] {
            let x = saved_at(saved, 0).try_data::<f32>()?;
            let mut dw = try_filled(o * rows, 0f32)?;
            let groups = conv::weight_groups(geo, n, o);
            let len = conv::weight_scratch_len(geo, o, groups).filter(|&l| l <= isize::MAX as usize / 8);
            let Some(len) = len else {
                bail!(OutOfMemory, "conv2d backward: {groups} unfolded images of {rows} x {npos} values cannot be allocated");
            };
            let mut scratch = try_filled(len, 0f32)?;
            conv::backward_weight(geo, n, o, &gd, &x, groups, &mut dw, &mut scratch);
            Some(raw::from_vec(dw, &[o, geo.c, geo.kh, geo.kw], false))
        } else {
            None
        };

        let gx = if self.needs[0] {
            let w = saved_at(saved, 1).try_data::<f32>()?;
            let mut dx = try_filled(n * img, 0f32)?;
            let tasks = conv::image_tasks(geo, n, o);
            let mut scratch = try_filled(crate::compute::conv::scratch_len(geo, tasks)?, 0f32)?;
            conv::backward_input(geo, n, o, &gd, &w, tasks, &mut dx, &mut scratch);
            Some(raw::from_vec(dx, &[n, geo.c, geo.h, geo.w], false))
        } else {
            None
        };

        let gb = if self.needs[2] {
            let mut db = try_filled(o, 0f64)?;
            for (i, p) in gd.chunks_exact(npos.max(1)).enumerate().take(n * o) {
                db[i % o] += p.iter().map(|&v| v as f64).sum::<f64>();
            }
            Some(raw::from_vec(try_collect(o, db.into_iter().map(|v| v as f32))?, &[o], false))
        } else {
            None
        };
        Ok(vec![gx, gw, gb])
    }
}
