//! nn.Linear and nn.Conv2d weights packed once into the GEMM's panels (kernels/packed_gemm.rs
//! `PackedB`) and kept beside the weight's storage, so a model served call after call packs each
//! weight once, as ONNX Runtime's MLAS prepacks constant weights. At batch 64 of a 784 -> 256
//! layer, packing the weight costs about as much as the product itself.
//!
//! A pack is valid for the version of the storage it was made from (`Storage::derived`: only
//! library storages with a version counter, which every write bumps). A weight whose version
//! moved since the last product is being trained: it is not packed again until it holds still
//! for one product (each training step would otherwise keep a pack it uses once), and the caller
//! packs per call meanwhile, through the same GEMM and so to the same bits. Packs are outside the tensor memory statistics (they are
//! a cache, not tensors) and `BUDGET` bytes at most are kept process-wide; a weight that does not
//! fit is not cached.

use crate::kernels::packed_gemm::{Operand, PackedB};
use crate::kernels::simd::{isa, Isa};
use crate::tensor::Tensor;
use std::any::Any;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

/// Most bytes of packed weights kept at once, process-wide.
const BUDGET: usize = 64 << 20;
/// Packs kept per storage: the views of one storage used as weights (a fused q/k/v projection
/// sliced three ways) each have their own.
const PER_STORAGE: usize = 4;

static KEPT_BYTES: AtomicUsize = AtomicUsize::new(0);

/// The last use of one weight view: its version then, and its pack when it held still.
struct Entry {
    key: Key,
    version: u64,
    packed: Option<Arc<Kept>>,
}

/// Which view of the storage, packed for which kernels.
#[derive(Clone, Copy, PartialEq, Eq)]
struct Key {
    offset: usize,
    strides: [usize; 2],
    shape: [usize; 2],
    isa: Isa,
}

/// A pack counted in `KEPT_BYTES` until its last user drops it.
pub struct Kept(PackedB);

impl Kept {
    /// The packed weight.
    pub fn get(&self) -> &PackedB {
        &self.0
    }
}

impl Drop for Kept {
    fn drop(&mut self) {
        KEPT_BYTES.fetch_sub(self.0.bytes(), Ordering::Relaxed);
    }
}

/// The pack of `w` (out_features x in_features, any strides) as the B (= wᵀ) of x · wᵀ, for this
/// CPU's kernels and `w`'s current version: the kept one, or a new one that is then kept. None when
/// `w` cannot be cached (caller memory, an inference tensor), is being trained, or its pack does not
/// fit the budget or memory: the caller then packs per call.
pub fn packed_weight(w: &Tensor) -> Option<Arc<Kept>> {
    let l = w.layout();
    packed_matrix(w, Key { offset: l.offset, strides: [l.strides[0], l.strides[1]], shape: [l.shape[0], l.shape[1]], isa: isa() })
}

/// `packed_weight` for a convolution's weight (out_channels, in_channels, kh, kw), read as the
/// matrix W (out_channels x in_channels·kh·kw) of its GEMM: the pack of Wᵀ, which
/// kernels/conv.rs's forward multiplies the image's unfolding by. None also for a weight that is
/// not contiguous (the caller packs the contiguous copy it makes).
pub fn packed_conv_weight(w: &Tensor) -> Option<Arc<Kept>> {
    let (l, shape) = (w.layout(), w.shape());
    if shape.len() != 4 || !l.is_contiguous() {
        return None;
    }
    let rows = shape[1] * shape[2] * shape[3];
    packed_matrix(w, Key { offset: l.offset, strides: [rows, 1], shape: [shape[0], rows], isa: isa() })
}

/// The pack of the matrix `key` names inside `w`'s storage, as `packed_weight` says.
fn packed_matrix(w: &Tensor, key: Key) -> Option<Arc<Kept>> {
    let storage = w.storage();
    let slot = storage.derived()?;
    let version = storage.version()?;
    let find = |entries: &mut Vec<Box<dyn Any + Send + Sync>>| {
        entries.iter_mut().filter_map(|e| e.downcast_mut::<Entry>()).position(|e| e.key == key)
    };
    {
        let mut entries = slot.lock();
        if let Some(i) = find(&mut entries) {
            let e = entries[i].downcast_mut::<Entry>().expect("found as an Entry");
            if e.version != version {
                // Written since the last product: being trained. Wait for it to hold still.
                e.version = version;
                e.packed = None;
                return None;
            }
            if let Some(p) = &e.packed {
                return Some(p.clone());
            }
        }
    }
    // Packed outside the lock: another thread using the weight meanwhile packs per call.
    let packed = pack(w, key).map(Arc::new);
    let mut entries = slot.lock();
    let entry = Box::new(Entry { key, version, packed: packed.clone() });
    match find(&mut entries) {
        Some(i) => entries[i] = entry,
        None => {
            if entries.len() >= PER_STORAGE {
                entries.remove(0);
            }
            entries.push(entry);
        }
    }
    packed
}

/// Packs `w` when its pack fits the budget.
fn pack(w: &Tensor, key: Key) -> Option<Kept> {
    let [n, k] = key.shape;
    let bytes = PackedB::bytes_for(key.isa, k, n)?;
    if KEPT_BYTES.fetch_add(bytes, Ordering::Relaxed) + bytes > BUDGET {
        KEPT_BYTES.fetch_sub(bytes, Ordering::Relaxed);
        return None;
    }
    let data = w.storage().slice::<f32>();
    let b = Operand { ptr: data[key.offset..].as_ptr(), rs: key.strides[1] as isize, cs: key.strides[0] as isize };
    // SAFETY: w's layout addresses an n x k matrix inside its storage, so B = wᵀ is k x n there.
    let packed = unsafe { PackedB::new(key.isa, k, n, b) };
    if packed.is_none() {
        KEPT_BYTES.fetch_sub(bytes, Ordering::Relaxed);
    }
    packed.map(Kept)
}
