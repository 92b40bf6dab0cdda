//! Derivative of scaled_dot_product_attention (formulas in kernels/attention.rs). The k/v
//! gradients come out per repeated head group and broadcast index and are summed back to each
//! input's shape, as repeat_interleave's and broadcasting's derivatives do.

use crate::autograd::node::{saved_at, Backward};
use crate::compute::attention::Plan;
use crate::compute::raw;
use crate::error::Result;
use crate::kernels::attention::{self as kernel, Dropout, Grads};
use crate::shape::numel;
use crate::storage::try_filled;
use crate::tensor::Tensor;

/// Saved: [q, k, v, attn_mask (when given), output, logsumexp per query row].
pub struct AttentionBackward {
    pub causal: bool,
    pub scale: f32,
    pub gqa: bool,
    pub dropout: Option<Dropout>,
    pub has_mask: bool,
    /// Gradients wanted for [q, k, v, attn_mask].
    pub needs: [bool; 4],
}

impl Backward for AttentionBackward {
    fn name(&self) -> &'static str {
        "ScaledDotProductFlashAttentionBackward"
    }

    fn apply(&self, g: &Tensor, saved: &[Option<Tensor>]) -> Result<Vec<Option<Tensor>>> {
        let (q, k, v) = (saved_at(saved, 0), saved_at(saved, 1), saved_at(saved, 2));
        let mask = self.has_mask.then(|| saved_at(saved, 3));
        let at = 3 + self.has_mask as usize;
        let (out, lse) = (saved_at(saved, at), saved_at(saved, at + 1));
        let plan = Plan::new(q, k, v, mask, self.gqa)?;
        let shapes = [plan.shape(plan.l, plan.e, false), plan.shape(plan.s, plan.e, true), plan.shape(plan.s, plan.ev, true)];
        let mut dq = try_filled(numel(&shapes[0]), 0f32)?;
        let mut dk = try_filled(numel(&shapes[1]), 0f32)?;
        let mut dv = try_filled(numel(&shapes[2]), 0f32)?;
        let mask_shape = plan.shape(plan.l, plan.s, false);
        let mut dmask = if self.needs[3] { Some(try_filled(numel(&mask_shape), 0f32)?) } else { None };
        let problem = plan.problem((q, k, v), mask, self.causal, self.scale, self.dropout);
        let grads = Grads { dq: &mut dq, dk: &mut dk, dv: &mut dv, dmask: dmask.as_deref_mut() };
        kernel::backward(&problem, &out.try_data::<f32>()?, &lse.try_data::<f32>()?, &g.try_data::<f32>()?, grads)?;
        let back = |want: bool, d: Vec<f32>, shape: &[usize], to: &Tensor| -> Result<Option<Tensor>> {
            if want {
                raw::sum_to(&raw::from_vec(d, shape, false), to.shape()).map(Some)
            } else {
                Ok(None)
            }
        };
        let mut grads =
            vec![back(self.needs[0], dq, &shapes[0], q)?, back(self.needs[1], dk, &shapes[1], k)?, back(self.needs[2], dv, &shapes[2], v)?];
        if let Some(m) = mask {
            grads.push(match dmask {
                Some(d) => back(true, d, &mask_shape, m)?,
                None => None,
            });
        }
        Ok(grads)
    }
}
