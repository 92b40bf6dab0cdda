//! Elementwise functions of one F32 tensor.

use super::raw;
use super::record::Recorder;
use crate::autograd::functions::unary::UnaryBackward;
use crate::error::Result;
use crate::storage::DType;
use crate::tensor::Tensor;
use std::f32::consts::SQRT_2;

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
        }
    }

    pub fn saves(self) -> Saves {
        match self {
            UnaryOp::Neg => Saves::Nothing,
            UnaryOp::Log | UnaryOp::Gelu => Saves::Input,
            _ => Saves::Output,
        }
    }

    fn run(self, a: &Tensor, inference: bool) -> Result<Tensor> {
        match self {
            UnaryOp::Relu => raw::map(a, inference, relu),
            UnaryOp::Neg => raw::map(a, inference, |x| -x),
            UnaryOp::Exp => raw::map(a, inference, f32::exp),
            UnaryOp::Log => raw::map(a, inference, f32::ln),
            UnaryOp::Sqrt => raw::map(a, inference, f32::sqrt),
            UnaryOp::Sigmoid => raw::map(a, inference, sigmoid),
            UnaryOp::Tanh => raw::map(a, inference, f32::tanh),
            UnaryOp::Gelu => raw::map(a, inference, gelu),
        }
    }

    /// Applies the function in place to a buffer nobody else holds (a fused layer's fresh output).
    pub fn apply_in_place(self, xs: &mut [f32]) {
        fn each(xs: &mut [f32], f: impl Fn(f32) -> f32) {
            xs.iter_mut().for_each(|x| *x = f(*x));
        }
        match self {
            UnaryOp::Relu => each(xs, relu),
            UnaryOp::Neg => each(xs, |x| -x),
            UnaryOp::Exp => each(xs, f32::exp),
            UnaryOp::Log => each(xs, f32::ln),
            UnaryOp::Sqrt => each(xs, f32::sqrt),
            UnaryOp::Sigmoid => each(xs, sigmoid),
            UnaryOp::Tanh => each(xs, f32::tanh),
            UnaryOp::Gelu => each(xs, gelu),
        }
    }
}

/// max(x, 0), keeping NaN as PyTorch does.
fn relu(x: f32) -> f32 {
    if x > 0.0 || x.is_nan() {
        x
    } else {
        0.0
    }
}

fn sigmoid(x: f32) -> f32 {
    1.0 / (1.0 + (-x).exp())
}

fn gelu(x: f32) -> f32 {
    0.5 * x * (1.0 + libm::erff(x / SQRT_2))
}

pub fn unary(a: &Tensor, op: UnaryOp) -> Result<Tensor> {
    a.expect_dtype(DType::F32, "the input")?;
    let rec = Recorder::new(&[a])?;
    if !rec.active() {
        return op.run(a, rec.inference());
    }
    let saved_input = if op.saves() == Saves::Input { rec.save(a, op.backward_name())? } else { None };
    let out = op.run(a, rec.inference())?;
    let saved = match op.saves() {
        Saves::Nothing => vec![],
        Saves::Input => vec![saved_input],
        Saves::Output => vec![rec.save(&out, op.backward_name())?],
    };
    Ok(rec.finish(out, || Box::new(UnaryBackward { op }), saved))
}
