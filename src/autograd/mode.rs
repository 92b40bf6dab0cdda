//! Per-OS-thread grad state (API.md section 2): two flags and a stack of frames.
//! The ops layer reads the flags once per op; worker threads never read them.

use crate::error::{bail, Result};
use std::cell::{Cell, RefCell};
use std::marker::PhantomData;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GradState {
    pub grad: bool,
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

pub fn state() -> GradState {
    STATE.with(Cell::get)
}

pub fn is_grad_enabled() -> bool {
    state().grad
}

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

pub fn exit_inference() -> Result<()> {
    pop(FrameKind::Inference)
}

/// Grad mode on or off (no_grad); inference mode is kept as it is.
pub fn enter_grad(enabled: bool) {
    let inference = state().inference;
    push(FrameKind::Grad, GradState { grad: enabled, inference });
}

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
pub struct InferenceModeGuard {
    _not_send: PhantomData<*const ()>,
}

impl InferenceModeGuard {
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
pub struct GradModeGuard {
    _not_send: PhantomData<*const ()>,
}

impl GradModeGuard {
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
