//! TransformerEncoderLayer (nn.TransformerEncoderLayer with activation relu or gelu): self-attention
//! and a feed-forward block, each with a residual connection and a LayerNorm, after the block
//! (post-norm, PyTorch's default) or before it (norm_first). Dropout acts in training only.

use super::{LayerNorm, Linear, Module, ModuleCore, MultiheadAttention};
use crate::error::{bail, Result};
use crate::ops::{self, UnaryOp};
use crate::tensor::Tensor;
use std::sync::Arc;

/// `TransformerEncoderLayer`: self-attention and a feed-forward block, each with a residual and a layer norm (post-norm, or pre-norm with `norm_first`).
pub struct TransformerEncoderLayer {
    self_attn: Arc<MultiheadAttention>,
    linear1: Arc<Linear>,
    linear2: Arc<Linear>,
    norm1: Arc<LayerNorm>,
    norm2: Arc<LayerNorm>,
    activation: UnaryOp,
    dropout: f64,
    norm_first: bool,
    core: ModuleCore,
}

/// The layer's hyper-parameters, PyTorch's constructor arguments.
pub struct EncoderLayerConfig {
    /// Width of the model (embedding size).
    pub d_model: usize,
    /// Number of attention heads; divides `d_model`.
    pub nhead: usize,
    /// Width of the feed-forward block.
    pub dim_feedforward: usize,
    /// Dropout probability (training only).
    pub dropout: f64,
    /// GELU instead of ReLU in the feed-forward block.
    pub gelu: bool,
    /// `eps` of both layer norms.
    pub layer_norm_eps: f64,
    /// Inputs are (batch, seq, feature) rather than (seq, batch, feature).
    pub batch_first: bool,
    /// Layer norm before each block (pre-norm) rather than after.
    pub norm_first: bool,
}

impl TransformerEncoderLayer {
    /// Children registered in PyTorch's order, so the state_dict names and order are its.
    pub fn new(c: &EncoderLayerConfig) -> Result<TransformerEncoderLayer> {
        if c.dim_feedforward == 0 {
            bail!(InvalidArgument, "`dim_feedforward` is 0; it must be positive");
        }
        let self_attn = Arc::new(MultiheadAttention::new(c.d_model, c.nhead, true, c.batch_first, c.dropout)?);
        let linear1 = Arc::new(Linear::new(c.d_model, c.dim_feedforward, true)?);
        let linear2 = Arc::new(Linear::new(c.dim_feedforward, c.d_model, true)?);
        let norm1 = Arc::new(LayerNorm::new(&[c.d_model], c.layer_norm_eps)?);
        let norm2 = Arc::new(LayerNorm::new(&[c.d_model], c.layer_norm_eps)?);
        let core = ModuleCore::new("TransformerEncoderLayer");
        core.register_module("self_attn", self_attn.clone())?;
        core.register_module("linear1", linear1.clone())?;
        core.register_module("linear2", linear2.clone())?;
        core.register_module("norm1", norm1.clone())?;
        core.register_module("norm2", norm2.clone())?;
        let activation = if c.gelu { UnaryOp::Gelu } else { UnaryOp::Relu };
        Ok(TransformerEncoderLayer {
            self_attn,
            linear1,
            linear2,
            norm1,
            norm2,
            activation,
            dropout: c.dropout,
            norm_first: c.norm_first,
            core,
        })
    }

    fn apply_dropout(&self, x: &Tensor) -> Result<Tensor> {
        ops::dropout(x, self.dropout, self.is_training())
    }

    fn sa_block(&self, x: &Tensor, mask: Option<&Tensor>, kpm: Option<&Tensor>) -> Result<Tensor> {
        self.apply_dropout(&self.self_attn.attend(x, None, kpm, mask)?)
    }

    fn ff_block(&self, x: &Tensor) -> Result<Tensor> {
        let h = ops::linear_act(x, &self.linear1.weight, self.linear1.bias.as_ref(), self.activation)?;
        self.apply_dropout(&self.linear2.forward(&self.apply_dropout(&h)?)?)
    }
}

impl Module for TransformerEncoderLayer {
    fn core(&self) -> &ModuleCore {
        &self.core
    }

    /// inputs {src, src_mask, src_key_padding_mask}.
    fn forward_n(&self, inputs: &[Option<Tensor>]) -> Result<Tensor> {
        if inputs.is_empty() || inputs.len() > 3 {
            bail!(
                InvalidArgument,
                "a TransformerEncoderLayer module takes 1 to 3 inputs {{src, src_mask, src_key_padding_mask}}, but n_inputs is {}",
                inputs.len()
            );
        }
        let get = |i: usize| inputs.get(i).and_then(Option::as_ref);
        let Some(x) = get(0) else {
            bail!(NullArgument, "inputs[0] (src) is NULL; a TransformerEncoderLayer module needs src");
        };
        let (mask, kpm) = (get(1), get(2));
        if self.norm_first {
            let x = ops::add(x, &self.sa_block(&self.norm1.forward(x)?, mask, kpm)?)?;
            ops::add(&x, &self.ff_block(&self.norm2.forward(&x)?)?)
        } else {
            let x = self.norm1.forward(&ops::add(x, &self.sa_block(x, mask, kpm)?)?)?;
            self.norm2.forward(&ops::add(&x, &self.ff_block(&x)?)?)
        }
    }
}
