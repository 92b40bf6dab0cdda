//! The ops of attention blocks (API.md 7.C): fused scaled dot-product attention, RMSNorm and the
//! rotary embedding. Each returns a new handle in `*out`.

use super::args::{self, put_tensor};
use super::{export, types::*};
use crate::ops;

/// F.scaled_dot_product_attention: q (..., Hq, L, E), k (..., Hk, S, E), v (..., Hk, S, Ev) ->
/// (..., Hq, L, Ev). attn_mask (NULL for none) broadcasts to (..., Hq, L, S) and is added to the
/// scores (F32) or says which keys may be attended (BOOL, true = may attend). is_causal masks as
/// torch.ones(L, S).tril() and excludes attn_mask. scale 0 means 1/sqrt(E). enable_gqa lets Hq be
/// a multiple of Hk. dropout_p in [0, 1) drops attention weights with the seeded generator
/// whenever it is > 0. A query row that may attend no key gives zeros.
#[no_mangle]
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C" fn rt_tensor_scaled_dot_product_attention(
    q: *const rt_tensor,
    k: *const rt_tensor,
    v: *const rt_tensor,
    attn_mask: *const rt_tensor,
    dropout_p: f64,
    is_causal: bool,
    scale: f64,
    enable_gqa: bool,
    out: *mut *mut rt_tensor,
) -> rt_status {
    export!(rt_tensor_scaled_dot_product_attention, [q, k, v, out], {
        let q = args::tensor(q, "q")?;
        let k = args::tensor(k, "k")?;
        let v = args::tensor(v, "v")?;
        let mask = args::opt_tensor(attn_mask, "attn_mask")?;
        put_tensor(out, ops::scaled_dot_product_attention(&q, &k, &v, mask.as_ref(), dropout_p, is_causal, scale, enable_gqa)?)
    })
}

/// F.rms_norm: x / sqrt(mean(x²) + eps) * w, the mean over the trailing dims `shape` (ndim of
/// them); w (of shape `shape`) may be NULL.
#[no_mangle]
pub unsafe extern "C" fn rt_tensor_rms_norm(
    x: *const rt_tensor,
    shape: *const i64,
    ndim: usize,
    w: *const rt_tensor,
    eps: f64,
    out: *mut *mut rt_tensor,
) -> rt_status {
    export!(rt_tensor_rms_norm, [x, out], {
        args::slice(shape, ndim, "shape")?;
        let x = args::tensor(x, "x")?;
        let w = args::opt_tensor(w, "w")?;
        let shape = args::shape(shape, ndim, "shape")?;
        put_tensor(out, ops::rms_norm(&x, &shape, w.as_ref(), eps)?)
    })
}

/// x * cos + rotate_half(x) * sin, rotate_half(x) = cat(-x2, x1) of x's last-dim halves (Hugging
/// Face's apply_rotary_pos_emb); cos and sin broadcast to x, whose last dim must be even.
#[no_mangle]
pub unsafe extern "C" fn rt_tensor_apply_rotary_emb(
    x: *const rt_tensor,
    cos: *const rt_tensor,
    sin: *const rt_tensor,
    out: *mut *mut rt_tensor,
) -> rt_status {
    export!(rt_tensor_apply_rotary_emb, [x, cos, sin, out], {
        let x = args::tensor(x, "x")?;
        let cos = args::tensor(cos, "cos")?;
        let sin = args::tensor(sin, "sin")?;
        put_tensor(out, ops::apply_rotary_emb(&x, &cos, &sin)?)
    })
}
