//! Derivatives of elementwise functions. Each saves its input or its output, whichever the
//! formula is cheaper in.

use crate::autograd::node::{saved_at, Backward};
use crate::compute::raw;
use crate::compute::unary::UnaryOp;
use crate::error::Result;
use crate::kernels::vmath;
use crate::tensor::Tensor;

/// Saved: what `UnaryOp::saves` says (relu saves its output: y > 0 iff x > 0).
pub struct UnaryBackward {
    pub op: UnaryOp,
}

impl Backward for UnaryBackward {
    fn name(&self) -> &'static str {
        self.op.backward_name()
    }

    fn apply(&self, g: &Tensor, saved: &[Option<Tensor>]) -> Result<Vec<Option<Tensor>>> {
        let grad = match self.op {
            // d(-x) = -dx
            UnaryOp::Neg => raw::map(g, false, |v: f32| -v)?,
            // relu' = [y > 0]
            UnaryOp::Relu => raw::zip_map(g, saved_at(saved, 0), |g, y| if y > 0.0 { g } else { 0.0 })?,
            // exp' = y
            UnaryOp::Exp => raw::zip_map(g, saved_at(saved, 0), |g, y| g * y)?,
            // log' = 1/x
            UnaryOp::Log => raw::zip_map(g, saved_at(saved, 0), |g, x| g / x)?,
            // sqrt' = 1 / (2y)
            UnaryOp::Sqrt => raw::zip_map(g, saved_at(saved, 0), |g, y| g / (2.0 * y))?,
            // sigmoid' = y (1 - y)
            UnaryOp::Sigmoid => raw::zip_map(g, saved_at(saved, 0), |g, y| g * y * (1.0 - y))?,
            // tanh' = 1 - y^2
            UnaryOp::Tanh => raw::zip_map(g, saved_at(saved, 0), |g, y| g * (1.0 - y * y))?,
            // gelu(x) = x Phi(x); gelu' = Phi(x) + x phi(x)
            UnaryOp::Gelu => raw::zip_map(g, saved_at(saved, 0), vmath::GeluBackward)?,
            // silu(x) = x σ(x); silu' = σ(x) (1 + x (1 - σ(x)))
            UnaryOp::Silu => raw::zip_map(g, saved_at(saved, 0), vmath::SiluBackward)?,
            // gelu_tanh(x) = x (1 + tanh u) / 2, u = √(2/π)(x + 0.044715 x³);
            // gelu_tanh' = (1 + tanh u) / 2 + x (1 - tanh² u) √(2/π) (1 + 3 0.044715 x²) / 2
            UnaryOp::GeluTanh => raw::zip_map(g, saved_at(saved, 0), vmath::GeluTanhBackward)?,
            // rsqrt' = -x^(-3/2) / 2 = -y³ / 2
            UnaryOp::Rsqrt => raw::zip_map(g, saved_at(saved, 0), vmath::RsqrtBackward)?,
            // sin' = cos x
            UnaryOp::Sin => raw::zip_map(g, saved_at(saved, 0), vmath::SinBackward)?,
            // cos' = -sin x
            UnaryOp::Cos => raw::zip_map(g, saved_at(saved, 0), vmath::CosBackward)?,
            // |x|' = sign(x), 0 at 0 (as PyTorch's sgn)
            UnaryOp::Abs => raw::zip_map(g, saved_at(saved, 0), vmath::AbsBackward)?,
        };
        Ok(vec![Some(grad)])
    }
}
