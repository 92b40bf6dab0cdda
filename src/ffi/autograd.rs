//! Backward and gradients.

use super::args::{self, put_tensor};
use super::{export, types::*};
use crate::autograd::engine;
use crate::error::{bail, Result};
use crate::storage::DType;
use crate::tensor::Tensor;

/// Backpropagates from t (grad NULL: t must have one element). Fails with RT_ERR_INFERENCE_MODE
/// inside inference mode (I10), changing no gradient.
#[no_mangle]
pub unsafe extern "C" fn rt_tensor_backward(t: *mut rt_tensor, grad: *const rt_tensor, retain_graph: bool) -> rt_status {
    export!(rt_tensor_backward, [t], {
        let t = args::tensor(t, "t")?;
        let grad = args::opt_tensor(grad, "grad")?;
        engine::backward(&t, grad.as_ref(), retain_graph)
    })
}

/// The accumulated gradient (a new handle), or *out = NULL when there is none.
#[no_mangle]
pub unsafe extern "C" fn rt_tensor_grad(t: *const rt_tensor, out: *mut *mut rt_tensor) -> rt_status {
    export!(rt_tensor_grad, [t, out], {
        match args::tensor(t, "t")?.grad() {
            // The gradient's data and version counter under a tensor of its own: history recorded
            // on this handle (an in-place op taking t, say) must not reach t.grad, or t would hold
            // a graph that holds t and neither would ever be freed.
            Some(g) => put_tensor(out, g.detached_alias()),
            None => {
                *out = std::ptr::null_mut();
                Ok(())
            }
        }
    })
}

fn check_grad(t: &Tensor, g: &Tensor) -> Result<()> {
    if g.dtype() != t.dtype() || t.dtype() != DType::F32 {
        bail!(Dtype, "the gradient is {} but the tensor is {}; gradients are F32 like their tensor", g.dtype().name(), t.dtype().name());
    }
    if g.shape() != t.shape() {
        bail!(
            Shape,
            "the gradient has shape {} but the tensor has shape {}; they must match",
            crate::shape::fmt_shape(g.shape()),
            crate::shape::fmt_shape(t.shape())
        );
    }
    Ok(())
}

/// Sets t's gradient to grad (shared, not copied); NULL clears it.
#[no_mangle]
pub unsafe extern "C" fn rt_tensor_set_grad(t: *mut rt_tensor, grad: *const rt_tensor) -> rt_status {
    export!(rt_tensor_set_grad, [t], {
        let t = args::tensor(t, "t")?;
        let g = args::opt_tensor(grad, "grad")?;
        if let Some(g) = &g {
            check_grad(&t, g)?;
        }
        // Stored as an alias of grad's data and version counter without its autograd history, so
        // nothing reachable from t.grad leads back to t: t.grad = t, a tensor computed from t (its
        // graph holds t) or two tensors holding each other's grads would otherwise never be freed.
        t.meta().grad = g.map(|g| g.detached_alias());
        Ok(())
    })
}

/// Keeps .grad on a non-leaf during backward (a no-op on leaves).
#[no_mangle]
pub unsafe extern "C" fn rt_tensor_retain_grad(t: *mut rt_tensor) -> rt_status {
    export!(rt_tensor_retain_grad, [t], {
        let t = args::tensor(t, "t")?;
        if !t.requires_grad() {
            bail!(Autograd, "retain_grad needs a tensor that requires grad, but this {} does not", t.describe());
        }
        if let Some(f) = t.grad_fn() {
            *f.retained.lock() = Some(std::sync::Arc::downgrade(&t.0));
        }
        Ok(())
    })
}
