//! Grad modes, per OS thread (API.md section 2).

use super::{export, infallible, types::*};
use crate::autograd::mode;

/// Pushes a frame: inference = enabled, grad = !enabled.
#[no_mangle]
pub extern "C" fn rt_inference_mode_enter(enabled: bool) -> rt_status {
    export!(rt_inference_mode_enter, [], {
        mode::enter_inference(enabled);
        Ok(())
    })
}

/// Pops an inference frame; RT_ERR_INVALID_STATE (changing nothing) when the top frame is not one.
#[no_mangle]
pub extern "C" fn rt_inference_mode_exit() -> rt_status {
    export!(rt_inference_mode_exit, [], { mode::exit_inference() })
}

/// Pushes a frame with grad = enabled (false is no_grad).
#[no_mangle]
pub extern "C" fn rt_grad_mode_enter(enabled: bool) -> rt_status {
    export!(rt_grad_mode_enter, [], {
        mode::enter_grad(enabled);
        Ok(())
    })
}

/// Pops a grad frame; RT_ERR_INVALID_STATE (changing nothing) when the top frame is not one.
#[no_mangle]
pub extern "C" fn rt_grad_mode_exit() -> rt_status {
    export!(rt_grad_mode_exit, [], { mode::exit_grad() })
}

#[no_mangle]
pub extern "C" fn rt_is_grad_enabled() -> bool {
    infallible(true, mode::is_grad_enabled)
}

#[no_mangle]
pub extern "C" fn rt_is_inference_mode_enabled() -> bool {
    infallible(false, mode::is_inference_enabled)
}

/// enter(true), run fn, exit (also when fn fails); returns fn's status. Frames fn left open are
/// popped too, and then RT_ERR_INVALID_STATE is returned unless fn had already failed.
#[no_mangle]
pub unsafe extern "C" fn rt_with_inference_mode(
    f: Option<unsafe extern "C" fn(ctx: *mut std::ffi::c_void) -> rt_status>,
    ctx: *mut std::ffi::c_void,
) -> rt_status {
    let Some(f) = f else {
        return export!(rt_with_inference_mode, [], { Err(crate::error::err!(NullArgument, "argument `fn` is NULL; pass a callback")) });
    };
    let depth = mode::depth();
    mode::enter_inference(true);
    // A panic cannot come from C code; the callback's own status is passed through untouched.
    let status = f(ctx);
    let unbalanced = mode::depth() != depth + 1;
    mode::unwind_to(depth);
    if unbalanced && status == RT_OK {
        return export!(rt_with_inference_mode, [], {
            Err(crate::error::err!(InvalidState, "the callback left grad or inference frames unbalanced (open frames were closed); balance every enter with an exit inside the callback"))
        });
    }
    status
}
