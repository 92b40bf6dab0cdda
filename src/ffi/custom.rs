//! Modules defined by the caller (API.md 7.A): a type name, a forward callback and whatever the
//! program registers into them. Everything that walks modules works on them because they hold a
//! ModuleCore like the built-ins.

use super::args::{self, put_module};
use super::error::replace_last_error;
use super::handle::{self, Kind, Object};
use super::{export, types::*};
use crate::error::{bail, err, Code, Error, Result};
use crate::nn::{self, Module, ModuleCore};
use crate::tensor::Tensor;
use std::ffi::{c_char, c_void};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Weak};

/// A caller-defined module's forward: write one new tensor handle to `*out` and return RT_OK, or
/// return an error status. `inputs` are borrowed for the call (entries may be NULL); `self_` is the
/// module being run, a handle valid during the call.
#[allow(non_camel_case_types)]
pub type rt_forward_fn = Option<
    unsafe extern "C" fn(
        ctx: *mut c_void,
        self_: *const rt_module,
        inputs: *const *const rt_tensor,
        n_inputs: usize,
        out: *mut *mut rt_tensor,
    ) -> rt_status,
>;

type CtxFree = Option<unsafe extern "C" fn(ctx: *mut c_void)>;

pub struct Custom {
    core: ModuleCore,
    forward: rt_forward_fn,
    ctx: *mut c_void,
    ctx_free: CtxFree,
    /// Set once the module's first handle exists: a failed rt_module_custom never runs ctx_free.
    armed: AtomicBool,
    /// This module, for the `self` handle its forward gets.
    me: Weak<Custom>,
}

// SAFETY: ctx is the caller's, passed through untouched; API.md asks the callback to allow
// concurrent calls in eval mode, as the built-ins do, and ctx_free to run on any thread.
unsafe impl Send for Custom {}
unsafe impl Sync for Custom {}

impl Drop for Custom {
    /// The last reference is gone: no handle and no parent holds the module any more.
    fn drop(&mut self) {
        if let (Some(free), true) = (self.ctx_free, *self.armed.get_mut()) {
            // SAFETY: the caller's finalizer, called exactly once, with its own ctx.
            unsafe { free(self.ctx) };
        }
    }
}

impl Module for Custom {
    fn core(&self) -> &ModuleCore {
        &self.core
    }

    fn forward_n(&self, inputs: &[Option<Tensor>]) -> Result<Tensor> {
        let type_name = self.core.type_name();
        let Some(forward) = self.forward else {
            bail!(
                Unsupported,
                "this {type_name} module has no forward (it was made with a NULL forward, as a container); run its children instead"
            );
        };
        let me: Arc<dyn Module> = self.me.upgrade().expect("a module being run is alive");
        let mut handles = Handles(Vec::with_capacity(inputs.len() + 1));
        let self_h = handles.add(Object::Module(me))?;
        let mut hs = Vec::with_capacity(inputs.len());
        for x in inputs {
            hs.push(match x {
                Some(t) => handles.add(Object::Tensor(t.clone()))? as *const rt_tensor,
                None => std::ptr::null(),
            });
        }
        let mut out: *mut rt_tensor = std::ptr::null_mut();
        let what = || format!("the forward of {type_name}");
        // SAFETY: the caller's callback, given live handles and a writable out.
        call_back(what, || unsafe { forward(self.ctx, self_h as *const rt_module, hs.as_ptr(), hs.len(), &mut out) })?;
        drop(handles);
        if out.is_null() {
            bail!(InvalidState, "the forward of {type_name} returned RT_OK without writing a tensor handle to *out");
        }
        match handle::take(out as usize, Kind::Tensor) {
            Ok(Object::Tensor(t)) => Ok(t),
            _ => bail!(InvalidState, "the forward of {type_name} returned RT_OK but *out is not a live tensor handle"),
        }
    }
}

/// Handles made for one callback, freed when it returns (those the callback freed itself, against
/// the rules, are skipped).
struct Handles(Vec<(usize, Kind)>);

impl Handles {
    fn add(&mut self, obj: Object) -> Result<usize> {
        let kind = if matches!(obj, Object::Tensor(_)) { Kind::Tensor } else { Kind::Module };
        let h = handle::insert(obj)?;
        self.0.push((h, kind));
        Ok(h)
    }
}

impl Drop for Handles {
    fn drop(&mut self) {
        for &(h, kind) in &self.0 {
            let _ = handle::take(h, kind);
        }
    }
}

/// Runs a caller's callback. Its status is returned as an error with the last error that a call
/// inside it set, prefixed by `what`, or a sentence saying it failed when nothing inside did.
/// On success the thread's last error is left as it was before.
pub(crate) fn call_back(what: impl Fn() -> String, f: impl FnOnce() -> rt_status) -> Result<()> {
    let before = replace_last_error(String::new());
    let status = f();
    let inside = replace_last_error(before);
    if status == RT_OK {
        return Ok(());
    }
    let Some(code) = code_of(status) else {
        bail!(InvalidState, "{} returned {status}, which is not an rt_status code", what());
    };
    if inside.is_empty() {
        // SAFETY: rt_status_str returns a static NUL-terminated string for every code.
        let full = unsafe { std::ffi::CStr::from_ptr(super::error::rt_status_str(status)) }.to_string_lossy();
        let name = full.split(':').next().unwrap_or_default();
        return Err(Error::new(code, format!("{} returned {name} without any call inside it failing", what())));
    }
    Err(Error::new(code, format!("{}: {inside}", what())))
}

fn code_of(status: rt_status) -> Option<Code> {
    Some(match status {
        RT_ERR_NULL_ARGUMENT => Code::NullArgument,
        RT_ERR_INVALID_ARGUMENT => Code::InvalidArgument,
        RT_ERR_INVALID_HANDLE => Code::InvalidHandle,
        RT_ERR_SHAPE => Code::Shape,
        RT_ERR_DTYPE => Code::Dtype,
        RT_ERR_AUTOGRAD => Code::Autograd,
        RT_ERR_INFERENCE_MODE => Code::InferenceMode,
        RT_ERR_INVALID_STATE => Code::InvalidState,
        RT_ERR_IO => Code::Io,
        RT_ERR_FORMAT => Code::Format,
        RT_ERR_OUT_OF_MEMORY => Code::OutOfMemory,
        RT_ERR_UNSUPPORTED => Code::Unsupported,
        RT_ERR_BUFFER_TOO_SMALL => Code::BufferTooSmall,
        RT_ERR_INTERNAL => Code::Internal,
        _ => return None,
    })
}

/// The custom module behind `m`, or RT_ERR_UNSUPPORTED for a built-in.
fn custom(m: &Arc<dyn Module>) -> Result<&Custom> {
    nn::downcast::<Custom>(&**m).ok_or_else(|| {
        err!(
            Unsupported,
            "argument `m` is a built-in {} module, whose parts are fixed; register into modules made with rt_module_custom",
            m.core().type_name()
        )
    })
}

/// An empty module in training mode whose forward is `forward` (NULL: a container).
#[no_mangle]
pub unsafe extern "C" fn rt_module_custom(
    type_name: *const c_char,
    forward: rt_forward_fn,
    ctx: *mut c_void,
    ctx_free: Option<unsafe extern "C" fn(ctx: *mut c_void)>,
    out: *mut *mut rt_module,
) -> rt_status {
    export!(rt_module_custom, [type_name, out], {
        let name = args::string(type_name, "type_name")?;
        if name.is_empty() {
            bail!(InvalidArgument, "argument `type_name` is empty; pass the module's class name");
        }
        let m = Arc::new_cyclic(|me| Custom {
            core: ModuleCore::new(name.to_string()),
            forward,
            ctx,
            ctx_free,
            armed: AtomicBool::new(false),
            me: me.clone(),
        });
        put_module(out, m.clone())?;
        m.armed.store(true, Ordering::Relaxed);
        Ok(())
    })
}

/// Registers `child` under `name` in the custom module `m` (shared: the caller still frees its
/// handle). No cycles, no nest deeper than RT_MAX_MODULE_DEPTH.
#[no_mangle]
pub unsafe extern "C" fn rt_module_register_module(m: *mut rt_module, name: *const c_char, child: *const rt_module) -> rt_status {
    export!(rt_module_register_module, [m, name, child], {
        let m = args::module(m, "m")?;
        let child = args::module(child, "child")?;
        let target = custom(&m)?;
        target.core.register_module(args::string(name, "name")?, child)
    })
}

/// Registers the F32 leaf `t` as parameter `name` of the custom module `m`, with requires_grad
/// set as rt_tensor_set_requires_grad would.
#[no_mangle]
pub unsafe extern "C" fn rt_module_register_parameter(
    m: *mut rt_module,
    name: *const c_char,
    t: *mut rt_tensor,
    requires_grad: bool,
) -> rt_status {
    export!(rt_module_register_parameter, [m, name, t], {
        let m = args::module(m, "m")?;
        let t = args::tensor(t, "t")?;
        let target = custom(&m)?;
        target.core.register_parameter(args::string(name, "name")?, t, requires_grad)
    })
}

/// Registers `t` (any dtype) as buffer `name` of the custom module `m`; a non-persistent one is
/// left out of the state_dict.
#[no_mangle]
pub unsafe extern "C" fn rt_module_register_buffer(
    m: *mut rt_module,
    name: *const c_char,
    t: *mut rt_tensor,
    persistent: bool,
) -> rt_status {
    export!(rt_module_register_buffer, [m, name, t], {
        let m = args::module(m, "m")?;
        let t = args::tensor(t, "t")?;
        let target = custom(&m)?;
        target.core.register_buffer(args::string(name, "name")?, t, persistent)
    })
}

/// A new handle to the module at dotted `path` below `m` ("" is `m` itself).
#[no_mangle]
pub unsafe extern "C" fn rt_module_get_module(m: *const rt_module, path: *const c_char, out: *mut *mut rt_module) -> rt_status {
    export!(rt_module_get_module, [m, path, out], {
        let m = args::module(m, "m")?;
        put_module(out, nn::get_module(&m, args::string(path, "path")?)?)
    })
}

/// The module's type name (PyTorch's class name for built-ins), NUL-terminated; *len is always set.
#[no_mangle]
pub unsafe extern "C" fn rt_module_type_name(m: *const rt_module, buf: *mut c_char, cap: usize, len: *mut usize) -> rt_status {
    export!(rt_module_type_name, [m, len], {
        let m = args::module(m, "m")?;
        args::put_name(m.core().type_name(), buf, cap, len)
    })
}
