//! The derivative of an in-place op, with respect to the target's previous value (self) and the
//! source (other).

use crate::autograd::node::{saved_at, Backward};
use crate::compute::inplace::Inplace;
use crate::compute::raw::{self, sum_to, BinOp};
use crate::error::Result;
use crate::shape::Dims;
use crate::tensor::Tensor;

/// Saved: [other, original self] for mul and div (each only when needed).
pub struct InplaceBackward {
    pub op: Inplace,
    pub src_shape: Dims,
    pub needs: [bool; 2],
}

impl Backward for InplaceBackward {
    fn name(&self) -> &'static str {
        match self.op {
            Inplace::Binary(b) => b.backward_name(),
            Inplace::AddScalar(_) => "AddBackward",
            Inplace::MulScalar(_) => "MulBackward",
            Inplace::Copy => "CopyBackward",
            Inplace::Fill(_) => "FillBackward",
        }
    }

    fn apply(&self, g: &Tensor, saved: &[Option<Tensor>]) -> Result<Vec<Option<Tensor>>> {
        let [ns, no] = self.needs;
        let (gs, go) = match self.op {
            // self + other, self - other
            Inplace::Binary(BinOp::Add) => (ns.then(|| g.clone()), no.then(|| g.clone())),
            Inplace::Binary(BinOp::Sub) => (ns.then(|| g.clone()), if no { Some(raw::map(g, false, |x: f32| -x)?) } else { None }),
            // self * other: d self = g other, d other = g self_old
            Inplace::Binary(BinOp::Mul) => (
                if ns { Some(raw::mul(g, saved_at(saved, 0))?) } else { None },
                if no { Some(raw::mul(g, saved_at(saved, 1))?) } else { None },
            ),
            // self / other: d self = g / other, d other = -g self_old / other^2
            Inplace::Binary(BinOp::Div) => {
                let other = saved_at(saved, 0);
                let gs = if ns { Some(raw::binary(g, other, BinOp::Div, false)?) } else { None };
                let go = if no {
                    let q = raw::binary(&raw::binary(saved_at(saved, 1), other, BinOp::Div, false)?, other, BinOp::Div, false)?;
                    Some(raw::map(&raw::mul(g, &q)?, false, |x: f32| -x)?)
                } else {
                    None
                };
                (gs, go)
            }
            Inplace::AddScalar(_) => (ns.then(|| g.clone()), None),
            Inplace::MulScalar(v) => (if ns { Some(raw::map(g, false, |x| x * v)?) } else { None }, None),
            // copy: the old value is overwritten (no gradient); the source gets g.
            Inplace::Copy => (None, no.then(|| g.clone())),
            Inplace::Fill(_) => (None, None),
        };
        Ok(vec![gs, go.map(|t| sum_to(&t, &self.src_shape)).transpose()?])
    }
}
