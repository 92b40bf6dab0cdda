//! Comparisons, logical ops, where and masked_fill (API.md 7.B). Each returns a new handle in `*out`.

use super::args::{self, put_tensor};
use super::{export, types::*};
use crate::error::{bail, Result};
use crate::ops::compare::{self, CmpOp, Logical};
use crate::ops::mask;

fn cmp_op(op: rt_compare) -> Result<CmpOp> {
    Ok(match op {
        RT_CMP_EQ => CmpOp::Eq,
        RT_CMP_NE => CmpOp::Ne,
        RT_CMP_LT => CmpOp::Lt,
        RT_CMP_LE => CmpOp::Le,
        RT_CMP_GT => CmpOp::Gt,
        RT_CMP_GE => CmpOp::Ge,
        _ => bail!(InvalidArgument, "`op` is {op}, not an rt_compare; use RT_CMP_EQ (0) to RT_CMP_GE (5)"),
    })
}

/// a (op) b elementwise with broadcasting; a BOOL result.
#[no_mangle]
pub unsafe extern "C" fn rt_tensor_compare(
    a: *const rt_tensor,
    b: *const rt_tensor,
    op: rt_compare,
    out: *mut *mut rt_tensor,
) -> rt_status {
    export!(rt_tensor_compare, [a, b, out], {
        let (a, b) = (args::tensor(a, "a")?, args::tensor(b, "b")?);
        put_tensor(out, compare::compare(&a, &b, cmp_op(op)?)?)
    })
}

/// a (op) s elementwise; a BOOL result.
#[no_mangle]
pub unsafe extern "C" fn rt_tensor_compare_scalar(a: *const rt_tensor, s: f64, op: rt_compare, out: *mut *mut rt_tensor) -> rt_status {
    export!(rt_tensor_compare_scalar, [a, out], {
        let a = args::tensor(a, "a")?;
        put_tensor(out, compare::compare_scalar(&a, s, cmp_op(op)?)?)
    })
}

/// a && b for BOOL tensors, with broadcasting.
#[no_mangle]
pub unsafe extern "C" fn rt_tensor_logical_and(a: *const rt_tensor, b: *const rt_tensor, out: *mut *mut rt_tensor) -> rt_status {
    export!(rt_tensor_logical_and, [a, b, out], {
        let (a, b) = (args::tensor(a, "a")?, args::tensor(b, "b")?);
        put_tensor(out, compare::logical(&a, &b, Logical::And)?)
    })
}

/// a || b for BOOL tensors, with broadcasting.
#[no_mangle]
pub unsafe extern "C" fn rt_tensor_logical_or(a: *const rt_tensor, b: *const rt_tensor, out: *mut *mut rt_tensor) -> rt_status {
    export!(rt_tensor_logical_or, [a, b, out], {
        let (a, b) = (args::tensor(a, "a")?, args::tensor(b, "b")?);
        put_tensor(out, compare::logical(&a, &b, Logical::Or)?)
    })
}

/// !a for a BOOL tensor.
#[no_mangle]
pub unsafe extern "C" fn rt_tensor_logical_not(a: *const rt_tensor, out: *mut *mut rt_tensor) -> rt_status {
    export!(rt_tensor_logical_not, [a, out], { put_tensor(out, compare::logical_not(&args::tensor(a, "a")?)?) })
}

/// cond ? a : b elementwise (torch.where); cond BOOL, a and b one dtype, all three broadcast.
/// Differentiable in a and b.
#[no_mangle]
pub unsafe extern "C" fn rt_tensor_where(
    cond: *const rt_tensor,
    a: *const rt_tensor,
    b: *const rt_tensor,
    out: *mut *mut rt_tensor,
) -> rt_status {
    export!(rt_tensor_where, [cond, a, b, out], {
        let (cond, a, b) = (args::tensor(cond, "cond")?, args::tensor(a, "a")?, args::tensor(b, "b")?);
        put_tensor(out, mask::where_(&cond, &a, &b)?)
    })
}

/// t with `value` where mask (BOOL, broadcast to t's shape) is true. Differentiable in t (zero
/// gradient where filled).
#[no_mangle]
pub unsafe extern "C" fn rt_tensor_masked_fill(
    t: *const rt_tensor,
    mask: *const rt_tensor,
    value: f64,
    out: *mut *mut rt_tensor,
) -> rt_status {
    export!(rt_tensor_masked_fill, [t, mask, out], {
        let (t, m) = (args::tensor(t, "t")?, args::tensor(mask, "mask")?);
        put_tensor(out, mask::masked_fill(&t, &m, value)?)
    })
}
