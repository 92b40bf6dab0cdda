//! 2-D convolution (no groups or dilation): one implicit GEMM per image (kernels/conv.rs).

use super::packed_weights::packed_conv_weight;
use super::raw;
use super::record::Recorder;
use crate::autograd::functions::conv::Conv2dBackward;
use crate::error::{bail, Result};
use crate::kernels::conv::{self, Geometry};
use crate::kernels::packed_gemm::PackedB;
use crate::shape::{fmt_shape, size_arg};
use crate::storage::{try_written, DType};
use crate::tensor::Tensor;

/// The conv geometry of x (N, C, H, W) and w (O, C, kh, kw), validated.
fn geometry(x: &Tensor, w: &Tensor, stride: usize, pad: usize) -> Result<Geometry> {
    if x.ndim() != 4 {
        bail!(
            Shape,
            "conv2d: input must be 4-D (N, C, H, W), got shape {}; unsqueeze a single image to add the batch dim",
            fmt_shape(x.shape())
        );
    }
    if w.ndim() != 4 {
        bail!(Shape, "conv2d: weight must be 4-D (out_channels, in_channels, kh, kw), got shape {}", fmt_shape(w.shape()));
    }
    let (xs, ws) = (x.shape(), w.shape());
    if xs[1] != ws[1] {
        bail!(
            Shape,
            "conv2d: input has {} channels (shape {}) but weight expects {} (shape {})",
            xs[1],
            fmt_shape(xs),
            ws[1],
            fmt_shape(ws)
        );
    }
    let (ho, wo) = match (Geometry::out_size(xs[2], ws[2], stride, pad), Geometry::out_size(xs[3], ws[3], stride, pad)) {
        (Some(ho), Some(wo)) => (ho, wo),
        _ => bail!(
            Shape,
            "conv2d: the {}x{} kernel does not fit the {}x{} input with padding {pad}; use a smaller kernel or more padding",
            ws[2],
            ws[3],
            xs[2],
            xs[3]
        ),
    };
    let g = Geometry { c: xs[1], h: xs[2], w: xs[3], kh: ws[2], kw: ws[3], stride, pad, ho, wo };
    // Every buffer the forward and backward allocate: cols, the output, the input gradient.
    let npos = ho.checked_mul(wo);
    let col_rows = g.c.checked_mul(g.kh).and_then(|v| v.checked_mul(g.kw));
    let sizes = [
        col_rows.zip(npos).and_then(|(r, p)| r.checked_mul(p)),
        npos.and_then(|p| p.checked_mul(xs[0])).and_then(|v| v.checked_mul(ws[0])),
    ];
    if sizes.iter().any(|s| s.is_none_or(|s| s > isize::MAX as usize / 8)) {
        bail!(OutOfMemory, "conv2d: input {} with weight {} needs buffers larger than can be allocated", fmt_shape(xs), fmt_shape(ws));
    }
    Ok(g)
}

/// y\[n\] = W (O x C*kh*kw) cols(x\[n\]) + b, for x (N, C, H, W) -> y (N, O, Ho, Wo).
pub fn conv2d(x: &Tensor, w: &Tensor, b: Option<&Tensor>, stride: i64, padding: i64) -> Result<Tensor> {
    conv2d_relu(x, w, b, stride, padding, false).map(|(y, _)| y)
}

/// `conv2d`, with ReLU applied in the GEMM's epilogue when `relu` and no graph is recorded (a
/// recorded ReLU needs its own node); returns the output and whether ReLU was applied.
pub(crate) fn conv2d_relu(x: &Tensor, w: &Tensor, b: Option<&Tensor>, stride: i64, padding: i64, relu: bool) -> Result<(Tensor, bool)> {
    x.expect_dtype(DType::F32, "input")?;
    w.expect_dtype(DType::F32, "weight")?;
    if let Some(b) = b {
        b.expect_dtype(DType::F32, "bias")?;
    }
    let stride = size_arg(stride, 1, "conv2d: stride")?;
    let pad = size_arg(padding, 0, "conv2d: padding")?;
    let geo = geometry(x, w, stride, pad)?;
    let (n, o) = (x.shape()[0], w.shape()[0]);
    if let Some(b) = b {
        if b.shape() != [o] {
            bail!(
                Shape,
                "conv2d: bias must have shape [{o}] (one per output channel of weight {}), got {}",
                fmt_shape(w.shape()),
                fmt_shape(b.shape())
            );
        }
    }
    let inputs: Vec<&Tensor> = [x, w].into_iter().chain(b).collect();
    let rec = Recorder::new(&inputs)?;
    let needs = [rec.needs_grad(0), rec.needs_grad(1), b.is_some() && rec.needs_grad(2)];
    let saved = vec![
        if needs[1] { rec.save(x, "ConvolutionBackward")? } else { None },
        if needs[0] { rec.save(w, "ConvolutionBackward")? } else { None },
    ];
    let relu = relu && !rec.active();
    let bias = b.map(|b| b.try_data::<f32>()).transpose()?;
    // Wᵀ packed once while the weight holds still (eval and inference), when the kernel's GEMM
    // takes it; else the kernel packs it per call, to the same bits.
    let kept = conv::uses_positions(&geo, n, o).then(|| packed_conv_weight(w)).flatten();
    let packed = kept.as_ref().map(|k| k.get());
    let out = forward(&geo, n, o, &x.try_data::<f32>()?, (&w.try_data::<f32>()?, packed), bias.as_deref(), relu)?;
    let out = raw::from_vec(out, &[n, o, geo.ho, geo.wo], rec.inference());
    Ok((rec.finish(out, || Box::new(Conv2dBackward { geo, n, o, needs }), saved), relu))
}

fn forward(
    geo: &Geometry,
    n: usize,
    o: usize,
    x: &[f32],
    w: (&[f32], Option<&PackedB>),
    b: Option<&[f32]>,
    relu: bool,
) -> Result<Vec<f32>> {
    // Room only (no zero fill on this thread first): the pool's threads fault fresh pages in as
    // they store their images.
    // SAFETY: conv::forward writes every value of its output.
    unsafe { try_written(n * o * geo.col_cols(), |out| conv::forward(geo, n, o, x, w, b, relu, conv::image_tasks(geo, n, o), out)) }
}
