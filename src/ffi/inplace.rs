//! In-place ops (API.md section 3; rules I6, I8, I9, I11, I12). A refused op changes no data.

use super::args;
use super::{export, types::*};
use crate::error::Result;
use crate::ops::inplace::{self, Inplace};
use crate::ops::BinOp;

unsafe fn with_source(t: *mut rt_tensor, other: *const rt_tensor, name: &str, op: Inplace) -> Result<()> {
    let t = args::tensor(t, "t")?;
    let other = args::tensor(other, name)?;
    inplace::apply(&t, Some(&other), op)
}

unsafe fn alone(t: *mut rt_tensor, op: Inplace) -> Result<()> {
    inplace::apply(&args::tensor(t, "t")?, None, op)
}

/// t += other (other broadcasts to t).
#[no_mangle]
pub unsafe extern "C" fn rt_tensor_add_inplace(t: *mut rt_tensor, other: *const rt_tensor) -> rt_status {
    export!(rt_tensor_add_inplace, [t, other], { with_source(t, other, "other", Inplace::Binary(BinOp::Add)) })
}

/// t -= other (other broadcasts to t).
#[no_mangle]
pub unsafe extern "C" fn rt_tensor_sub_inplace(t: *mut rt_tensor, other: *const rt_tensor) -> rt_status {
    export!(rt_tensor_sub_inplace, [t, other], { with_source(t, other, "other", Inplace::Binary(BinOp::Sub)) })
}

/// t *= other (other broadcasts to t).
#[no_mangle]
pub unsafe extern "C" fn rt_tensor_mul_inplace(t: *mut rt_tensor, other: *const rt_tensor) -> rt_status {
    export!(rt_tensor_mul_inplace, [t, other], { with_source(t, other, "other", Inplace::Binary(BinOp::Mul)) })
}

/// t += s.
#[no_mangle]
pub unsafe extern "C" fn rt_tensor_add_scalar_inplace(t: *mut rt_tensor, s: f64) -> rt_status {
    export!(rt_tensor_add_scalar_inplace, [t], { alone(t, Inplace::AddScalar(s as f32)) })
}

/// t *= s.
#[no_mangle]
pub unsafe extern "C" fn rt_tensor_mul_scalar_inplace(t: *mut rt_tensor, s: f64) -> rt_status {
    export!(rt_tensor_mul_scalar_inplace, [t], { alone(t, Inplace::MulScalar(s as f32)) })
}

/// Copies src (broadcast to t's shape, converted to t's dtype) into t.
#[no_mangle]
pub unsafe extern "C" fn rt_tensor_copy_inplace(t: *mut rt_tensor, src: *const rt_tensor) -> rt_status {
    export!(rt_tensor_copy_inplace, [t, src], { with_source(t, src, "src", Inplace::Copy) })
}

/// Sets every element of t to value.
#[no_mangle]
pub unsafe extern "C" fn rt_tensor_fill_inplace(t: *mut rt_tensor, value: f64) -> rt_status {
    export!(rt_tensor_fill_inplace, [t], { alone(t, Inplace::Fill(value)) })
}

/// Sets every element of t to zero.
#[no_mangle]
pub unsafe extern "C" fn rt_tensor_zero_inplace(t: *mut rt_tensor) -> rt_status {
    export!(rt_tensor_zero_inplace, [t], { alone(t, Inplace::Fill(0.0)) })
}
