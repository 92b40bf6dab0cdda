//! Handles: generation-checked slots, so a freed, stale, foreign or wrong-kind handle is detected
//! without ever reading freed memory.
//!
//! A handle is an address inside a range this library reserves with PROT_NONE and never touches:
//! `base + (slot << 17 | generation << 5 | kind << 3)`. Foreign runtimes see an ordinary,
//! 8-byte-aligned pointer that is not in their heap (Go's collector rejects pointers into its own
//! heap or below 4096). The slot table's chunks are never freed, so a lookup is always a read of
//! live memory.
//!
//! The hot path takes no lock shared between slots. A slot's state word holds its generation, a
//! LIVE bit and a LOCKED bit: a lookup locks the slot with one compare-exchange that also checks the
//! generation, clones the object (a reference count) and unlocks with a plain store; a free does
//! the same but takes the object and bumps the generation. The lock is held for those few
//! instructions only, so a racing lookup or free spins briefly instead of sleeping.
//!
//! Freed slots are reused in FIFO order and only once more than `MIN_FREE` are waiting, so a
//! stale handle stays detectable across at least `MIN_FREE << GEN_BITS` later allocations. Each
//! thread moves slot indices to and from the shared FIFO in batches of `BATCH` (the only mutex,
//! taken once per `BATCH` handles made or freed).

use crate::error::{err, Result};
use crate::io::SafeTensors;
use crate::nn::Module;
use crate::optim::Optimizer;
use crate::tensor::Tensor;
use parking_lot::Mutex;
use std::cell::{RefCell, UnsafeCell};
use std::collections::VecDeque;
use std::sync::atomic::{AtomicPtr, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Kind {
    Tensor = 0,
    Module = 1,
    Optimizer = 2,
    Safetensors = 3,
}

impl Kind {
    fn from_bits(b: usize) -> Kind {
        match b & 3 {
            0 => Kind::Tensor,
            1 => Kind::Module,
            2 => Kind::Optimizer,
            _ => Kind::Safetensors,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Kind::Tensor => "tensor",
            Kind::Module => "module",
            Kind::Optimizer => "optimizer",
            Kind::Safetensors => "safetensors",
        }
    }
}

#[derive(Clone)]
pub enum Object {
    Tensor(Tensor),
    Module(Arc<dyn Module>),
    Optimizer(Arc<Mutex<Optimizer>>),
    Safetensors(Arc<SafeTensors>),
}

impl Object {
    fn kind(&self) -> Kind {
        match self {
            Object::Tensor(_) => Kind::Tensor,
            Object::Module(_) => Kind::Module,
            Object::Optimizer(_) => Kind::Optimizer,
            Object::Safetensors(_) => Kind::Safetensors,
        }
    }
}

const ALIGN_BITS: u32 = 3;
const KIND_BITS: u32 = 2;
const GEN_BITS: u32 = 12;
const GEN_MASK: usize = (1 << GEN_BITS) - 1;
const SLOT_SHIFT: u32 = ALIGN_BITS + KIND_BITS + GEN_BITS;
const CHUNK_BITS: u32 = 12;
const CHUNK: usize = 1 << CHUNK_BITS;
const MAX_CHUNKS: usize = 1024;
const MIN_FREE: usize = 1024;
const BATCH: usize = 32;

/// Bits of a slot's state word below its generation.
const LOCKED: usize = 1;
const LIVE: usize = 2;
const FLAG_BITS: u32 = 2;

struct Slot {
    /// `generation << FLAG_BITS | LIVE | LOCKED`.
    state: AtomicUsize,
    /// Read or written only by the thread that holds LOCKED, or (while not LIVE) by the one thread
    /// that holds the slot's index, taken from the free FIFO.
    object: UnsafeCell<Option<Object>>,
}

// SAFETY: `object` is accessed only under the protocol above, which the state word's
// acquire/release operations order between threads, and objects may move between threads:
const _: () = {
    const fn send_sync<T: Send + Sync>() {}
    send_sync::<Object>()
};
unsafe impl Sync for Slot {}

impl Slot {
    /// Locks the slot if it is live in `generation`; false when it is not (freed or stale).
    fn lock(&self, generation: usize) -> bool {
        let live = generation << FLAG_BITS | LIVE;
        let mut spins = 0u32;
        loop {
            match self.state.compare_exchange(live, live | LOCKED, Ordering::Acquire, Ordering::Relaxed) {
                Ok(_) => return true,
                Err(s) if s == live | LOCKED => {
                    // Another thread is cloning or taking the object: a few instructions, unless
                    // it was preempted, so yield after a while.
                    spins += 1;
                    if spins < 64 {
                        std::hint::spin_loop();
                    } else {
                        std::thread::yield_now();
                    }
                }
                Err(_) => return false,
            }
        }
    }
}

struct Table {
    base: usize,
    max_slots: usize,
    chunks: [AtomicPtr<Slot>; MAX_CHUNKS],
    free: Mutex<Free>,
}

/// Slot indices not in use and not held in any thread's cache.
struct Free {
    fifo: VecDeque<usize>,
    /// Slots below this index have been handed out at least once.
    fresh: usize,
}

fn table() -> &'static Table {
    static TABLE: OnceLock<Table> = OnceLock::new();
    TABLE.get_or_init(|| {
        let (base, bits) = reserve();
        let max_slots = (1usize << (bits - SLOT_SHIFT)).min(MAX_CHUNKS * CHUNK);
        Table {
            base,
            max_slots,
            chunks: [const { AtomicPtr::new(std::ptr::null_mut()) }; MAX_CHUNKS],
            free: Mutex::new(Free { fifo: VecDeque::new(), fresh: 0 }),
        }
    })
}

/// Reserves the largest address range it can (never touched), returning its base and size in bits.
fn reserve() -> (usize, u32) {
    for bits in (SLOT_SHIFT + 10..=SLOT_SHIFT + 22).rev() {
        // SAFETY: an anonymous PROT_NONE mapping with no address hint changes no existing mapping.
        let p = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                1usize << bits,
                libc::PROT_NONE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE,
                -1,
                0,
            )
        };
        if p != libc::MAP_FAILED {
            return (p as usize, bits);
        }
    }
    // No range at all: fall back to a leaked allocation (still never dereferenced through handles).
    let bits = SLOT_SHIFT + 10;
    let v: &'static mut [u8] = Box::leak(vec![0u8; 1 << bits].into_boxed_slice());
    (v.as_ptr() as usize, bits)
}

/// This thread's slot indices: `ready` to hand out (already aged in the FIFO, or fresh) and
/// `freed` on their way to the FIFO. Returned to the FIFO when the thread exits.
struct Cache {
    ready: Vec<usize>,
    freed: Vec<usize>,
}

impl Drop for Cache {
    fn drop(&mut self) {
        let mut f = table().free.lock();
        f.fifo.extend(self.freed.drain(..));
        f.fifo.extend(self.ready.drain(..));
    }
}

thread_local! {
    static CACHE: RefCell<Cache> = const { RefCell::new(Cache { ready: Vec::new(), freed: Vec::new() }) };
}

impl Table {
    fn slot(&self, index: usize) -> Option<&Slot> {
        let chunk = self.chunks.get(index >> CHUNK_BITS)?.load(Ordering::Acquire);
        // SAFETY: a published chunk holds CHUNK slots and is never freed or moved.
        (!chunk.is_null()).then(|| unsafe { &*chunk.add(index & (CHUNK - 1)) })
    }

    /// Moves up to `BATCH` slot indices into `ready`: from the FIFO's front when more than
    /// `MIN_FREE` wait there, else fresh ones, else whatever the FIFO has left (none when every
    /// slot is in use).
    fn refill(&self, ready: &mut Vec<usize>) {
        let mut f = self.free.lock();
        if f.fifo.len() > MIN_FREE {
            let n = (f.fifo.len() - MIN_FREE).min(BATCH);
            take_front(&mut f.fifo, n, ready);
        } else if f.fresh < self.max_slots {
            let end = (f.fresh + BATCH).min(self.max_slots);
            for c in f.fresh >> CHUNK_BITS..=(end - 1) >> CHUNK_BITS {
                if self.chunks[c].load(Ordering::Relaxed).is_null() {
                    // Collected straight into the heap: a chunk built as an array value would sit
                    // on the stack first (128 KiB), a frame the caller's thread may not have.
                    let chunk: Box<[Slot]> =
                        (0..CHUNK).map(|_| Slot { state: AtomicUsize::new(0), object: UnsafeCell::new(None) }).collect();
                    self.chunks[c].store(Box::into_raw(chunk) as *mut Slot, Ordering::Release);
                }
            }
            // Reversed so the cache, popping from its end, hands them out in order.
            ready.extend((f.fresh..end).rev());
            f.fresh = end;
        } else {
            let n = f.fifo.len().min(BATCH);
            take_front(&mut f.fifo, n, ready);
        }
    }

    /// A free slot's index, now held by the caller alone; None when every slot is in use.
    fn take_index(&self) -> Option<usize> {
        let cached = CACHE.try_with(|c| {
            let mut c = c.borrow_mut();
            if c.ready.is_empty() {
                self.refill(&mut c.ready);
            }
            c.ready.pop()
        });
        // This thread's cache is gone (a call from a thread-exit destructor): use the FIFO directly.
        cached.unwrap_or_else(|_| {
            let mut some = Vec::new();
            self.refill(&mut some);
            let index = some.pop();
            self.free.lock().fifo.extend(some);
            index
        })
    }

    fn put_index(&self, index: usize) {
        let cached = CACHE.try_with(|c| {
            let mut c = c.borrow_mut();
            c.freed.push(index);
            if c.freed.len() >= BATCH {
                let mut f = self.free.lock();
                f.fifo.extend(c.freed.drain(..));
            }
        });
        if cached.is_err() {
            self.free.lock().fifo.push_back(index);
        }
    }

    fn encode(&self, index: usize, generation: usize, kind: Kind) -> usize {
        self.base + (index << SLOT_SHIFT | generation << (ALIGN_BITS + KIND_BITS) | (kind as usize) << ALIGN_BITS)
    }

    /// The slot a handle names and the generation it claims, after checking range and kind.
    #[inline]
    fn decode(&self, h: usize, kind: Kind) -> std::result::Result<(&Slot, usize), Bad> {
        let off = h.wrapping_sub(self.base);
        if off >= self.max_slots << SLOT_SHIFT || off & ((1 << ALIGN_BITS) - 1) != 0 {
            return Err(Bad::Foreign);
        }
        let found = Kind::from_bits(off >> ALIGN_BITS);
        if found != kind {
            return Err(Bad::WrongKind(found));
        }
        let generation = (off >> (ALIGN_BITS + KIND_BITS)) & GEN_MASK;
        let slot = self.slot(off >> SLOT_SHIFT).ok_or(Bad::NeverIssued)?;
        Ok((slot, generation))
    }

    /// The slot of a live handle, locked.
    #[inline]
    fn lock(&self, h: usize, kind: Kind) -> std::result::Result<(&Slot, usize), Bad> {
        let (slot, generation) = self.decode(h, kind)?;
        if slot.lock(generation) {
            Ok((slot, generation))
        } else {
            Err(Bad::Stale)
        }
    }
}

/// Moves the first `n` indices of `fifo` to the end of `to`, in order.
fn take_front(fifo: &mut VecDeque<usize>, n: usize, to: &mut Vec<usize>) {
    let (a, b) = fifo.as_slices();
    let from_a = n.min(a.len());
    to.extend_from_slice(&a[..from_a]);
    to.extend_from_slice(&b[..n - from_a]);
    fifo.drain(..n);
}

/// Why a handle was refused; turned into an error message off the hot path.
#[derive(Clone, Copy)]
enum Bad {
    Foreign,
    WrongKind(Kind),
    NeverIssued,
    Stale,
}

#[cold]
fn all_in_use(max_slots: usize) -> crate::error::Error {
    err!(OutOfMemory, "all {max_slots} handles are in use; free handles you no longer need")
}

#[cold]
#[inline(never)]
fn refused(bad: Bad, kind: Kind) -> crate::error::Error {
    match bad {
        Bad::Foreign => err!(InvalidHandle, "is not a {} handle made by this library (foreign or corrupted pointer)", kind.name()),
        Bad::WrongKind(found) => err!(InvalidHandle, "is a {} handle where a {} handle is required", found.name(), kind.name()),
        Bad::NeverIssued => err!(InvalidHandle, "is not a live {} handle (never issued by this library)", kind.name()),
        Bad::Stale => err!(InvalidHandle, "is a {} handle that was already freed (or is stale); use a live handle", kind.name()),
    }
}

/// Stores `obj` and returns its new handle.
#[inline]
pub fn insert(obj: Object) -> Result<usize> {
    let t = table();
    let Some(index) = t.take_index() else {
        return Err(all_in_use(t.max_slots));
    };
    let slot = t.slot(index).expect("slot was made with its index");
    let generation = slot.state.load(Ordering::Relaxed) >> FLAG_BITS;
    let kind = obj.kind();
    // SAFETY: the slot is not LIVE and this thread holds its index, so no one else touches it; its
    // object was taken when it was freed, so nothing is overwritten without being dropped.
    unsafe { slot.object.get().write(Some(obj)) };
    slot.state.store(generation << FLAG_BITS | LIVE, Ordering::Release);
    Ok(t.encode(index, generation, kind))
}

/// `f` of the object behind a live handle of `kind`, called with the slot locked (so `f` must be
/// quick: a clone).
#[inline]
fn read<R>(h: usize, kind: Kind, f: impl FnOnce(&Object) -> R) -> Result<R> {
    let (slot, generation) = table().lock(h, kind).map_err(|b| refused(b, kind))?;
    // SAFETY: this thread holds the slot's lock.
    let r = unsafe { (*slot.object.get()).as_ref().map(f) };
    slot.state.store(generation << FLAG_BITS | LIVE, Ordering::Release);
    r.ok_or_else(|| refused(Bad::Stale, kind))
}

/// The object behind a live handle of `kind`.
pub fn get(h: usize, kind: Kind) -> Result<Object> {
    read(h, kind, Object::clone)
}

/// The tensor behind a live tensor handle.
pub fn get_tensor(h: usize) -> Result<Tensor> {
    let t = read(h, Kind::Tensor, |o| match o {
        Object::Tensor(t) => Some(t.clone()),
        _ => None,
    })?;
    // Checked after the slot is unlocked: a panic while it is locked would leave it locked.
    Ok(t.expect("a slot holds an object of its handle's kind"))
}

/// Frees a handle; a second free of the same handle fails with RT_ERR_INVALID_HANDLE.
pub fn remove(h: usize, kind: Kind) -> Result<()> {
    // Dropped after the slot is released: it may run a blob deleter or free a large graph.
    match take(h, kind)? {
        Object::Tensor(t) => crate::recycle::release(t),
        other => drop(other),
    }
    Ok(())
}

/// Frees a handle and returns its object (a handle a callback made, turned back into a value).
pub fn take(h: usize, kind: Kind) -> Result<Object> {
    let t = table();
    let (slot, generation) = t.lock(h, kind).map_err(|b| refused(b, kind))?;
    // SAFETY: this thread holds the slot's lock.
    let obj = unsafe { (*slot.object.get()).take() };
    slot.state.store(((generation + 1) & GEN_MASK) << FLAG_BITS, Ordering::Release);
    t.put_index((h - t.base) >> SLOT_SHIFT);
    obj.ok_or_else(|| refused(Bad::Stale, kind))
}
