//! In-place ops. Every check runs before the first write, so a refused op changes nothing
//! (API.md I6 improves on PyTorch here). Each write bumps the target's version counter (I8).
//! Outside inference mode with grad mode on, the op is recorded when the target or the source
//! requires grad (I12): the target takes the op's grad_fn.

use super::raw::{self, BinOp};
use super::record::edge_of;
use crate::autograd::functions::inplace::InplaceBackward;
use crate::autograd::mode::{self, GradState};
use crate::autograd::node::{Node, SavedTensor};
pub use crate::compute::inplace::Inplace;
use crate::error::{bail, Result};
use crate::shape::fmt_shape;
use crate::storage::DType;
use crate::tensor::{CreationMeta, Tensor};
use std::sync::Arc;

/// Whether `t` may be written in place now: PyTorch's check_inplace, the one check every in-place
/// write goes through. In-place ops check with `recorded` true; optimizer steps, batch norm's
/// running statistics and module loads, which write without recording, check with it false, as
/// under no_grad (rule I6 only). `what` starts the error sentence ("add_inplace", "parameter 3").
pub fn check_inplace(t: &Tensor, what: &str, recorded: bool) -> Result<()> {
    if t.layout().has_internal_overlap() {
        bail!(
            InvalidArgument,
            "{what}: the target is an expanded tensor whose elements share memory; call rt_tensor_contiguous (or clone) first"
        );
    }
    let mut state = mode::state();
    state.grad &= recorded;
    check_target(t, state, what)
}

/// The inference-mode and autograd rules for writing into `t` (checked in that order).
fn check_target(t: &Tensor, state: GradState, op: &str) -> Result<()> {
    if !state.inference && t.is_inference() {
        bail!(InferenceMode, "{op}: the target is an inference tensor, which cannot be modified in place outside inference mode (rule I6); clone it outside the mode first, or do this inside inference mode");
    }
    if !state.recording() {
        return Ok(());
    }
    if let Some(v) = t.view_info() {
        if v.creation == CreationMeta::InferenceMode && v.base.requires_grad() {
            bail!(InferenceMode, "{op}: the target is a view made in inference mode of a tensor that requires grad; it cannot be modified in place while grad mode is on (rule I9); make the view outside inference mode, or modify it under no_grad");
        }
        if v.creation == CreationMeta::NoGradMode {
            bail!(Autograd, "{op}: the target is a view made under no_grad of a tensor that requires grad; modifying it in place with grad mode on would give wrong gradients (rule I11); make the view with grad mode on, or modify it under no_grad");
        }
        if v.base.requires_grad() && v.base.is_leaf() {
            bail!(Autograd, "{op}: the target is a view of a leaf tensor that requires grad; it cannot be modified in place while grad mode is on; do it under no_grad (rt_grad_mode_enter(false))");
        }
    }
    if t.requires_grad() && t.is_leaf() {
        bail!(Autograd, "{op}: the target is a leaf tensor that requires grad; it cannot be modified in place while grad mode is on; do it under no_grad (rt_grad_mode_enter(false)) or on a clone");
    }
    Ok(())
}

/// Runs an in-place op on `t` with optional source `src`.
pub fn apply(t: &Tensor, src: Option<&Tensor>, op: Inplace) -> Result<()> {
    let name = op.name();
    match op {
        Inplace::Copy | Inplace::Fill(_) => {}
        _ => t.expect_dtype(DType::F32, "the target")?,
    }
    if let Some(s) = src {
        if op != Inplace::Copy {
            s.expect_dtype(DType::F32, "the source")?;
        }
        let ok = crate::shape::broadcast_shapes(t.shape(), s.shape()).is_some_and(|b| b.as_slice() == t.shape());
        if !ok {
            bail!(
                Shape,
                "{name}: the source of shape {} does not broadcast to the target's shape {}",
                fmt_shape(s.shape()),
                fmt_shape(t.shape())
            );
        }
    }
    if let Inplace::Fill(v) = op {
        if t.dtype() == DType::I64 && !(v.is_finite() && v.abs() < 9.2e18) {
            bail!(InvalidArgument, "{name}: value {v} cannot be stored in an I64 tensor");
        }
    }
    check_inplace(t, name, true)?;
    let state = mode::state();

    let src_requires = src.is_some_and(|s| s.requires_grad());
    let record = state.recording() && (t.requires_grad() || src_requires);
    if record && t.is_view() {
        bail!(Unsupported, "{name}: recording an in-place op on a view of a tensor in the graph would need its base's history rebased, which this build does not do; modify a clone, or the base itself");
    }
    let node = if record { Some(build_node(t, src, op)?) } else { None };

    let result = compute(t, src, op)?;
    raw::copy_into(t, &result);
    t.storage().bump_version();
    if let Some(node) = node {
        t.meta().grad_fn = Some(Arc::new(node));
        t.mark_requires_grad(true);
    }
    Ok(())
}

/// The target's new values, computed into a fresh buffer (so a source aliasing the target is safe).
fn compute(t: &Tensor, src: Option<&Tensor>, op: Inplace) -> Result<Tensor> {
    match (op, src) {
        (Inplace::Binary(b), Some(s)) => raw::binary(t, s, b, false),
        (Inplace::AddScalar(v), _) => raw::map(t, false, |x| x + v),
        (Inplace::MulScalar(v), _) => raw::map(t, false, |x| x * v),
        (Inplace::Copy, Some(s)) => {
            let expanded = raw::expand(s, t.shape());
            let same = super::copy::to(&expanded, t.dtype())?;
            raw::contiguous_copy(&same, false)
        }
        (Inplace::Fill(v), _) => raw::full(t.shape(), v, t.dtype(), false),
        _ => unreachable!("binary and copy ops always have a source"),
    }
}

/// The node an in-place op leaves as the target's grad_fn: edges to the target's previous history
/// and to the source.
fn build_node(t: &Tensor, src: Option<&Tensor>, op: Inplace) -> Result<Node> {
    let needs_self = t.requires_grad();
    let needs_src = src.is_some_and(|s| s.requires_grad());
    let name = op.name();
    // mul: d(self*other) needs the other operand for self and the ORIGINAL self for other.
    let saved = match (op, src) {
        (Inplace::Binary(BinOp::Mul), Some(s)) => vec![
            if needs_self { Some(SavedTensor::new(s, name)?) } else { None },
            if needs_src { Some(SavedTensor::new(&raw::contiguous_copy(t, false)?, name)?) } else { None },
        ],
        (Inplace::Binary(BinOp::Div), Some(s)) => vec![
            Some(SavedTensor::new(s, name)?),
            if needs_src { Some(SavedTensor::new(&raw::contiguous_copy(t, false)?, name)?) } else { None },
        ],
        _ => vec![],
    };
    let edges = vec![edge_of(t), src.and_then(edge_of)];
    let src_shape = src.map(|s| s.shape().into()).unwrap_or_default();
    Ok(Node::new(Box::new(InplaceBackward { op, src_shape, needs: [needs_self, needs_src] }), saved, edges))
}
