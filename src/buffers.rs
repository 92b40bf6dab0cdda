//! Large tensor buffers, kept when freed and handed to the next allocation of the same layout.
//!
//! glibc serves a buffer above its mmap threshold with a fresh mapping and unmaps it when it is
//! freed (and trims the top of its heap once more than twice that threshold is free), so a forward
//! pass over large activations faulted in (and the kernel zeroed) every page of every buffer again
//! on every call: 86k page faults per ResNet basic block bench run, a quarter of its time.
//!
//! Kept blocks are not tensors: they are outside the memory statistics, at most `KEEP_BYTES` in
//! all (the oldest go first), and all of them are freed before an allocation that failed is tried
//! again, so keeping never turns into an out-of-memory error.
//!
//! A kept block must never cost the process address space it asked to have, so the cache steps
//! aside (keeps nothing, and frees what it kept at the next large allocation or free) while:
//! - RLIMIT_AS or RLIMIT_DATA (which counts anonymous mappings too) is finite: the retry above
//!   serves only this library's allocations, and the embedding program's own would fail on the
//!   blocks held here. Every large allocation and free asks getrlimit: two syscalls, about 1 us
//!   on this 2-vCPU VM, against the 30 us or more it takes to fill 1 MiB.
//! - the process runs under valgrind: a memory checker must see every free (a kept block would
//!   hide a use after free from it), and memcheck aborts the process when its shadow memory does
//!   not fit under RLIMIT_AS. Blocks kept before bad_inputs' tests lowered the limit, freed under
//!   it, gave a later allocation the room the test had measured for it but not for its shadow.
//!
//! glibc raises its mmap threshold to the size of each mapped block freed, and smaller buffers
//! (an MLP step's 200-800 KiB ones) are then served from its heap with no page faults. Keeping
//! every large block would hide those frees and leave the threshold low (an MLP training step after
//! a larger model: 0.6 -> 1.9 ms), so the first block of each new largest size goes back to glibc:
//! its threshold then moves exactly as it would without this cache, and only the repeats are kept.

use parking_lot::Mutex;
use std::alloc::Layout;
use std::ptr::NonNull;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;

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

struct Cache {
    /// Kept blocks, oldest first.
    kept: Mutex<Vec<Block>>,
    /// The largest block freed to glibc so far: glibc's mmap threshold has seen it.
    largest_freed: AtomicUsize,
    /// Whether the cache must keep nothing now (see the module's comment).
    steps_aside: fn() -> bool,
}

/// The process's cache (tests make their own).
static CACHE: Cache = Cache::new(|| under_valgrind() || address_space_limited());

/// Whether valgrind runs this process (its RUNNING_ON_VALGRIND client request), asked once.
fn under_valgrind() -> bool {
    static ANSWER: OnceLock<bool> = OnceLock::new();
    *ANSWER.get_or_init(|| {
        #[cfg(target_arch = "x86_64")]
        {
            // valgrind.h's request block: the request (VG_USERREQ__RUNNING_ON_VALGRIND) and five
            // arguments.
            let request: [u64; 6] = [0x1001, 0, 0, 0, 0, 0];
            let answer: u64;
            // SAFETY: valgrind.h's client request preamble for amd64: four rotations of rdi by 128
            // bits in all and `xchg rbx, rbx` leave every register as it was, except the flags; under
            // valgrind, which reads the block at rax, rdx receives the answer (the nesting depth).
            unsafe {
                std::arch::asm!(
                    "rol rdi, 3", "rol rdi, 13", "rol rdi, 61", "rol rdi, 51", "xchg rbx, rbx",
                    in("rax") request.as_ptr(),
                    inout("rdx") 0u64 => answer,
                    options(nostack, readonly),
                );
            }
            answer != 0
        }
        #[cfg(not(target_arch = "x86_64"))]
        false
    })
}

/// True when RLIMIT_AS or RLIMIT_DATA is finite (or cannot be read).
fn address_space_limited() -> bool {
    [libc::RLIMIT_AS, libc::RLIMIT_DATA].into_iter().any(|resource| {
        let mut limit = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
        // SAFETY: getrlimit writes one rlimit through a pointer to a live one.
        unsafe { libc::getrlimit(resource, &mut limit) != 0 || limit.rlim_cur != libc::RLIM_INFINITY }
    })
}

impl Cache {
    const fn new(steps_aside: fn() -> bool) -> Cache {
        Cache { kept: Mutex::new(Vec::new()), largest_freed: AtomicUsize::new(0), steps_aside }
    }

    fn take(&self, layout: Layout) -> Option<NonNull<u8>> {
        if layout.size() < MIN_BYTES {
            return None;
        }
        if (self.steps_aside)() {
            self.release_all();
            return None;
        }
        let mut kept = self.kept.lock();
        let i = kept.iter().rposition(|b| b.layout == layout)?;
        Some(kept.remove(i).ptr)
    }

    /// # Safety
    /// As [`keep`].
    unsafe fn keep(&self, ptr: NonNull<u8>, layout: Layout) -> bool {
        let size = layout.size();
        if !(MIN_BYTES..=KEEP_BYTES).contains(&size) {
            return false;
        }
        if (self.steps_aside)() {
            self.release_all();
            return false;
        }
        if self.largest_freed.fetch_max(size, Ordering::Relaxed) < size {
            return false;
        }
        let mut evicted = Vec::new();
        {
            let mut kept = self.kept.lock();
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

    fn release_all(&self) -> bool {
        let blocks = std::mem::take(&mut *self.kept.lock());
        let any = !blocks.is_empty();
        for b in blocks {
            // SAFETY: as in `keep`.
            unsafe { std::alloc::dealloc(b.ptr.as_ptr(), b.layout) };
        }
        any
    }

    fn retry<T>(&self, mut alloc: impl FnMut() -> Option<T>) -> Option<T> {
        alloc().or_else(|| if self.release_all() { alloc() } else { None })
    }
}

/// A kept block of exactly `layout`, now the caller's (its contents are old values), if any.
pub fn take(layout: Layout) -> Option<NonNull<u8>> {
    CACHE.take(layout)
}

/// Offers a block that is being freed. True when it is kept; false when the caller frees it.
///
/// # Safety
/// `ptr` must come from the global allocator with `layout`, and nothing may use it afterwards.
pub unsafe fn keep(ptr: NonNull<u8>, layout: Layout) -> bool {
    // SAFETY: the caller's promise.
    unsafe { CACHE.keep(ptr, layout) }
}

/// `alloc()`, tried once more after every kept block is freed when it fails (None), so keeping
/// never turns into an out-of-memory error.
pub fn retry<T>(alloc: impl FnMut() -> Option<T>) -> Option<T> {
    CACHE.retry(alloc)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicBool;

    fn kept_bytes(cache: &Cache) -> usize {
        cache.kept.lock().iter().map(|b| b.layout.size()).sum()
    }

    fn alloc(layout: Layout) -> NonNull<u8> {
        // SAFETY: the layouts here have a non-zero size.
        NonNull::new(unsafe { std::alloc::alloc(layout) }).unwrap()
    }

    #[test]
    fn a_freed_large_block_is_reused_within_the_budget() {
        let cache = Cache::new(|| false);
        let layout = Layout::array::<f32>((48 << 20) / 4 + 3).unwrap();
        // The first block of a new largest size goes back to glibc (its threshold must see it).
        let first = alloc(layout);
        assert!(!unsafe { cache.keep(first, layout) });
        // SAFETY: not kept, so still ours, allocated with `layout`.
        unsafe { std::alloc::dealloc(first.as_ptr(), layout) };
        let ptr = alloc(layout);
        assert!(unsafe { cache.keep(ptr, layout) });
        assert_eq!(cache.take(layout), Some(ptr));
        assert_eq!(cache.take(layout), None);
        assert_eq!(cache.take(Layout::array::<f32>(16).unwrap()), None);
        // Two such blocks exceed the budget: keeping the second frees the first.
        let other = alloc(layout);
        assert!(unsafe { cache.keep(ptr, layout) });
        assert!(unsafe { cache.keep(other, layout) });
        assert_eq!(kept_bytes(&cache), layout.size());
        assert_eq!(cache.take(layout), Some(other));
        // SAFETY: `other` is ours again (taken above) and was allocated with `layout`.
        unsafe { std::alloc::dealloc(other.as_ptr(), layout) };
    }

    #[test]
    fn a_failed_allocation_is_retried_once_after_the_kept_blocks_are_freed() {
        let cache = Cache::new(|| false);
        let mut calls = 0;
        assert_eq!(
            cache.retry(|| -> Option<()> {
                calls += 1;
                None
            }),
            None
        );
        assert_eq!(calls, 1, "nothing kept: nothing to free, no second try");
        let layout = Layout::array::<u8>(MIN_BYTES).unwrap();
        cache.largest_freed.store(MIN_BYTES, Ordering::Relaxed);
        assert!(unsafe { cache.keep(alloc(layout), layout) });
        let mut calls = 0;
        assert_eq!(
            cache.retry(|| {
                calls += 1;
                (calls == 2).then_some(7)
            }),
            Some(7)
        );
        assert_eq!(kept_bytes(&cache), 0);
    }

    #[test]
    fn while_the_cache_steps_aside_nothing_is_kept_and_kept_blocks_are_freed() {
        static ASIDE: AtomicBool = AtomicBool::new(false);
        let cache = Cache::new(|| ASIDE.load(Ordering::Relaxed));
        let layout = Layout::array::<u8>(MIN_BYTES).unwrap();
        cache.largest_freed.store(MIN_BYTES, Ordering::Relaxed);
        assert!(unsafe { cache.keep(alloc(layout), layout) });
        ASIDE.store(true, Ordering::Relaxed);
        assert_eq!(cache.take(Layout::array::<u8>(2 * MIN_BYTES).unwrap()), None);
        assert_eq!(kept_bytes(&cache), 0, "any large allocation then frees every kept block");
        let ptr = alloc(layout);
        assert!(!unsafe { cache.keep(ptr, layout) });
        // SAFETY: not kept, so still ours, allocated with `layout`.
        unsafe { std::alloc::dealloc(ptr.as_ptr(), layout) };
        ASIDE.store(false, Ordering::Relaxed);
        let ptr = alloc(layout);
        assert!(unsafe { cache.keep(ptr, layout) }, "kept again once the cache is back");
        assert_eq!(cache.take(layout), Some(ptr));
        // SAFETY: taken back, allocated with `layout`.
        unsafe { std::alloc::dealloc(ptr.as_ptr(), layout) };
    }

    #[test]
    fn a_reused_block_is_zeroed_for_a_zeroed_request() {
        // An odd size no other test allocates; the first block may go back to glibc (see `keep`).
        let n = (1 << 20) / 4 + 5;
        let layout = Layout::array::<f32>(n).unwrap();
        let mut kept = None;
        for _ in 0..2 {
            let mut v = crate::storage::try_filled(n, 1.5f32).unwrap();
            let ptr = NonNull::new(v.as_mut_ptr() as *mut u8).unwrap();
            std::mem::forget(v);
            // SAFETY: the vector's buffer, allocated with `layout` (len == cap == n), given away.
            if unsafe { keep(ptr, layout) } {
                kept = Some(ptr);
                break;
            }
            // SAFETY: not kept, so still ours.
            unsafe { std::alloc::dealloc(ptr.as_ptr(), layout) };
        }
        let kept = kept.expect("the second block of a size is kept");
        let z = crate::storage::try_zeroed::<f32>(n).unwrap();
        assert_eq!(z.as_ptr() as *const u8, kept.as_ptr(), "the kept block is reused");
        assert!(z.iter().all(|&x| x == 0.0));
    }
}
