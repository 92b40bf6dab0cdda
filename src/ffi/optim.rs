//! Optimizers (API.md section 5).

use super::args::{self, put};
use super::handle::{self, Kind, Object};
use super::{export, types::*};
use crate::error::{bail, Result};
use crate::nn;
use crate::optim::{Adam, Optimizer, Rule, Sgd};
use crate::tensor::Tensor;
use parking_lot::Mutex;
use std::sync::Arc;

pub(super) unsafe fn params_of_module(m: *mut rt_module) -> Result<Vec<Tensor>> {
    // Each parameter once, however often it is registered (weight tying), as PyTorch's parameters().
    Ok(nn::parameters(&*args::module(m, "m")?))
}

pub(super) unsafe fn params_of_list(params: *const *mut rt_tensor, n: usize) -> Result<Vec<Tensor>> {
    let handles = args::slice(params, n, "params")?;
    if let Some(i) = handles.iter().position(|h| h.is_null()) {
        bail!(NullArgument, "argument `params[{i}]` is NULL; pass {n} tensor handles");
    }
    handles.iter().enumerate().map(|(i, &h)| args::tensor(h, &format!("params[{i}]"))).collect()
}

pub(super) unsafe fn put_optimizer(out: *mut *mut rt_optimizer, params: Vec<Tensor>, lr: f64, rule: Box<dyn Rule>) -> Result<()> {
    let opt = Optimizer::new(params, lr, rule)?;
    let h = handle::insert(Object::Optimizer(Arc::new(Mutex::new(opt))))?;
    put(out, h as *mut rt_optimizer)
}

fn optimizer(o: *const rt_optimizer) -> Result<Arc<Mutex<Optimizer>>> {
    match handle::get(o as usize, Kind::Optimizer).map_err(|e| crate::error::Error::new(e.code, format!("argument `o` {}", e.message)))? {
        Object::Optimizer(o) => Ok(o),
        _ => unreachable!("kind was checked"),
    }
}

/// SGD over the module's parameters that require grad.
#[no_mangle]
pub unsafe extern "C" fn rt_optimizer_sgd(
    m: *mut rt_module,
    lr: f64,
    momentum: f64,
    weight_decay: f64,
    out: *mut *mut rt_optimizer,
) -> rt_status {
    export!(rt_optimizer_sgd, [m, out], {
        let params = params_of_module(m)?;
        put_optimizer(out, params, lr, Box::new(Sgd::new(momentum, weight_decay)?))
    })
}

/// Adam over the module's parameters that require grad.
#[no_mangle]
pub unsafe extern "C" fn rt_optimizer_adam(
    m: *mut rt_module,
    lr: f64,
    beta1: f64,
    beta2: f64,
    eps: f64,
    weight_decay: f64,
    out: *mut *mut rt_optimizer,
) -> rt_status {
    export!(rt_optimizer_adam, [m, out], {
        let params = params_of_module(m)?;
        put_optimizer(out, params, lr, Box::new(Adam::new(beta1, beta2, eps, weight_decay)?))
    })
}

/// SGD over a list of tensors (those that require grad).
#[no_mangle]
pub unsafe extern "C" fn rt_optimizer_sgd_tensors(
    params: *const *mut rt_tensor,
    n: usize,
    lr: f64,
    momentum: f64,
    weight_decay: f64,
    out: *mut *mut rt_optimizer,
) -> rt_status {
    export!(rt_optimizer_sgd_tensors, [out], {
        let params = params_of_list(params, n)?;
        put_optimizer(out, params, lr, Box::new(Sgd::new(momentum, weight_decay)?))
    })
}

/// Adam over a list of tensors (those that require grad).
#[no_mangle]
pub unsafe extern "C" fn rt_optimizer_adam_tensors(
    params: *const *mut rt_tensor,
    n: usize,
    lr: f64,
    beta1: f64,
    beta2: f64,
    eps: f64,
    weight_decay: f64,
    out: *mut *mut rt_optimizer,
) -> rt_status {
    export!(rt_optimizer_adam_tensors, [out], {
        let params = params_of_list(params, n)?;
        put_optimizer(out, params, lr, Box::new(Adam::new(beta1, beta2, eps, weight_decay)?))
    })
}

/// Changes the learning rate (for schedules).
#[no_mangle]
pub unsafe extern "C" fn rt_optimizer_set_lr(o: *mut rt_optimizer, lr: f64) -> rt_status {
    export!(rt_optimizer_set_lr, [o], { optimizer(o)?.lock().set_lr(lr) })
}

/// Updates every parameter that has a gradient, in place, without recording.
#[no_mangle]
pub unsafe extern "C" fn rt_optimizer_step(o: *mut rt_optimizer) -> rt_status {
    export!(rt_optimizer_step, [o], { optimizer(o)?.lock().step() })
}

/// Sets every parameter's gradient to none.
#[no_mangle]
pub unsafe extern "C" fn rt_optimizer_zero_grad(o: *mut rt_optimizer) -> rt_status {
    export!(rt_optimizer_zero_grad, [o], {
        optimizer(o)?.lock().zero_grad();
        Ok(())
    })
}

/// Releases an optimizer handle; NULL is a no-op.
#[no_mangle]
pub unsafe extern "C" fn rt_optimizer_free(o: *mut rt_optimizer) -> rt_status {
    export!(rt_optimizer_free, [], {
        if o.is_null() {
            return Ok(());
        }
        handle::remove(o as usize, Kind::Optimizer).map_err(|e| crate::error::Error::new(e.code, format!("argument `o` {}", e.message)))
    })
}
