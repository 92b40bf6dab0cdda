//! Derivatives of where and masked_fill: the gradient flows to the picked values only.

use crate::autograd::node::{saved_at, Backward};
use crate::compute::mask::{select, Pick};
use crate::compute::raw::sum_to;
use crate::error::Result;
use crate::shape::Dims;
use crate::storage::DType;
use crate::tensor::Tensor;

/// where(cond, a, b): da = where(cond, g, 0), db = where(cond, 0, g), each summed back over the
/// dims it was broadcast along. Saved: \[cond\].
pub struct WhereBackward {
    pub shape: Dims,
    pub a_shape: Dims,
    pub b_shape: Dims,
    pub needs: [bool; 2],
}

impl Backward for WhereBackward {
    fn name(&self) -> &'static str {
        "WhereBackward"
    }

    fn apply(&self, g: &Tensor, saved: &[Option<Tensor>]) -> Result<Vec<Option<Tensor>>> {
        let cond = saved_at(saved, 0);
        let [na, nb] = self.needs;
        let ga = if na {
            Some(sum_to(&select(cond, Pick::Tensor(g), Pick::Value(0.0), &self.shape, DType::F32, false)?, &self.a_shape)?)
        } else {
            None
        };
        let gb = if nb {
            Some(sum_to(&select(cond, Pick::Value(0.0), Pick::Tensor(g), &self.shape, DType::F32, false)?, &self.b_shape)?)
        } else {
            None
        };
        Ok(vec![None, ga, gb])
    }
}

/// masked_fill(t, mask, v): dt = where(mask, 0, g) (filled elements no longer depend on t).
/// Saved: \[mask\].
pub struct MaskedFillBackward;

impl Backward for MaskedFillBackward {
    fn name(&self) -> &'static str {
        "MaskedFillBackward"
    }

    fn apply(&self, g: &Tensor, saved: &[Option<Tensor>]) -> Result<Vec<Option<Tensor>>> {
        let gt = select(saved_at(saved, 0), Pick::Value(0.0), Pick::Tensor(g), g.shape(), DType::F32, false)?;
        Ok(vec![Some(gt), None])
    }
}
