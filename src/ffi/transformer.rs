//! Constructors of PyTorch's transformer modules (API.md 7.D).

use super::args::{self, put_module};
use super::types::*;
use crate::error::{bail, Result};
use crate::nn::transformer_encoder_layer::EncoderLayerConfig;
use crate::nn::{Functional, MultiheadAttention, RmsNorm, TransformerEncoderLayer};
use crate::ops::UnaryOp;
use std::sync::Arc;

fn positive(v: i64, name: &str) -> Result<usize> {
    if v <= 0 {
        bail!(InvalidArgument, "`{name}` is {v}; it must be positive");
    }
    usize::try_from(v).map_err(|_| crate::error::err!(InvalidArgument, "`{name}` = {v} is too large"))
}

/// nn.SiLU.
#[no_mangle]
pub unsafe extern "C" fn rt_module_silu(out: *mut *mut rt_module) -> rt_status {
    export!(rt_module_silu, [out], { put_module(out, Arc::new(Functional::activation("SiLU", UnaryOp::Silu))) })
}

/// nn.GELU(approximate="tanh"); its type name is PyTorch's class name, GELU.
#[no_mangle]
pub unsafe extern "C" fn rt_module_gelu_tanh(out: *mut *mut rt_module) -> rt_status {
    export!(rt_module_gelu_tanh, [out], { put_module(out, Arc::new(Functional::activation("GELU", UnaryOp::GeluTanh))) })
}

/// nn.Identity: returns its input (the same tensor).
#[no_mangle]
pub unsafe extern "C" fn rt_module_identity(out: *mut *mut rt_module) -> rt_status {
    export!(rt_module_identity, [out], { put_module(out, Arc::new(Functional::identity())) })
}

/// nn.RMSNorm(shape, eps, elementwise_affine=True): parameter `weight`, ones.
#[no_mangle]
pub unsafe extern "C" fn rt_module_rms_norm(shape: *const i64, ndim: usize, eps: f64, out: *mut *mut rt_module) -> rt_status {
    export!(rt_module_rms_norm, [out], {
        let shape = args::shape(shape, ndim, "shape")?;
        put_module(out, Arc::new(RmsNorm::new(&shape, eps)?))
    })
}

/// nn.MultiheadAttention(embed_dim, num_heads, bias, batch_first) with PyTorch's init;
/// rt_module_forward_n takes {query, key, value, key_padding_mask, attn_mask}.
#[no_mangle]
pub unsafe extern "C" fn rt_module_multihead_attention(
    embed_dim: i64,
    num_heads: i64,
    bias: bool,
    batch_first: bool,
    out: *mut *mut rt_module,
) -> rt_status {
    export!(rt_module_multihead_attention, [out], {
        let m = MultiheadAttention::new(positive(embed_dim, "embed_dim")?, positive(num_heads, "num_heads")?, bias, batch_first, 0.0)?;
        put_module(out, Arc::new(m))
    })
}

/// nn.TransformerEncoderLayer(d_model, nhead, dim_feedforward, dropout, relu or gelu,
/// layer_norm_eps, batch_first, norm_first); rt_module_forward_n takes {src, src_mask,
/// src_key_padding_mask}.
#[no_mangle]
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C" fn rt_module_transformer_encoder_layer(
    d_model: i64,
    nhead: i64,
    dim_feedforward: i64,
    dropout: f64,
    gelu: bool,
    layer_norm_eps: f64,
    batch_first: bool,
    norm_first: bool,
    out: *mut *mut rt_module,
) -> rt_status {
    export!(rt_module_transformer_encoder_layer, [out], {
        let config = EncoderLayerConfig {
            d_model: positive(d_model, "d_model")?,
            nhead: positive(nhead, "nhead")?,
            dim_feedforward: positive(dim_feedforward, "dim_feedforward")?,
            dropout,
            gelu,
            layer_norm_eps,
            batch_first,
            norm_first,
        };
        put_module(out, Arc::new(TransformerEncoderLayer::new(&config)?))
    })
}
