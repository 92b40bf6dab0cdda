//! The elementwise functions of one F32 tensor: what each computes, its name and what its
//! derivative needs.

use super::raw;
use crate::error::Result;
use crate::kernels::{simd, vmath};
use crate::tensor::Tensor;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UnaryOp {
    Relu,
    Neg,
    Exp,
    Log,
    Sqrt,
    Sigmoid,
    Tanh,
    /// The exact erf form, PyTorch's default.
    Gelu,
    Silu,
    Rsqrt,
    Sin,
    Cos,
    Abs,
    /// F.gelu(approximate="tanh").
    GeluTanh,
}

/// Which tensor a derivative needs.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Saves {
    Nothing,
    Input,
    Output,
}

impl UnaryOp {
    pub fn name(self) -> &'static str {
        match self {
            UnaryOp::Relu => "relu",
            UnaryOp::Neg => "neg",
            UnaryOp::Exp => "exp",
            UnaryOp::Log => "log",
            UnaryOp::Sqrt => "sqrt",
            UnaryOp::Sigmoid => "sigmoid",
            UnaryOp::Tanh => "tanh",
            UnaryOp::Gelu => "gelu",
            UnaryOp::Silu => "silu",
            UnaryOp::Rsqrt => "rsqrt",
            UnaryOp::Sin => "sin",
            UnaryOp::Cos => "cos",
            UnaryOp::Abs => "abs",
            UnaryOp::GeluTanh => "gelu_tanh",
        }
    }

    pub fn backward_name(self) -> &'static str {
        match self {
            UnaryOp::Relu => "ReluBackward",
            UnaryOp::Neg => "NegBackward",
            UnaryOp::Exp => "ExpBackward",
            UnaryOp::Log => "LogBackward",
            UnaryOp::Sqrt => "SqrtBackward",
            UnaryOp::Sigmoid => "SigmoidBackward",
            UnaryOp::Tanh => "TanhBackward",
            UnaryOp::Gelu => "GeluBackward",
            UnaryOp::Silu => "SiluBackward",
            UnaryOp::Rsqrt => "RsqrtBackward",
            UnaryOp::Sin => "SinBackward",
            UnaryOp::Cos => "CosBackward",
            UnaryOp::Abs => "AbsBackward",
            UnaryOp::GeluTanh => "GeluBackward",
        }
    }

    pub fn saves(self) -> Saves {
        match self {
            UnaryOp::Neg => Saves::Nothing,
            UnaryOp::Log | UnaryOp::Gelu | UnaryOp::Silu | UnaryOp::Sin | UnaryOp::Cos | UnaryOp::Abs | UnaryOp::GeluTanh => Saves::Input,
            _ => Saves::Output,
        }
    }

    pub fn run(self, a: &Tensor, inference: bool) -> Result<Tensor> {
        match self {
            UnaryOp::Relu => raw::map(a, inference, relu),
            UnaryOp::Neg => raw::map(a, inference, |x: f32| -x),
            UnaryOp::Exp => raw::map(a, inference, vmath::Exp),
            UnaryOp::Log => raw::map(a, inference, vmath::Ln),
            UnaryOp::Sqrt => raw::map(a, inference, f32::sqrt),
            UnaryOp::Sigmoid => raw::map(a, inference, vmath::Sigmoid),
            UnaryOp::Tanh => raw::map(a, inference, vmath::Tanh),
            UnaryOp::Gelu => raw::map(a, inference, vmath::Gelu),
            UnaryOp::Silu => raw::map(a, inference, vmath::Silu),
            UnaryOp::Rsqrt => raw::map(a, inference, vmath::Rsqrt),
            UnaryOp::Sin => raw::map(a, inference, vmath::Sin),
            UnaryOp::Cos => raw::map(a, inference, vmath::Cos),
            UnaryOp::Abs => raw::map(a, inference, vmath::Abs),
            UnaryOp::GeluTanh => raw::map(a, inference, vmath::GeluTanh),
        }
    }

    /// Applies the function in place to a buffer nobody else holds (a fused layer's fresh output).
    pub fn apply_in_place(self, xs: &mut [f32]) {
        match self {
            UnaryOp::Relu => simd::update(xs, &relu),
            UnaryOp::Neg => simd::update(xs, &|x: f32| -x),
            UnaryOp::Exp => simd::update(xs, &vmath::Exp),
            UnaryOp::Log => simd::update(xs, &vmath::Ln),
            UnaryOp::Sqrt => simd::update(xs, &f32::sqrt),
            UnaryOp::Sigmoid => simd::update(xs, &vmath::Sigmoid),
            UnaryOp::Tanh => simd::update(xs, &vmath::Tanh),
            UnaryOp::Gelu => simd::update(xs, &vmath::Gelu),
            UnaryOp::Silu => simd::update(xs, &vmath::Silu),
            UnaryOp::Rsqrt => simd::update(xs, &vmath::Rsqrt),
            UnaryOp::Sin => simd::update(xs, &vmath::Sin),
            UnaryOp::Cos => simd::update(xs, &vmath::Cos),
            UnaryOp::Abs => simd::update(xs, &vmath::Abs),
            UnaryOp::GeluTanh => simd::update(xs, &vmath::GeluTanh),
        }
    }
}

/// max(x, 0) as PyTorch computes it: negative values become 0, NaN and -0.0 pass through (the
/// fused Linear+ReLU epilogue of linear_nt agrees).
fn relu(x: f32) -> f32 {
    if x < 0.0 {
        0.0
    } else {
        x
    }
}
