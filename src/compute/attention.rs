//! The attention plan forward and backward share: q, k, v and the mask validated, and where each
//! (batch, head) matrix of every operand starts once broadcast (enable_gqa's head groups
//! included), so the kernel reads them in place through their strides.

use crate::error::{bail, Result};
use crate::kernels::attention::{Dropout, Mask, Problem, Strided};
use crate::layout::Layout;
use crate::shape::{broadcast_shapes, check_bounded, fmt_shape, numel, Dims};
use crate::storage::{try_collect, DType};
use crate::tensor::Tensor;

const OP: &str = "scaled_dot_product_attention";

/// Where each matrix of an operand starts, once broadcast: one offset per flattened leading index.
pub struct Operand {
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
pub struct Plan {
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
