//! Per-OS-thread grad state (API.md section 2): two flags and a stack of frames.
//! The ops layer reads the flags once per op; worker threads never read them.

use crate::error::{bail, Result};
use std::cell::{Cell, RefCell};
use std::marker::PhantomData;

/// This thread's grad-mode flags.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GradState {
    /// Grad mode: ops record a graph (unless inference mode is on).
    pub grad: bool,
    /// Inference mode: nothing is recorded and new tensors are inference tensors.
    pub inference: bool,
}

impl GradState {
    /// Whether ops record a graph: grad mode on and inference mode off.
    pub fn recording(self) -> bool {
        self.grad && !self.inference
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum FrameKind {
    Inference,
    Grad,
}

struct Frame {
    kind: FrameKind,
    saved: GradState,
}

const DEFAULT: GradState = GradState { grad: true, inference: false };

thread_local! {
    static STATE: Cell<GradState> = const { Cell::new(DEFAULT) };
    static FRAMES: RefCell<Vec<Frame>> = const { RefCell::new(Vec::new()) };
}

/// This thread's current flags.
pub fn state() -> GradState {
    STATE.with(Cell::get)
}

/// Whether grad mode is on on this thread (`torch.is_grad_enabled`).
pub fn is_grad_enabled() -> bool {
    state().grad
}

/// Whether inference mode is on on this thread (`torch.is_inference_mode_enabled`).
pub fn is_inference_enabled() -> bool {
    state().inference
}

fn push(kind: FrameKind, next: GradState) {
    let saved = state();
    FRAMES.with(|f| f.borrow_mut().push(Frame { kind, saved }));
    STATE.with(|s| s.set(next));
}

fn pop(kind: FrameKind) -> Result<()> {
    FRAMES.with(|f| {
        let mut frames = f.borrow_mut();
        let (want, other) = match kind {
            FrameKind::Inference => ("inference", "grad"),
            FrameKind::Grad => ("grad", "inference"),
        };
        match frames.last() {
            None => bail!(InvalidState, "no {want}-mode frame is open on this thread; call the matching enter first, on the same thread"),
            Some(top) if top.kind != kind => {
                bail!(InvalidState, "the innermost open frame on this thread is a {other}-mode frame; exit it first (frames nest strictly)")
            }
            Some(top) => {
                let saved = top.saved;
                frames.pop();
                STATE.with(|s| s.set(saved));
                Ok(())
            }
        }
    })
}

/// Inference mode on (grad off) or, with `false`, both back to normal (grad on).
pub fn enter_inference(enabled: bool) {
    let grad = !enabled;
    push(FrameKind::Inference, GradState { grad, inference: enabled });
}

/// Closes the innermost frame, which must be an inference-mode frame, restoring the flags it saved.
pub fn exit_inference() -> Result<()> {
    pop(FrameKind::Inference)
}

/// Grad mode on or off (no_grad); inference mode is kept as it is.
pub fn enter_grad(enabled: bool) {
    let inference = state().inference;
    push(FrameKind::Grad, GradState { grad: enabled, inference });
}

/// Closes the innermost frame, which must be a grad-mode frame, restoring the flags it saved.
pub fn exit_grad() -> Result<()> {
    pop(FrameKind::Grad)
}

/// Number of frames open on this thread (used to unwind frames a callback left open).
pub fn depth() -> usize {
    FRAMES.with(|f| f.borrow().len())
}

/// Pops frames until `depth` remain, restoring the state saved by the outermost popped frame.
pub fn unwind_to(depth: usize) {
    FRAMES.with(|f| {
        let mut frames = f.borrow_mut();
        if frames.len() > depth {
            let saved = frames[depth].saved;
            frames.truncate(depth);
            STATE.with(|s| s.set(saved));
        }
    })
}

/// RAII inference mode for Rust callers; not Send, since the state belongs to this thread.
///
/// ```
/// use infer::autograd::mode::{is_inference_enabled, InferenceModeGuard};
/// use infer::ops::inplace::{self, Inplace};
/// use infer::{creation, ops, Code};
///
/// let w = creation::from_slice(&[1f32, 2.], &[2])?;
/// w.set_requires_grad(true)?;
/// let y = {
///     let _guard = InferenceModeGuard::new(true);
///     assert!(is_inference_enabled());
///     let y = ops::mul_scalar(&w, 3.0)?;
///     assert!(y.is_inference() && y.grad_fn().is_none() && !y.requires_grad());
///     // Inside the mode an inference tensor can be modified in place.
///     inplace::apply(&y, None, Inplace::AddScalar(1.0))?;
///     y
/// }; // the guard drops: the mode is restored
/// assert!(!is_inference_enabled());
/// assert_eq!(y.to_vec_f32(), vec![4., 7.]);
/// // Outside it, the same write is refused (rule I6) and changes nothing.
/// let e = inplace::apply(&y, None, Inplace::AddScalar(1.0)).unwrap_err();
/// assert_eq!(e.code, Code::InferenceMode);
/// assert_eq!(y.to_vec_f32(), vec![4., 7.]);
/// # Ok::<(), infer::Error>(())
/// ```
pub struct InferenceModeGuard {
    _not_send: PhantomData<*const ()>,
}

impl InferenceModeGuard {
    /// Enters inference mode (`torch.inference_mode(enabled)`) until the guard drops.
    pub fn new(enabled: bool) -> Self {
        enter_inference(enabled);
        InferenceModeGuard { _not_send: PhantomData }
    }
}

impl Drop for InferenceModeGuard {
    fn drop(&mut self) {
        let _ = exit_inference();
    }
}

/// RAII grad mode (`GradModeGuard::new(false)` is no_grad).
///
/// ```
/// use infer::autograd::mode::GradModeGuard;
/// use infer::{creation, ops};
///
/// let w = creation::randn(&[3])?;
/// w.set_requires_grad(true)?;
/// let y = {
///     let _no_grad = GradModeGuard::new(false);
///     ops::mul_scalar(&w, 2.0)?
/// };
/// assert!(y.grad_fn().is_none() && !y.requires_grad() && !y.is_inference());
/// # Ok::<(), infer::Error>(())
/// ```
pub struct GradModeGuard {
    _not_send: PhantomData<*const ()>,
}

impl GradModeGuard {
    /// Sets grad mode (`torch.set_grad_enabled(enabled)`; `false` is `no_grad`) until the guard drops.
    pub fn new(enabled: bool) -> Self {
        enter_grad(enabled);
        GradModeGuard { _not_send: PhantomData }
    }
}

impl Drop for GradModeGuard {
    fn drop(&mut self) {
        let _ = exit_grad();
    }
}

/// Runs `f` inside inference mode.
pub fn with_inference_mode<R>(f: impl FnOnce() -> R) -> R {
    let _guard = InferenceModeGuard::new(true);
    f()
}

/// Runs `f` with grad mode off.
pub fn no_grad<R>(f: impl FnOnce() -> R) -> R {
    let _guard = GradModeGuard::new(false);
    f()
}
