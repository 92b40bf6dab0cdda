//! Derivatives of elementwise arithmetic with broadcasting.

use crate::autograd::node::{saved_at, Backward};
use crate::compute::raw::{self, sum_to, BinOp};
use crate::error::Result;
use crate::shape::Dims;
use crate::tensor::Tensor;

/// Binary op on broadcast operands. Saved: [a, b] where the other operand's gradient needs them.
pub struct BinaryBackward {
    pub op: BinOp,
    pub a_shape: Dims,
    pub b_shape: Dims,
    pub needs: [bool; 2],
}

impl Backward for BinaryBackward {
    fn name(&self) -> &'static str {
        self.op.backward_name()
    }

    fn apply(&self, g: &Tensor, saved: &[Option<Tensor>]) -> Result<Vec<Option<Tensor>>> {
        let [na, nb] = self.needs;
        let (ga, gb) = match self.op {
            // d(a+b) = da + db
            BinOp::Add => (na.then(|| g.clone()), nb.then(|| g.clone())),
            // d(a-b) = da - db
            BinOp::Sub => (na.then(|| g.clone()), if nb { Some(raw::map(g, false, |x: f32| -x)?) } else { None }),
            // d(ab) = b da + a db
            BinOp::Mul => (
                if na { Some(raw::mul(g, saved_at(saved, 1))?) } else { None },
                if nb { Some(raw::mul(g, saved_at(saved, 0))?) } else { None },
            ),
            // d(a/b) = da / b - a / b^2 db
            BinOp::Div => {
                let b = saved_at(saved, 1);
                let ga = if na { Some(raw::binary(g, b, BinOp::Div, false)?) } else { None };
                let gb = if nb {
                    let q = raw::binary(saved_at(saved, 0), b, BinOp::Div, false)?;
                    let q = raw::binary(&q, b, BinOp::Div, false)?;
                    Some(raw::map(&raw::mul(g, &q)?, false, |x: f32| -x)?)
                } else {
                    None
                };
                (ga, gb)
            }
        };
        Ok(vec![ga.map(|t| sum_to(&t, &self.a_shape)).transpose()?, gb.map(|t| sum_to(&t, &self.b_shape)).transpose()?])
    }
}

/// x + s and x * s: d/dx = 1 and s.
pub struct ScalarBackward {
    pub name: &'static str,
    pub factor: f32,
}

impl Backward for ScalarBackward {
    fn name(&self) -> &'static str {
        self.name
    }

    fn apply(&self, g: &Tensor, _: &[Option<Tensor>]) -> Result<Vec<Option<Tensor>>> {
        let f = self.factor;
        Ok(vec![Some(if f == 1.0 { g.clone() } else { raw::map(g, false, |x| x * f)? })])
    }
}

/// x^p: d/dx = p x^(p-1). Saved: \[x\].
pub struct PowBackward {
    pub exponent: f32,
}

impl Backward for PowBackward {
    fn name(&self) -> &'static str {
        "PowBackward"
    }

    fn apply(&self, g: &Tensor, saved: &[Option<Tensor>]) -> Result<Vec<Option<Tensor>>> {
        let p = self.exponent;
        let d = raw::map(saved_at(saved, 0), false, |x: f32| if p == 0.0 { 0.0 } else { p * x.powf(p - 1.0) })?;
        Ok(vec![Some(raw::mul(g, &d)?)])
    }
}
