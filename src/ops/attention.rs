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
use crate::error::{bail, Result};
use crate::kernels::attention::{self as kernel, Dropout, Mask, Problem, Strided};
use crate::layout::Layout;
use crate::rng::with_rng;
use crate::shape::{broadcast_shapes, check_bounded, fmt_shape, numel, Dims};
use crate::storage::{try_collect, try_filled, DType};
use crate::tensor::Tensor;
use rand::Rng;

const OP: &str = "scaled_dot_product_attention";

/// Where each matrix of an operand starts, once broadcast: one offset per flattened leading index.
pub(crate) struct Operand {
    offsets: Vec<usize>,
    rs: usize,
    cs: usize,
}

impl Operand {
    /// `t`'s layout broadcast to `prefix` ++ [rows, cols] (validated by the caller).
    fn new(t: &Tensor, prefix: &[usize], rows: usize, cols: usize) -> Result<Operand> {
        let mut full: Dims = prefix.into();
        full.extend([rows, cols]);
        let l = t.layout().expand(&full);
        let n = prefix.len();
        let lead = Layout { shape: prefix.into(), strides: l.strides[..n].into(), offset: l.offset };
        Ok(Operand { offsets: try_collect(numel(prefix), lead.offsets())?, rs: l.strides[n], cs: l.strides[n + 1] })
    }

    fn strided<'a, T: crate::storage::Element>(&'a self, t: &'a Tensor) -> Strided<'a, T> {
        Strided { data: t.storage().slice::<T>(), offsets: &self.offsets, rs: self.rs, cs: self.cs }
    }
}

/// The validated shapes of one call and its operands' offsets.
pub(crate) struct Plan {
    /// Leading dims of the output (the batch dims and the query heads).
    pub prefix: Dims,
    /// Query heads per k/v head (1 without grouping).
    pub group: usize,
    pub l: usize,
    pub s: usize,
    pub e: usize,
    pub ev: usize,
    q: Operand,
    k: Operand,
    v: Operand,
    mask: Option<Operand>,
}

fn lead(t: &Tensor) -> &[usize] {
    &t.shape()[..t.ndim() - 2]
}

/// The number of query heads per k/v head under enable_gqa (1 when the heads already match).
fn group_size(q: &Tensor, k: &Tensor, v: &Tensor) -> Result<usize> {
    if q.ndim() < 3 || k.ndim() < 3 || v.ndim() < 3 {
        bail!(Shape, "{OP}: enable_gqa groups the head dim (-3), but q, k and v have {}, {} and {} dims; pass (..., heads, len, dim) tensors or set enable_gqa false", q.ndim(), k.ndim(), v.ndim());
    }
    let (hq, hk, hv) = (q.shape()[q.ndim() - 3], k.shape()[k.ndim() - 3], v.shape()[v.ndim() - 3]);
    if hk != hv || hk == 0 || hq % hk != 0 {
        bail!(Shape, "{OP}: enable_gqa needs k and v with the same number of heads dividing q's, but q has {hq}, k {hk} and v {hv}; use a k/v head count that divides the query head count");
    }
    Ok(hq / hk)
}

impl Plan {
    pub(crate) fn new(q: &Tensor, k: &Tensor, v: &Tensor, mask: Option<&Tensor>, gqa: bool) -> Result<Plan> {
        for (t, name) in [(q, "q"), (k, "k"), (v, "v")] {
            if t.ndim() < 2 {
                bail!(Shape, "{OP}: {name} has shape {}; it needs at least 2 dims (..., len, dim)", fmt_shape(t.shape()));
            }
        }
        let (l, e) = (q.shape()[q.ndim() - 2], q.shape()[q.ndim() - 1]);
        let (s, ek) = (k.shape()[k.ndim() - 2], k.shape()[k.ndim() - 1]);
        let (sv, ev) = (v.shape()[v.ndim() - 2], v.shape()[v.ndim() - 1]);
        if ek != e || sv != s {
            bail!(Shape, "{OP}: q {}, k {} and v {} do not fit (..., L, E), (..., S, E), (..., S, Ev); q and k need the same last dim, k and v the same second-to-last", fmt_shape(q.shape()), fmt_shape(k.shape()), fmt_shape(v.shape()));
        }
        let group = if gqa { group_size(q, k, v)? } else { 1 };
        // k and v as if their heads were repeated `group` times.
        let repeated = |t: &Tensor| -> Dims {
            let mut p: Dims = lead(t).into();
            if let Some(h) = p.last_mut() {
                *h *= group;
            }
            p
        };
        let prefix = broadcast_shapes(lead(q), &repeated(k)).and_then(|p| broadcast_shapes(&p, &repeated(v)));
        let Some(prefix) = prefix else {
            let hint = if gqa { "" } else { "; for fewer k/v heads than query heads set enable_gqa" };
            bail!(
                Shape,
                "{OP}: the leading dims of q {}, k {} and v {} do not broadcast{hint}",
                fmt_shape(q.shape()),
                fmt_shape(k.shape()),
                fmt_shape(v.shape())
            );
        };
        let mut out_shape = prefix.clone();
        out_shape.extend([l, ev]);
        check_bounded(&out_shape, OP)?;
        let mut kv_prefix = prefix.clone();
        if let Some(h) = kv_prefix.last_mut() {
            *h /= group;
        }
        let mask = match mask {
            Some(m) => {
                let mut full = prefix.clone();
                full.extend([l, s]);
                if broadcast_shapes(m.shape(), &full).as_deref() != Some(&full[..]) {
                    bail!(
                        Shape,
                        "{OP}: attn_mask of shape {} does not broadcast to the scores' shape {}",
                        fmt_shape(m.shape()),
                        fmt_shape(&full)
                    );
                }
                check_bounded(&full, OP)?;
                Some(Operand::new(m, &prefix, l, s)?)
            }
            None => None,
        };
        Ok(Plan {
            q: Operand::new(q, &prefix, l, e)?,
            k: Operand::new(k, &kv_prefix, s, e)?,
            v: Operand::new(v, &kv_prefix, s, ev)?,
            mask,
            prefix,
            group,
            l,
            s,
            e,
            ev,
        })
    }

    pub(crate) fn heads(&self) -> usize {
        numel(&self.prefix)
    }

    /// The output's (or a gradient's) shape: prefix ++ [rows, cols], with the head dim divided
    /// by the group for k/v gradients.
    pub(crate) fn shape(&self, rows: usize, cols: usize, kv: bool) -> Dims {
        let mut s = self.prefix.clone();
        if let (true, Some(h)) = (kv, s.last_mut()) {
            *h /= self.group;
        }
        s.extend([rows, cols]);
        s
    }

    pub(crate) fn problem<'a>(
        &'a self,
        (q, k, v): (&'a Tensor, &'a Tensor, &'a Tensor),
        mask: Option<&'a Tensor>,
        causal: bool,
        scale: f32,
        dropout: Option<Dropout>,
    ) -> Problem<'a> {
        let mask = mask.zip(self.mask.as_ref()).map(|(m, o)| match m.dtype() {
            DType::Bool => Mask::Allow(o.strided(m)),
            _ => Mask::Add(o.strided(m)),
        });
        Problem {
            heads: self.heads(),
            group: self.group,
            l: self.l,
            s: self.s,
            e: self.e,
            ev: self.ev,
            q: self.q.strided(q),
            k: self.k.strided(k),
            v: self.v.strided(v),
            mask,
            causal,
            scale,
            dropout,
        }
    }
}

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
    let mut out = try_filled(numel(&plan.shape(plan.l, plan.ev, false)), 0f32)?;
    let mut lse = if rec.active() { Some(try_filled(plan.heads() * plan.l, 0f32)?) } else { None };
    let dropout = (dropout_p > 0.0).then(|| Dropout { p: dropout_p as f32, seed: with_rng(|r| r.random::<u64>()) });
    kernel::forward(&plan.problem((q, k, v), mask, is_causal, scale, dropout), &mut out, lse.as_deref_mut())?;
    let out = raw::from_vec(out, &plan.shape(plan.l, plan.ev, false), rec.inference());
    if let Some(lse) = lse {
        saved.push(rec.save(&out, name)?);
        saved.push(rec.save(&raw::from_vec(lse, &[plan.heads() * plan.l], false), name)?);
    }
    let needs = [rec.needs_grad(0), rec.needs_grad(1), rec.needs_grad(2), mask.is_some() && rec.needs_grad(3)];
    let backward = AttentionBackward { causal: is_causal, scale, gqa: enable_gqa, dropout, has_mask: mask.is_some(), needs };
    Ok(rec.finish(out, || Box::new(backward), saved))
}
