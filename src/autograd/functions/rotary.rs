//! Derivative of apply_rotary_emb, y = x cos + rotate_half(x) sin:
//! dx = g cos + rotate_halfᵀ(g sin), dcos = g x and dsin = g rotate_half(x), each summed to the
//! shape cos and sin had before broadcasting.

use crate::autograd::node::{saved_at, Backward};
use crate::compute::{raw, rotary::rotate};
use crate::error::Result;
use crate::kernels::rotary::{grad_sin, Pass};
use crate::shape::Dims;
use crate::storage::try_filled;
use crate::tensor::Tensor;

/// Saved: [x (when cos or sin need a gradient), cos, sin (when x needs one)].
pub struct RotaryBackward {
    /// Gradients wanted for [x, cos, sin].
    pub needs: [bool; 3],
    /// x's shape (the output's).
    pub shape: Dims,
    pub cos: Dims,
    pub sin: Dims,
}

impl Backward for RotaryBackward {
    fn name(&self) -> &'static str {
        "RotaryEmbBackward"
    }

    fn apply(&self, g: &Tensor, saved: &[Option<Tensor>]) -> Result<Vec<Option<Tensor>>> {
        let dx = match self.needs[0] {
            true => Some(raw::from_vec(rotate(g, saved_at(saved, 1), saved_at(saved, 2), Pass::Backward)?, &self.shape, false)),
            false => None,
        };
        let dcos = match self.needs[1] {
            true => Some(raw::sum_to(&raw::mul(g, saved_at(saved, 0))?, &self.cos)?),
            false => None,
        };
        let dsin = match self.needs[2] {
            true => {
                let x = saved_at(saved, 0);
                let mut d = try_filled(x.numel(), 0f32)?;
                grad_sin(&x.try_data::<f32>()?, &g.try_data::<f32>()?, self.shape[self.shape.len() - 1], &mut d);
                Some(raw::sum_to(&raw::from_vec(d, &self.shape, false), &self.sin)?)
            }
            false => None,
        };
        Ok(vec![dx, dcos, dsin])
    }
}
