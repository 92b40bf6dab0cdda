//! Handles: generation-checked slots, so a freed, stale, foreign or wrong-kind handle is detected
//! without ever reading freed memory.
//!
//! A handle is an address inside a range this library reserves with PROT_NONE and never touches:
//! `base + (slot << 17 | generation << 5 | kind << 3)`. Foreign runtimes see an ordinary,
//! 8-byte-aligned pointer that is not in their heap (Go's collector rejects pointers into its own
//! heap or below 4096). The slot table's chunks are never freed, so a lookup is always a read of
//! live memory; each slot has its own lock, so lookups do not contend on a global lock.
//! Freed slots are reused in FIFO order and only once more than `MIN_FREE` are waiting, so a
//! stale handle stays detectable across at least `MIN_FREE << GEN_BITS` later allocations.

use crate::error::{bail, err, Result};
use crate::io::SafeTensors;
use crate::nn::Module;
use crate::optim::Optimizer;
use crate::tensor::Tensor;
use parking_lot::Mutex;
use std::collections::VecDeque;
use std::sync::atomic::{AtomicPtr, Ordering};
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
const SLOT_SHIFT: u32 = ALIGN_BITS + KIND_BITS + GEN_BITS;
const CHUNK_BITS: u32 = 12;
const CHUNK: usize = 1 << CHUNK_BITS;
const MAX_CHUNKS: usize = 1024;
const MIN_FREE: usize = 1024;

#[derive(Default)]
struct Slot {
    generation: usize,
    object: Option<Object>,
}

type Chunk = [Mutex<Slot>; CHUNK];

struct Table {
    base: usize,
    max_slots: usize,
    chunks: [AtomicPtr<Chunk>; MAX_CHUNKS],
    alloc: Mutex<Alloc>,
}

struct Alloc {
    free: VecDeque<usize>,
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
            alloc: Mutex::new(Alloc { free: VecDeque::new(), fresh: 0 }),
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

impl Table {
    fn slot(&self, index: usize) -> Option<&Mutex<Slot>> {
        let chunk = self.chunks.get(index >> CHUNK_BITS)?.load(Ordering::Acquire);
        // SAFETY: a published chunk is never freed or moved.
        unsafe { chunk.as_ref() }.map(|c| &c[index & (CHUNK - 1)])
    }

    fn take_slot(&self) -> Result<usize> {
        let mut a = self.alloc.lock();
        if a.free.len() <= MIN_FREE && a.fresh < self.max_slots {
            let index = a.fresh;
            let c = index >> CHUNK_BITS;
            if self.chunks[c].load(Ordering::Acquire).is_null() {
                let chunk: Box<Chunk> = Box::new(std::array::from_fn(|_| Mutex::new(Slot::default())));
                self.chunks[c].store(Box::into_raw(chunk), Ordering::Release);
            }
            a.fresh += 1;
            return Ok(index);
        }
        a.free.pop_front().ok_or_else(|| err!(OutOfMemory, "all {} handles are in use; free handles you no longer need", self.max_slots))
    }

    fn encode(&self, index: usize, generation: usize, kind: Kind) -> usize {
        self.base + (index << SLOT_SHIFT | generation << (ALIGN_BITS + KIND_BITS) | (kind as usize) << ALIGN_BITS)
    }

    /// The slot a handle names and the generation it claims, after checking kind and range.
    fn decode(&self, h: usize, kind: Kind) -> Result<(&Mutex<Slot>, usize)> {
        let size = self.max_slots << SLOT_SHIFT;
        if h < self.base || h >= self.base + size || h & ((1 << ALIGN_BITS) - 1) != 0 {
            bail!(InvalidHandle, "is not a {} handle made by this library (foreign or corrupted pointer)", kind.name());
        }
        let off = h - self.base;
        let found = Kind::from_bits(off >> ALIGN_BITS);
        if found != kind {
            bail!(InvalidHandle, "is a {} handle where a {} handle is required", found.name(), kind.name());
        }
        let generation = (off >> (ALIGN_BITS + KIND_BITS)) & ((1 << GEN_BITS) - 1);
        match self.slot(off >> SLOT_SHIFT) {
            Some(s) => Ok((s, generation)),
            None => bail!(InvalidHandle, "is not a live {} handle (never issued by this library)", kind.name()),
        }
    }
}

fn stale(kind: Kind) -> crate::error::Error {
    err!(InvalidHandle, "is a {} handle that was already freed (or is stale); use a live handle", kind.name())
}

/// Stores `obj` and returns its new handle.
pub fn insert(obj: Object) -> Result<usize> {
    let t = table();
    let index = t.take_slot()?;
    let slot = t.slot(index).expect("slot was just made");
    let mut s = slot.lock();
    let kind = obj.kind();
    s.object = Some(obj);
    Ok(t.encode(index, s.generation, kind))
}

/// The object behind a live handle of `kind`.
pub fn get(h: usize, kind: Kind) -> Result<Object> {
    let (slot, generation) = table().decode(h, kind)?;
    let s = slot.lock();
    match &s.object {
        Some(o) if s.generation == generation => Ok(o.clone()),
        _ => Err(stale(kind)),
    }
}

/// Frees a handle; a second free of the same handle fails with RT_ERR_INVALID_HANDLE.
pub fn remove(h: usize, kind: Kind) -> Result<()> {
    let t = table();
    let (slot, generation) = t.decode(h, kind)?;
    let obj = {
        let mut s = slot.lock();
        if s.generation != generation || s.object.is_none() {
            return Err(stale(kind));
        }
        s.generation = (s.generation + 1) & ((1 << GEN_BITS) - 1);
        s.object.take()
    };
    let index = (h - t.base) >> SLOT_SHIFT;
    t.alloc.lock().free.push_back(index);
    // Dropped outside the slot lock: it may run a blob deleter or free a large graph.
    drop(obj);
    Ok(())
}
