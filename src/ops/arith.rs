//! Elementwise arithmetic with PyTorch broadcasting, tensor and scalar forms.

use super::raw::{self, BinOp};
use super::record::Recorder;
use crate::autograd::functions::arith::{BinaryBackward, PowBackward, ScalarBackward};
use crate::error::Result;
use crate::storage::DType;
use crate::tensor::Tensor;

/// `a op b` elementwise, with broadcasting.
pub fn binary(a: &Tensor, b: &Tensor, op: BinOp) -> Result<Tensor> {
    a.expect_dtype(DType::F32, "a")?;
    b.expect_dtype(DType::F32, "b")?;
    if !crate::shape::same(a.shape(), b.shape()) {
        raw::broadcast_shape(a.shape(), b.shape(), op.name())?;
    }
    let rec = Recorder::new(&[a, b])?;
    if !rec.active() {
        return raw::binary(a, b, op, rec.inference());
    }
    let needs = [rec.needs_grad(0), rec.needs_grad(1)];
    let (save_a, save_b) = match op {
        BinOp::Add | BinOp::Sub => (false, false),
        BinOp::Mul => (needs[1], needs[0]),
        BinOp::Div => (needs[1], needs[0] || needs[1]),
    };
    let name = op.backward_name();
    let saved = vec![if save_a { rec.save(a, name)? } else { None }, if save_b { rec.save(b, name)? } else { None }];
    let out = raw::binary(a, b, op, rec.inference())?;
    let (a_shape, b_shape) = (a.shape().into(), b.shape().into());
    Ok(rec.finish(out, || Box::new(BinaryBackward { op, a_shape, b_shape, needs }), saved))
}

/// `a + b`, broadcasting.
pub fn add(a: &Tensor, b: &Tensor) -> Result<Tensor> {
    binary(a, b, BinOp::Add)
}

/// `a - b`, broadcasting.
pub fn sub(a: &Tensor, b: &Tensor) -> Result<Tensor> {
    binary(a, b, BinOp::Sub)
}

/// `a * b`, broadcasting.
pub fn mul(a: &Tensor, b: &Tensor) -> Result<Tensor> {
    binary(a, b, BinOp::Mul)
}

/// `a / b`, broadcasting.
pub fn div(a: &Tensor, b: &Tensor) -> Result<Tensor> {
    binary(a, b, BinOp::Div)
}

/// `a + s`.
pub fn add_scalar(a: &Tensor, s: f64) -> Result<Tensor> {
    a.expect_dtype(DType::F32, "the input")?;
    let rec = Recorder::new(&[a])?;
    let s = s as f32;
    let out = raw::map(a, rec.inference(), |x| x + s)?;
    Ok(rec.finish(out, || Box::new(ScalarBackward { name: "AddBackward", factor: 1.0 }), vec![]))
}

/// `a * s`.
pub fn mul_scalar(a: &Tensor, s: f64) -> Result<Tensor> {
    a.expect_dtype(DType::F32, "the input")?;
    let rec = Recorder::new(&[a])?;
    let s = s as f32;
    let out = raw::map(a, rec.inference(), |x| x * s)?;
    Ok(rec.finish(out, || Box::new(ScalarBackward { name: "MulBackward", factor: s }), vec![]))
}

/// `a` to the power `p`, elementwise.
pub fn pow_scalar(a: &Tensor, p: f64) -> Result<Tensor> {
    a.expect_dtype(DType::F32, "the input")?;
    let rec = Recorder::new(&[a])?;
    let saved = vec![rec.save(a, "PowBackward")?];
    let p = p as f32;
    let out = raw::map(a, rec.inference(), |x: f32| x.powf(p))?;
    Ok(rec.finish(out, || Box::new(PowBackward { exponent: p }), saved))
}
