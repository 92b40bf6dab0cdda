//! Modules (API.md section 4).

use super::args::{self, put, put_module, put_tensor};
use super::handle::{self, Kind};
use super::{export, types::*};
use crate::error::{bail, Result};
use crate::nn::{self, Functional, Linear, Sequential};
use crate::ops::UnaryOp;
use std::ffi::c_char;
use std::sync::Arc;

fn positive(v: i64, name: &str) -> Result<usize> {
    if v <= 0 {
        bail!(InvalidArgument, "`{name}` is {v}; it must be positive");
    }
    usize::try_from(v).map_err(|_| crate::error::err!(InvalidArgument, "`{name}` = {v} is too large"))
}

/// Linear(in_features, out_features) with PyTorch's default initialisation.
#[no_mangle]
pub unsafe extern "C" fn rt_module_linear(in_features: i64, out_features: i64, bias: bool, out: *mut *mut rt_module) -> rt_status {
    export!(rt_module_linear, [out], {
        let m = Linear::new(positive(in_features, "in_features")?, positive(out_features, "out_features")?, bias)?;
        put_module(out, Arc::new(m))
    })
}

unsafe fn activation(type_name: &'static str, op: UnaryOp, out: *mut *mut rt_module) -> Result<()> {
    put_module(out, Arc::new(Functional::activation(type_name, op)))
}

#[no_mangle]
pub unsafe extern "C" fn rt_module_relu(out: *mut *mut rt_module) -> rt_status {
    export!(rt_module_relu, [out], { activation("ReLU", UnaryOp::Relu, out) })
}

#[no_mangle]
pub unsafe extern "C" fn rt_module_gelu(out: *mut *mut rt_module) -> rt_status {
    export!(rt_module_gelu, [out], { activation("GELU", UnaryOp::Gelu, out) })
}

#[no_mangle]
pub unsafe extern "C" fn rt_module_sigmoid(out: *mut *mut rt_module) -> rt_status {
    export!(rt_module_sigmoid, [out], { activation("Sigmoid", UnaryOp::Sigmoid, out) })
}

#[no_mangle]
pub unsafe extern "C" fn rt_module_tanh(out: *mut *mut rt_module) -> rt_status {
    export!(rt_module_tanh, [out], { activation("Tanh", UnaryOp::Tanh, out) })
}

/// A container running children in order; it keeps shared references (the caller still frees
/// its own child handles).
#[no_mangle]
pub unsafe extern "C" fn rt_module_sequential(children: *const *mut rt_module, n: usize, out: *mut *mut rt_module) -> rt_status {
    export!(rt_module_sequential, [out], {
        let handles = args::slice(children, n, "children")?;
        if let Some(i) = handles.iter().position(|h| h.is_null()) {
            bail!(NullArgument, "argument `children[{i}]` is NULL; pass {n} module handles");
        }
        let mods = handles.iter().enumerate().map(|(i, &h)| args::module(h, &format!("children[{i}]"))).collect::<Result<Vec<_>>>()?;
        put_module(out, Arc::new(Sequential::new(mods)?))
    })
}

/// Runs the module on input (rt_module_forward_n with one input); concurrent-safe in eval mode.
#[no_mangle]
pub unsafe extern "C" fn rt_module_forward(m: *const rt_module, input: *const rt_tensor, out: *mut *mut rt_tensor) -> rt_status {
    export!(rt_module_forward, [m, input, out], {
        let m = args::module(m, "m")?;
        let x = args::tensor(input, "input")?;
        put_tensor(out, m.forward(&x)?)
    })
}

/// Runs the module on `n_inputs` inputs (entries may be NULL where the module allows it; built-in
/// modules take exactly one). Concurrent-safe in eval mode.
#[no_mangle]
pub unsafe extern "C" fn rt_module_forward_n(
    m: *const rt_module,
    inputs: *const *const rt_tensor,
    n_inputs: usize,
    out: *mut *mut rt_tensor,
) -> rt_status {
    export!(rt_module_forward_n, [m, out], {
        let m = args::module(m, "m")?;
        let handles = args::slice(inputs, n_inputs, "inputs")?;
        let xs = handles.iter().enumerate().map(|(i, &h)| args::opt_tensor(h, &format!("inputs[{i}]"))).collect::<Result<Vec<_>>>()?;
        put_tensor(out, m.forward_n(&xs)?)
    })
}

/// Training (true) or eval (false) mode, recursively.
#[no_mangle]
pub unsafe extern "C" fn rt_module_train(m: *mut rt_module, training: bool) -> rt_status {
    export!(rt_module_train, [m], {
        nn::train(&*args::module(m, "m")?, training);
        Ok(())
    })
}

#[no_mangle]
pub unsafe extern "C" fn rt_module_is_training(m: *const rt_module, out: *mut bool) -> rt_status {
    export!(rt_module_is_training, [m, out], { put(out, args::module(m, "m")?.is_training()) })
}

/// Number of parameters and buffers (the state_dict's size).
#[no_mangle]
pub unsafe extern "C" fn rt_module_num_tensors(m: *const rt_module, out: *mut usize) -> rt_status {
    export!(rt_module_num_tensors, [m, out], { put(out, nn::state_dict(&*args::module(m, "m")?).len()) })
}

/// The state_dict name of tensor `index`, NUL-terminated; *len is always set to its length.
#[no_mangle]
pub unsafe extern "C" fn rt_module_tensor_name(
    m: *const rt_module,
    index: usize,
    buf: *mut c_char,
    cap: usize,
    len: *mut usize,
) -> rt_status {
    export!(rt_module_tensor_name, [m, len], {
        let sd = nn::state_dict(&*args::module(m, "m")?);
        match sd.get(index) {
            Some((name, _)) => args::put_name(name, buf, cap, len),
            None => bail!(InvalidArgument, "`index` {index} is out of range: the module has {} tensors", sd.len()),
        }
    })
}

/// A new handle to the module's own tensor at dotted path `name` (same storage, requires_grad,
/// grad, version); non-persistent buffers too.
#[no_mangle]
pub unsafe extern "C" fn rt_module_get_tensor(m: *const rt_module, name: *const c_char, out: *mut *mut rt_tensor) -> rt_status {
    export!(rt_module_get_tensor, [m, name, out], {
        let m = args::module(m, "m")?;
        let name = args::string(name, "name")?;
        put_tensor(out, nn::get_tensor(&m, name)?)
    })
}

/// Clears every parameter's gradient (sets it to none, as PyTorch's zero_grad).
#[no_mangle]
pub unsafe extern "C" fn rt_module_zero_grad(m: *mut rt_module) -> rt_status {
    export!(rt_module_zero_grad, [m], {
        for t in nn::parameters(&*args::module(m, "m")?) {
            t.meta().grad = None;
        }
        Ok(())
    })
}

/// Releases a module handle; NULL is a no-op. Containers keep their own references to children.
#[no_mangle]
pub unsafe extern "C" fn rt_module_free(m: *mut rt_module) -> rt_status {
    export!(rt_module_free, [], {
        if m.is_null() {
            return Ok(());
        }
        handle::remove(m as usize, Kind::Module).map_err(|e| crate::error::Error::new(e.code, format!("argument `m` {}", e.message)))
    })
}
