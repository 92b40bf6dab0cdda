//! apply_rotary_emb: x cos + rotate_half(x) sin (Hugging Face's apply_rotary_pos_emb), fused;
//! cos and sin broadcast to x. Differentiable in x, cos and sin.

use super::raw;
use super::record::Recorder;
use crate::autograd::functions::rotary::RotaryBackward;
use crate::compute::rotary::rotate;
use crate::error::{bail, Result};
use crate::kernels::rotary::Pass;
use crate::shape::{broadcast_shapes, fmt_shape};
use crate::storage::DType;
use crate::tensor::Tensor;

const OP: &str = "apply_rotary_emb";

/// Rotary position embedding of `x` (rotate-half convention) with the given `cos` and `sin` tables.
pub fn apply_rotary_emb(x: &Tensor, cos: &Tensor, sin: &Tensor) -> Result<Tensor> {
    x.expect_dtype(DType::F32, "x")?;
    cos.expect_dtype(DType::F32, "cos")?;
    sin.expect_dtype(DType::F32, "sin")?;
    let Some(&d) = x.shape().last() else {
        bail!(Shape, "{OP}: x is 0-d; it needs a last dim of even size (..., head_dim)");
    };
    if d % 2 != 0 {
        bail!(
            Shape,
            "{OP}: x has shape {}, whose last dim {d} is odd; rotate_half splits it in two halves, so it must be even",
            fmt_shape(x.shape())
        );
    }
    for (t, name) in [(cos, "cos"), (sin, "sin")] {
        if broadcast_shapes(t.shape(), x.shape()).as_deref() != Some(x.shape()) {
            bail!(Shape, "{OP}: {name} of shape {} does not broadcast to x's shape {}", fmt_shape(t.shape()), fmt_shape(x.shape()));
        }
    }
    let rec = Recorder::new(&[x, cos, sin])?;
    let needs = [rec.needs_grad(0), rec.needs_grad(1), rec.needs_grad(2)];
    let trig = |t: &Tensor| if needs[0] { rec.save(t, "RotaryEmbBackward") } else { Ok(None) };
    let saved_x = if needs[1] || needs[2] { rec.save(x, "RotaryEmbBackward")? } else { None };
    let saved = vec![saved_x, trig(cos)?, trig(sin)?];
    let y = rotate(x, cos, sin, Pass::Forward)?;
    let out = raw::from_vec(y, x.shape(), rec.inference());
    let backward = RotaryBackward { needs, shape: x.shape().into(), cos: cos.shape().into(), sin: sin.shape().into() };
    Ok(rec.finish(out, || Box::new(backward), saved))
}
