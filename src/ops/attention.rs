//! scaled_dot_product_attention (F.scaled_dot_product_attention): validation, the broadcast plan
//! (shared with backward), and recording. The kernel is kernels/attention.rs.
//!
//! q (..., L, E), k (..., S, E) and v (..., S, Ev) are read in place through their strides
//! (transposed views included); their leading dims broadcast as torch.matmul's do, after the head
//! dim (-3) of k and v is repeated Hq / Hk times under enable_gqa (repeat_interleave: query head h
//! reads k/v head h / group).

use super::raw;
use super::record::Recorder;
use crate::autograd::functions::attention::AttentionBackward;
use crate::compute::attention::Plan;
use crate::error::{bail, Result};
use crate::kernels::attention::{self as kernel, Dropout};
use crate::rng::with_rng;
use crate::shape::numel;
use crate::storage::{try_with_capacity, DType};
use crate::tensor::Tensor;
use rand::Rng;

const OP: &str = "scaled_dot_product_attention";

/// F.scaled_dot_product_attention(q, k, v, attn_mask, dropout_p, is_causal, scale, enable_gqa);
/// `scale` 0 means 1 / sqrt(E).
#[allow(clippy::too_many_arguments)]
pub fn scaled_dot_product_attention(
    q: &Tensor,
    k: &Tensor,
    v: &Tensor,
    mask: Option<&Tensor>,
    dropout_p: f64,
    is_causal: bool,
    scale: f64,
    enable_gqa: bool,
) -> Result<Tensor> {
    q.expect_dtype(DType::F32, "q")?;
    k.expect_dtype(DType::F32, "k")?;
    v.expect_dtype(DType::F32, "v")?;
    if let Some(m) = mask {
        if !matches!(m.dtype(), DType::F32 | DType::Bool) {
            bail!(Dtype, "{OP}: attn_mask is {}; pass a BOOL mask (true = may attend) or an F32 one (added to the scores)", m.describe());
        }
    }
    if !(0.0..1.0).contains(&dropout_p) {
        bail!(InvalidArgument, "{OP}: dropout_p is {dropout_p}; it must be in [0, 1) (0 for inference)");
    }
    if !scale.is_finite() {
        bail!(InvalidArgument, "{OP}: scale is {scale}; pass a finite value, or 0 for 1/sqrt(E)");
    }
    if is_causal && mask.is_some() {
        bail!(InvalidArgument, "{OP}: is_causal and attn_mask were both given; pass one (a causal mask as attn_mask, or is_causal alone)");
    }
    let plan = Plan::new(q, k, v, mask, enable_gqa)?;
    let scale = if scale == 0.0 { 1.0 / (plan.e as f64).sqrt() } else { scale } as f32;

    let inputs: Vec<&Tensor> = [Some(q), Some(k), Some(v), mask].into_iter().flatten().collect();
    let rec = Recorder::new(&inputs)?;
    let name = "ScaledDotProductFlashAttentionBackward";
    let mut saved = Vec::with_capacity(6);
    for t in &inputs {
        saved.push(rec.save(t, name)?);
    }
    let (n, rows) = (numel(&plan.shape(plan.l, plan.ev, false)), plan.heads() * plan.l);
    let mut out = try_with_capacity::<f32>(n)?;
    let mut lse = if rec.active() { Some(try_with_capacity::<f32>(rows)?) } else { None };
    let dropout = (dropout_p > 0.0).then(|| Dropout { p: dropout_p as f32, seed: with_rng(|r| r.random::<u64>()) });
    let lse_room = lse.as_mut().map(|l| &mut l.spare_capacity_mut()[..rows]);
    kernel::forward(&plan.problem((q, k, v), mask, is_causal, scale, dropout), &mut out.spare_capacity_mut()[..n], lse_room)?;
    // SAFETY: forward succeeded, so it wrote every value of out and of lse (an error returned above
    // with both still empty).
    unsafe {
        out.set_len(n);
        if let Some(l) = &mut lse {
            l.set_len(rows);
        }
    }
    let out = raw::from_vec(out, &plan.shape(plan.l, plan.ev, false), rec.inference());
    if let Some(lse) = lse {
        saved.push(rec.save(&out, name)?);
        saved.push(rec.save(&raw::from_vec(lse, &[plan.heads() * plan.l], false), name)?);
    }
    let needs = [rec.needs_grad(0), rec.needs_grad(1), rec.needs_grad(2), mask.is_some() && rec.needs_grad(3)];
    let backward = AttentionBackward { causal: is_causal, scale, gqa: enable_gqa, dropout, has_mask: mask.is_some(), needs };
    Ok(rec.finish(out, || Box::new(backward), saved))
}
