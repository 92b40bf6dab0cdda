//! Small tensors freed through the C API are kept per thread and reused as the outputs of
//! elementwise ops of the same size. An op on a few elements otherwise spends most of its time
//! allocating, building and freeing the tensor, its storage and its buffer.
//!
//! Only a tensor nothing else can reach is kept: no other reference and no weak edge (a graph's
//! leaf), no view, no history or gradient, and library-owned storage that nothing else shares. A
//! kept tensor's bytes leave the memory statistics when it is freed and come back, as a new
//! allocation, when it is reused, so the statistics read as if nothing were kept. At most
//! `MAX_KEPT` tensors of at most `MAX_BYTES` each wait per thread.

use crate::layout::Layout;
use crate::storage::DType;
use crate::tensor::{Tensor, TensorImpl};
use std::cell::RefCell;
use std::sync::Arc;

const MAX_KEPT: usize = 4;
const MAX_BYTES: usize = 4096;

thread_local! {
    static KEPT: RefCell<Vec<Arc<TensorImpl>>> = const { RefCell::new(Vec::new()) };
}

/// Drops `t`, keeping its allocations on this thread for reuse when nothing else can reach them.
pub fn release(t: Tensor) {
    let mut t = t.0;
    if keepable(&mut t) {
        // The oldest kept tensor makes room, so the sizes kept follow the sizes in use; it is
        // dropped after the borrow ends.
        let _evicted = KEPT.try_with(|k| {
            let mut k = k.borrow_mut();
            let evicted = if k.len() == MAX_KEPT { Some(k.remove(0)) } else { None };
            k.push(t);
            evicted
        });
    }
}

/// Whether `t` can be kept; if so its storage is parked (out of the statistics).
fn keepable(t: &mut Arc<TensorImpl>) -> bool {
    let Some(imp) = Arc::get_mut(t) else { return false };
    let meta = imp.meta.get_mut();
    if imp.view.is_some() || meta.grad_fn.is_some() || meta.grad.is_some() {
        return false;
    }
    let Some(storage) = Arc::get_mut(&mut imp.storage) else { return false };
    storage.dtype() == DType::F32 && storage.len() * 4 <= MAX_BYTES && storage.park()
}

/// A contiguous F32 tensor of `shape` made from a kept one, with `fill` writing every element,
/// or None when this thread keeps none of that size.
pub fn reuse_f32(shape: &[usize], inference: bool, fill: impl FnOnce(&mut [f32])) -> Option<Tensor> {
    let n = crate::shape::numel(shape);
    if n * 4 > MAX_BYTES {
        return None;
    }
    let mut t = KEPT
        .try_with(|k| {
            let mut k = k.borrow_mut();
            let i = k.iter().position(|t| t.storage.len() == n)?;
            Some(k.swap_remove(i))
        })
        .ok()
        .flatten()?;
    let imp = Arc::get_mut(&mut t).expect("a kept tensor is held only by this thread");
    if !imp.layout.is_contiguous_of(shape) {
        imp.layout = Layout::contiguous(shape);
    }
    *imp.requires_grad.get_mut() = false;
    let storage = Arc::get_mut(&mut imp.storage).expect("a kept storage is held only by its tensor");
    storage.unpark(inference);
    let out = storage.slice_exclusive();
    debug_assert_eq!(out.len(), n);
    fill(out);
    Some(Tensor(t))
}
