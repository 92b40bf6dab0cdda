//! Large tensor buffers, kept when freed and handed to the next allocation of the same layout.
//!
//! glibc serves a buffer above its mmap threshold with a fresh mapping and unmaps it when it is
//! freed, so a forward pass over large activations faulted in (and the kernel zeroed) every page
//! of every buffer again on every call: 5.7k page faults per ResNet basic block on 8 x 64 x 56 x 56,
//! a quarter of its time. Kept blocks are not tensors: they are outside the memory statistics, at
//! most `KEEP_BYTES` in all (the oldest go first), and all of them are freed before an allocation
//! that failed is tried again, so keeping never turns into an out-of-memory error.

use parking_lot::Mutex;
use std::alloc::Layout;
use std::ptr::NonNull;

/// Smaller buffers come from malloc's own free lists, which reuse them already.
const MIN_BYTES: usize = 1 << 20;
/// The most kept at once: a few activations of a large layer.
const KEEP_BYTES: usize = 64 << 20;

struct Block {
    ptr: NonNull<u8>,
    layout: Layout,
}

// SAFETY: a kept block is memory nothing else references; whoever takes it owns it.
unsafe impl Send for Block {}

/// Kept blocks, oldest first.
static KEPT: Mutex<Vec<Block>> = Mutex::new(Vec::new());

/// A kept block of exactly `layout`, now the caller's (its contents are old values), if any.
pub fn take(layout: Layout) -> Option<NonNull<u8>> {
    if layout.size() < MIN_BYTES {
        return None;
    }
    let mut kept = KEPT.lock();
    let i = kept.iter().rposition(|b| b.layout == layout)?;
    Some(kept.remove(i).ptr)
}

/// Offers a block that is being freed. True when it is kept; false when the caller frees it.
///
/// # Safety
/// `ptr` must come from the global allocator with `layout`, and nothing may use it afterwards.
pub unsafe fn keep(ptr: NonNull<u8>, layout: Layout) -> bool {
    if layout.size() < MIN_BYTES || layout.size() > KEEP_BYTES {
        return false;
    }
    let mut evicted = Vec::new();
    {
        let mut kept = KEPT.lock();
        kept.push(Block { ptr, layout });
        let mut total: usize = kept.iter().map(|b| b.layout.size()).sum();
        while total > KEEP_BYTES {
            let oldest = kept.remove(0);
            total -= oldest.layout.size();
            evicted.push(oldest);
        }
    }
    // Freed outside the lock.
    for b in evicted {
        // SAFETY: kept blocks came from the global allocator with their layout (keep's contract).
        unsafe { std::alloc::dealloc(b.ptr.as_ptr(), b.layout) };
    }
    true
}

/// Frees every kept block; returns whether there was any (an allocation that failed is then
/// worth trying again).
pub fn release_all() -> bool {
    let blocks = std::mem::take(&mut *KEPT.lock());
    let any = !blocks.is_empty();
    for b in blocks {
        // SAFETY: as in `keep`.
        unsafe { std::alloc::dealloc(b.ptr.as_ptr(), b.layout) };
    }
    any
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kept_bytes() -> usize {
        KEPT.lock().iter().map(|b| b.layout.size()).sum()
    }

    #[test]
    fn a_freed_large_block_is_reused_within_the_budget() {
        let layout = Layout::array::<f32>((3 << 20) / 4 + 3).unwrap();
        // SAFETY: a fresh allocation of `layout`, given away once.
        let ptr = NonNull::new(unsafe { std::alloc::alloc(layout) }).unwrap();
        assert!(unsafe { keep(ptr, layout) });
        // Other tests may keep blocks too (the cache is process-wide), but none of this odd size.
        assert_eq!(take(layout), Some(ptr));
        assert_eq!(take(layout), None);
        let small = Layout::array::<f32>(16).unwrap();
        assert_eq!(take(small), None);
        // SAFETY: `ptr` is ours again (taken above) and was allocated with `layout`.
        unsafe { std::alloc::dealloc(ptr.as_ptr(), layout) };
        assert!(kept_bytes() <= KEEP_BYTES);
    }
}
