//! 2-D max pooling over (N, C, H, W) without padding.

use super::raw;
use super::record::Recorder;
use crate::autograd::functions::pool::MaxPool2dBackward;
use crate::error::{bail, Result};
use crate::kernels::pool::{max_forward, Pool};
use crate::shape::{fmt_shape, size_arg};
use crate::storage::{try_with_capacity, try_written, DType};
use crate::tensor::Tensor;

/// stride 0 means stride = kernel_size (PyTorch's default).
pub fn max_pool2d(x: &Tensor, kernel_size: i64, stride: i64) -> Result<Tensor> {
    x.expect_dtype(DType::F32, "input")?;
    let k = size_arg(kernel_size, 1, "max_pool2d: kernel_size")?;
    let stride = match size_arg(stride, 0, "max_pool2d: stride")? {
        0 => k,
        s => s,
    };
    if x.ndim() != 4 {
        bail!(Shape, "max_pool2d: input must be 4-D (N, C, H, W), got shape {}", fmt_shape(x.shape()));
    }
    let (h, w) = (x.shape()[2], x.shape()[3]);
    if h < k || w < k {
        bail!(
            Shape,
            "max_pool2d: the {k}x{k} window does not fit the {h}x{w} input of shape {}; use a smaller kernel_size",
            fmt_shape(x.shape())
        );
    }
    let p = Pool { h, w, k, stride, ho: (h - k) / stride + 1, wo: (w - k) / stride + 1 };
    let planes = x.shape()[0] * x.shape()[1];
    let rec = Recorder::new(&[x])?;
    let n_out = planes * p.ho * p.wo;
    let xd = x.try_data::<f32>()?;
    // The argmax positions are what backward routes the gradient to; kept only when recording.
    let mut argmax = if rec.active() { Some(try_with_capacity::<i64>(n_out)?) } else { None };
    let room = argmax.as_mut().map(|a| &mut a.spare_capacity_mut()[..n_out]);
    // SAFETY: max_forward writes every value of out, and of argmax's room when given.
    let out = unsafe { try_written(n_out, |o| max_forward(&p, &xd, o, room))? };
    if let Some(a) = &mut argmax {
        // SAFETY: max_forward wrote all n_out values (above).
        unsafe { a.set_len(n_out) };
    }
    let shape = [x.shape()[0], x.shape()[1], p.ho, p.wo];
    let out = raw::from_vec(out, &shape, rec.inference());
    let saved = match argmax {
        Some(a) => vec![rec.save(&raw::from_vec(a, &shape, false), "MaxPool2DWithIndicesBackward")?],
        None => vec![],
    };
    let in_shape = x.shape().into();
    Ok(rec.finish(out, || Box::new(MaxPool2dBackward { pool: p, in_shape }), saved))
}
