//! MultiheadAttention (nn.MultiheadAttention(embed_dim, num_heads, bias, batch_first), kdim = vdim
//! = embed_dim, need_weights = False): the packed in-projection, fused scaled dot-product attention
//! per head (ops::attention) and out_proj, with PyTorch's init and state_dict names.

use super::{Linear, Module, ModuleCore};
use crate::creation;
use crate::error::{bail, Result};
use crate::ops::{self, compare::Logical};
use crate::shape::fmt_shape;
use crate::storage::{try_filled, DType};
use crate::tensor::Tensor;
use std::sync::Arc;

/// `MultiheadAttention` (self- or cross-attention) with PyTorch's packed input projection.
pub struct MultiheadAttention {
    /// The packed q, k, v projection weights, shape (3 embed_dim, embed_dim).
    pub in_proj_weight: Tensor,
    /// The packed q, k, v projection bias, if the layer has one.
    pub in_proj_bias: Option<Tensor>,
    /// The output projection.
    pub out_proj: Arc<Linear>,
    embed_dim: usize,
    num_heads: usize,
    batch_first: bool,
    /// Dropout on the attention weights, in training only (TransformerEncoderLayer's `dropout`;
    /// rt_module_multihead_attention has none).
    dropout: f64,
    core: ModuleCore,
}

impl MultiheadAttention {
    /// PyTorch's _reset_parameters: xavier_uniform_ in_proj_weight, zero in_proj_bias and
    /// out_proj.bias; out_proj.weight keeps Linear's init.
    pub fn new(embed_dim: usize, num_heads: usize, bias: bool, batch_first: bool, dropout: f64) -> Result<MultiheadAttention> {
        if num_heads == 0 || embed_dim == 0 || !embed_dim.is_multiple_of(num_heads) {
            bail!(InvalidArgument, "embed_dim ({embed_dim}) must be a positive multiple of num_heads ({num_heads}), as PyTorch requires");
        }
        if !(0.0..1.0).contains(&dropout) {
            bail!(InvalidArgument, "`dropout` is {dropout}; pass a probability in [0, 1)");
        }
        let three = embed_dim
            .checked_mul(3)
            .filter(|n| n.checked_mul(embed_dim).and_then(|n| n.checked_mul(4)).is_some_and(|b| b <= isize::MAX as usize))
            .ok_or_else(|| {
                crate::error::err!(OutOfMemory, "an in_proj_weight of {embed_dim} x 3 * {embed_dim} is too large to allocate")
            })?;
        // xavier_uniform_ on (3E, E): fan_in E, fan_out 3E.
        let bound = (6.0 / (embed_dim + three) as f64).sqrt() as f32;
        let in_proj_weight = creation::uniform(&[three, embed_dim], bound)?;
        let in_proj_bias = if bias { Some(creation::zeros(&[three], DType::F32)?) } else { None };
        let out_proj = Linear::new(embed_dim, embed_dim, bias)?;
        if let Some(b) = &out_proj.bias {
            ops::raw::write_row_major(b, &try_filled(embed_dim, 0.0f32)?);
        }
        let out_proj = Arc::new(out_proj);
        let core = ModuleCore::new("MultiheadAttention");
        core.register_parameter("in_proj_weight", in_proj_weight.clone(), true)?;
        if let Some(b) = &in_proj_bias {
            core.register_parameter("in_proj_bias", b.clone(), true)?;
        }
        core.register_module("out_proj", out_proj.clone())?;
        Ok(MultiheadAttention { in_proj_weight, in_proj_bias, out_proj, embed_dim, num_heads, batch_first, dropout, core })
    }

    /// Attention of `query` over `key`/`value` (None: self-attention on `query`), with PyTorch's
    /// masks: BOOL true = masked out, F32 added to the scores.
    pub fn attend(
        &self,
        query: &Tensor,
        kv: Option<(&Tensor, &Tensor)>,
        key_padding_mask: Option<&Tensor>,
        attn_mask: Option<&Tensor>,
    ) -> Result<Tensor> {
        let (key, value) = kv.unwrap_or((query, query));
        let batched = self.check_inputs(query, key, value)?;
        // An unbatched (L, E) input runs as a batch of one, as PyTorch does.
        let bdim = if self.batch_first { 0 } else { 1 };
        let lift = |t: &Tensor, d: i64| if batched { Ok(t.clone()) } else { ops::unsqueeze(t, d) };
        let (q, k, v) = (lift(query, bdim)?, lift(key, bdim)?, lift(value, bdim)?);
        let kpm = key_padding_mask.map(|m| lift(m, 0)).transpose()?;
        let (n, l, s) =
            if self.batch_first { (q.shape()[0], q.shape()[1], k.shape()[1]) } else { (q.shape()[1], q.shape()[0], k.shape()[0]) };
        let mask = self.sdpa_mask(kpm.as_ref(), attn_mask, n, l, s, batched)?;

        let (qp, kp, vp) = self.project(&q, &k, &v, kv.is_none())?;
        let heads = |t: &Tensor, len: usize| -> Result<Tensor> {
            // (N, T, E) or (T, N, E) -> (N, H, T, E/H), a view read through its strides.
            let hd = (self.embed_dim / self.num_heads) as i64;
            let split = if self.batch_first {
                [n as i64, len as i64, self.num_heads as i64, hd]
            } else {
                [len as i64, n as i64, self.num_heads as i64, hd]
            };
            let t = ops::reshape(t, &split)?;
            if self.batch_first {
                ops::transpose(&t, 1, 2)
            } else {
                ops::permute(&t, &[1, 2, 0, 3])
            }
        };
        let p = if self.is_training() { self.dropout } else { 0.0 };
        let o = ops::scaled_dot_product_attention(&heads(&qp, l)?, &heads(&kp, s)?, &heads(&vp, s)?, mask.as_ref(), p, false, 0.0, false)?;
        // (N, H, L, hd) -> (N, L, E) or (L, N, E).
        let o = if self.batch_first { ops::transpose(&o, 1, 2)? } else { ops::permute(&o, &[2, 0, 1, 3])? };
        let merged =
            if self.batch_first { [n as i64, l as i64, self.embed_dim as i64] } else { [l as i64, n as i64, self.embed_dim as i64] };
        let out = self.out_proj.forward(&ops::reshape(&o, &merged)?)?;
        if batched {
            Ok(out)
        } else {
            ops::squeeze(&out, bdim)
        }
    }

    /// Whether the inputs are batched (3-d) rather than (L, E); refuses what PyTorch refuses.
    fn check_inputs(&self, query: &Tensor, key: &Tensor, value: &Tensor) -> Result<bool> {
        for (t, name) in [(query, "query"), (key, "key"), (value, "value")] {
            t.expect_dtype(DType::F32, name)?;
        }
        let e = self.embed_dim;
        let nd = query.ndim();
        if !(nd == 2 || nd == 3) || query.shape()[nd - 1] != e {
            bail!(
                Shape,
                "MultiheadAttention: query has shape {}; pass (L, N, {e}) ((N, L, {e}) with batch_first) or unbatched (L, {e})",
                fmt_shape(query.shape())
            );
        }
        if key.ndim() != nd || key.shape()[nd - 1] != e || key.shape() != value.shape() {
            bail!(
                Shape,
                "MultiheadAttention: key {} and value {} must have one shape, of query's rank ({nd}) and last dim {e}",
                fmt_shape(key.shape()),
                fmt_shape(value.shape())
            );
        }
        let b = if self.batch_first { 0 } else { 1 };
        if nd == 3 && key.shape()[b] != query.shape()[b] {
            bail!(Shape, "MultiheadAttention: key's batch size {} differs from query's {}", key.shape()[b], query.shape()[b]);
        }
        Ok(nd == 3)
    }

    /// q, k and v projected by in_proj: one matmul when self-attending, as PyTorch.
    fn project(&self, q: &Tensor, k: &Tensor, v: &Tensor, same: bool) -> Result<(Tensor, Tensor, Tensor)> {
        if same {
            let p = ops::linear(q, &self.in_proj_weight, self.in_proj_bias.as_ref())?;
            let mut c = ops::chunk(&p, 3, -1)?.into_iter();
            let mut next = || c.next().expect("chunk of 3E into 3 gives 3 parts");
            return Ok((next(), next(), next()));
        }
        let w = ops::chunk(&self.in_proj_weight, 3, 0)?;
        let b = self.in_proj_bias.as_ref().map(|b| ops::chunk(b, 3, 0)).transpose()?;
        let proj = |x: &Tensor, i: usize| ops::linear(x, &w[i], b.as_ref().map(|b| &b[i]));
        Ok((proj(q, 0)?, proj(k, 1)?, proj(v, 2)?))
    }

    /// The one mask SDPA takes, broadcasting to (N, H, L, S): both BOOL masks combine into one
    /// BOOL "may attend" mask; otherwise BOOL masks become -inf and the masks add (PyTorch's
    /// _canonical_mask and merge).
    fn sdpa_mask(
        &self,
        kpm: Option<&Tensor>,
        attn_mask: Option<&Tensor>,
        n: usize,
        l: usize,
        s: usize,
        batched: bool,
    ) -> Result<Option<Tensor>> {
        let h = self.num_heads;
        for (m, name) in [(kpm, "key_padding_mask"), (attn_mask, "attn_mask")] {
            if let Some(m) = m.filter(|m| !matches!(m.dtype(), DType::Bool | DType::F32)) {
                bail!(Dtype, "MultiheadAttention: {name} is {}; pass a BOOL mask (true = masked out) or an F32 one (added)", m.describe());
            }
        }
        let kpm = match kpm {
            Some(m) if m.shape() != [n, s] => {
                let want = if batched { format!("({n}, {s})") } else { format!("({s})") };
                bail!(
                    Shape,
                    "MultiheadAttention: key_padding_mask has shape {}; it must be {want}",
                    fmt_shape(&m.shape()[usize::from(!batched)..])
                );
            }
            Some(m) => Some(ops::reshape(m, &[n as i64, 1, 1, s as i64])?),
            None => None,
        };
        let attn = match attn_mask {
            Some(m) if m.shape() == [l, s] => Some(m.clone()),
            Some(m) if m.shape() == [n * h, l, s] => Some(ops::reshape(m, &[n as i64, h as i64, l as i64, s as i64])?),
            Some(m) => bail!(
                Shape,
                "MultiheadAttention: attn_mask has shape {}; it must be ({l}, {s}) or ({}, {l}, {s}) (batch * num_heads)",
                fmt_shape(m.shape()),
                n * h
            ),
            None => None,
        };
        let masks: Vec<Tensor> = [kpm, attn].into_iter().flatten().collect();
        if masks.iter().all(|m| m.dtype() == DType::Bool) {
            let mut keep = masks.iter().map(ops::compare::logical_not);
            return match (keep.next().transpose()?, keep.next().transpose()?) {
                (Some(a), Some(b)) => Ok(Some(ops::compare::logical(&a, &b, Logical::And)?)),
                (a, _) => Ok(a),
            };
        }
        let additive = |m: &Tensor| -> Result<Tensor> {
            if m.dtype() == DType::F32 {
                return Ok(m.clone());
            }
            ops::mask::masked_fill(&creation::zeros(m.shape(), DType::F32)?, m, f64::NEG_INFINITY)
        };
        match masks.as_slice() {
            [a, b] => Ok(Some(ops::add(&additive(a)?, &additive(b)?)?)),
            [a] => Ok(Some(additive(a)?)),
            _ => Ok(None),
        }
    }
}

impl Module for MultiheadAttention {
    fn core(&self) -> &ModuleCore {
        &self.core
    }

    /// inputs {query, key, value, key_padding_mask, attn_mask}; key and value absent together
    /// mean self-attention.
    fn forward_n(&self, inputs: &[Option<Tensor>]) -> Result<Tensor> {
        if inputs.is_empty() || inputs.len() > 5 {
            bail!(
                InvalidArgument,
                "a MultiheadAttention module takes 1 to 5 inputs {{query, key, value, key_padding_mask, attn_mask}}, but n_inputs is {}",
                inputs.len()
            );
        }
        let get = |i: usize| inputs.get(i).and_then(Option::as_ref);
        let Some(query) = get(0) else {
            bail!(NullArgument, "inputs[0] (query) is NULL; a MultiheadAttention module needs a query");
        };
        let kv = match (get(1), get(2)) {
            (Some(k), Some(v)) => Some((k, v)),
            (None, None) => None,
            (Some(_), None) => bail!(NullArgument, "inputs[2] (value) is NULL but key is given; pass both, or neither for self-attention"),
            (None, Some(_)) => bail!(NullArgument, "inputs[1] (key) is NULL but value is given; pass both, or neither for self-attention"),
        };
        self.attend(query, kv, get(3), get(4))
    }
}
