//! Scratch room a kernel keeps per thread between calls, so that a large buffer is not mapped
//! and faulted in afresh by every call.

use std::cell::RefCell;
use std::thread::LocalKey;

/// Runs `f` with this thread's room in `key`, or with a fresh one when a call further up this
/// thread's stack already holds it: only a kernel that re-entered itself would, which none does,
/// and a private room keeps even that case correct.
pub fn with_room<T: Default + 'static, R>(key: &'static LocalKey<RefCell<T>>, f: impl FnOnce(&mut T) -> R) -> R {
    key.with(|cell| match cell.try_borrow_mut() {
        Ok(mut held) => f(&mut held),
        Err(_) => f(&mut T::default()),
    })
}
