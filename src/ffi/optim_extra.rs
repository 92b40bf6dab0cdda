//! What training a transformer from C needs beyond section 5's optimizers: AdamW and
//! gradient-norm clipping (API.md section 8).

use super::optim::{params_of_list, params_of_module, put_optimizer};
use super::types::*;
use crate::error::Result;
use crate::optim::{clip_grad_norm, AdamW};
use crate::tensor::Tensor;

/// AdamW (decoupled weight decay) over the module's parameters that require grad.
#[no_mangle]
pub unsafe extern "C" fn rt_optimizer_adamw(
    m: *mut rt_module,
    lr: f64,
    beta1: f64,
    beta2: f64,
    eps: f64,
    weight_decay: f64,
    out: *mut *mut rt_optimizer,
) -> rt_status {
    export!(rt_optimizer_adamw, [m, out], {
        let params = params_of_module(m)?;
        put_optimizer(out, params, lr, Box::new(AdamW::new(beta1, beta2, eps, weight_decay)?))
    })
}

/// AdamW (decoupled weight decay) over a list of tensors (those that require grad).
#[no_mangle]
pub unsafe extern "C" fn rt_optimizer_adamw_tensors(
    params: *const *mut rt_tensor,
    n: usize,
    lr: f64,
    beta1: f64,
    beta2: f64,
    eps: f64,
    weight_decay: f64,
    out: *mut *mut rt_optimizer,
) -> rt_status {
    export!(rt_optimizer_adamw_tensors, [out], {
        let params = params_of_list(params, n)?;
        put_optimizer(out, params, lr, Box::new(AdamW::new(beta1, beta2, eps, weight_decay)?))
    })
}

/// Writes the total norm to `total_norm_out` when it is not NULL.
unsafe fn clip_and_put(params: &[Tensor], max_norm: f64, norm_type: f64, total_norm_out: *mut f64) -> Result<()> {
    let total = clip_grad_norm(params, max_norm, norm_type)?;
    if !total_norm_out.is_null() {
        *total_norm_out = total;
    }
    Ok(())
}

/// Scales the gradients of `params` in place so that their total `norm_type`-norm is at most
/// `max_norm`, as torch.nn.utils.clip_grad_norm_; the norm before clipping goes to
/// `total_norm_out` (may be NULL).
#[no_mangle]
pub unsafe extern "C" fn rt_clip_grad_norm(
    params: *const *mut rt_tensor,
    n: usize,
    max_norm: f64,
    norm_type: f64,
    total_norm_out: *mut f64,
) -> rt_status {
    export!(rt_clip_grad_norm, [], {
        let params = params_of_list(params, n)?;
        clip_and_put(&params, max_norm, norm_type, total_norm_out)
    })
}

/// rt_clip_grad_norm over the module's parameters (each once).
#[no_mangle]
pub unsafe extern "C" fn rt_module_clip_grad_norm(m: *mut rt_module, max_norm: f64, norm_type: f64, total_norm_out: *mut f64) -> rt_status {
    export!(rt_module_clip_grad_norm, [m], {
        let params = params_of_module(m)?;
        clip_and_put(&params, max_norm, norm_type, total_norm_out)
    })
}
