//! Comparisons and logical ops (API.md 7.B): BOOL results, never recorded (they have no
//! gradient, as in PyTorch), allocated as inference tensors inside inference mode (I1).

use super::raw::{self, broadcast_shape};
use crate::autograd::mode;
use crate::error::{bail, Result};
use crate::kernels::elementwise;
use crate::shape::numel;
use crate::storage::{try_zeroed, DType, Element};
use crate::tensor::Tensor;

/// An elementwise comparison.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CmpOp {
    /// `==`
    Eq,
    /// `!=`
    Ne,
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `>`
    Gt,
    /// `>=`
    Ge,
}

impl CmpOp {
    /// PyTorch's name of the comparison (`eq`, `ne`, ...).
    pub fn name(self) -> &'static str {
        match self {
            CmpOp::Eq => "eq",
            CmpOp::Ne => "ne",
            CmpOp::Lt => "lt",
            CmpOp::Le => "le",
            CmpOp::Gt => "gt",
            CmpOp::Ge => "ge",
        }
    }
}

/// Runs `$body` with `$f` bound to the comparison as a closure over `$t`, so each op gets its
/// own monomorphised loop instead of a match per element. IEEE rules give NaN's results: every
/// comparison with NaN is false except ne.
macro_rules! with_cmp {
    ($op:expr, $t:ty, |$f:ident| $body:expr) => {
        match $op {
            CmpOp::Eq => {
                let $f = |x: $t, y: $t| (x == y) as u8;
                $body
            }
            CmpOp::Ne => {
                let $f = |x: $t, y: $t| (x != y) as u8;
                $body
            }
            CmpOp::Lt => {
                let $f = |x: $t, y: $t| (x < y) as u8;
                $body
            }
            CmpOp::Le => {
                let $f = |x: $t, y: $t| (x <= y) as u8;
                $body
            }
            CmpOp::Gt => {
                let $f = |x: $t, y: $t| (x > y) as u8;
                $body
            }
            CmpOp::Ge => {
                let $f = |x: $t, y: $t| (x >= y) as u8;
                $body
            }
        }
    };
}

/// a (op) b elementwise with broadcasting. F32 or I64 operands of one dtype; BOOL operands
/// compare too (false < true), as torch.eq and friends accept them. Mixed dtypes are RT_ERR_DTYPE
/// (PyTorch would promote; convert with rt_tensor_to first).
pub fn compare(a: &Tensor, b: &Tensor, op: CmpOp) -> Result<Tensor> {
    if a.dtype() != b.dtype() {
        bail!(
            Dtype,
            "{}: a is {} but b is {}; both operands must have one dtype (convert with rt_tensor_to first)",
            op.name(),
            a.describe(),
            b.describe()
        );
    }
    let shape = broadcast_shape(a.shape(), b.shape(), op.name())?;
    let inference = mode::is_inference_enabled();
    match a.dtype() {
        DType::F32 => with_cmp!(op, f32, |f| zip_bool::<f32>(a, b, &shape, inference, f)),
        DType::I64 => with_cmp!(op, i64, |f| zip_bool::<i64>(a, b, &shape, inference, f)),
        DType::Bool => with_cmp!(op, bool, |f| zip_bool::<u8>(a, b, &shape, inference, |x: u8, y: u8| f(x != 0, y != 0))),
    }
}

/// a (op) s. F32 compares with s rounded to F32, as PyTorch does with a Python float. I64 and
/// BOOL (read as 0 or 1) compare exactly with an integral s, as PyTorch with a Python int, and
/// otherwise (s non-integral, infinite, NaN or beyond the int64 range) in F32, as PyTorch with a
/// Python float.
pub fn compare_scalar(a: &Tensor, s: f64, op: CmpOp) -> Result<Tensor> {
    let inference = mode::is_inference_enabled();
    match a.dtype() {
        DType::F32 => {
            let s = s as f32;
            with_cmp!(op, f32, |f| map_bool::<f32>(a, inference, |x| f(x, s)))
        }
        DType::I64 => integer_scalar::<i64>(a, s, op, inference, |x| x),
        DType::Bool => integer_scalar::<u8>(a, s, op, inference, |x| (x != 0) as i64),
    }
}

fn integer_scalar<T: Element>(a: &Tensor, s: f64, op: CmpOp, inference: bool, value: impl Fn(T) -> i64) -> Result<Tensor> {
    // [-2^63, 2^63): i64::MIN converts to f64 exactly.
    if s.fract() == 0.0 && (i64::MIN as f64..-(i64::MIN as f64)).contains(&s) {
        let s = s as i64;
        with_cmp!(op, i64, |f| map_bool::<T>(a, inference, |x| f(value(x), s)))
    } else {
        let s = s as f32;
        with_cmp!(op, f32, |f| map_bool::<T>(a, inference, |x| f(value(x) as f32, s)))
    }
}

/// An elementwise logical operation on BOOL tensors.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Logical {
    /// `logical_and`
    And,
    /// `logical_or`
    Or,
}

/// Elementwise and / or of two BOOL tensors with broadcasting (RT_ERR_DTYPE for other dtypes:
/// convert with rt_tensor_to(BOOL), which maps nonzero to true, as PyTorch's logical ops read them).
pub fn logical(a: &Tensor, b: &Tensor, op: Logical) -> Result<Tensor> {
    let name = match op {
        Logical::And => "logical_and",
        Logical::Or => "logical_or",
    };
    a.expect_dtype(DType::Bool, "a")?;
    b.expect_dtype(DType::Bool, "b")?;
    let shape = broadcast_shape(a.shape(), b.shape(), name)?;
    let inference = mode::is_inference_enabled();
    match op {
        Logical::And => zip_bool::<u8>(a, b, &shape, inference, |x, y| (x != 0 && y != 0) as u8),
        Logical::Or => zip_bool::<u8>(a, b, &shape, inference, |x, y| (x != 0 || y != 0) as u8),
    }
}

/// Elementwise not of a BOOL tensor.
pub fn logical_not(a: &Tensor) -> Result<Tensor> {
    a.expect_dtype(DType::Bool, "the input")?;
    map_bool::<u8>(a, mode::is_inference_enabled(), |x| (x == 0) as u8)
}

fn zip_bool<T: Element>(a: &Tensor, b: &Tensor, shape: &[usize], inference: bool, f: impl Fn(T, T) -> u8) -> Result<Tensor> {
    let (la, lb) = (a.layout().expand(shape), b.layout().expand(shape));
    let mut out = try_zeroed::<u8>(numel(shape))?;
    let (sa, sb) = (a.storage().slice::<T>(), b.storage().slice::<T>());
    elementwise::binary(&mut out, shape, sa, (la.offset, &la.strides), sb, (lb.offset, &lb.strides), f);
    Ok(raw::from_vec(out, shape, inference))
}

fn map_bool<T: Element>(a: &Tensor, inference: bool, f: impl Fn(T) -> u8) -> Result<Tensor> {
    let l = a.layout();
    let mut out = try_zeroed::<u8>(l.numel())?;
    elementwise::unary(&mut out, &l.shape, a.storage().slice::<T>(), (l.offset, &l.strides), f);
    Ok(raw::from_vec(out, &l.shape, inference))
}
