//! Reference-counted element buffers. A storage is normal (with a version counter shared by every
//! view and detach alias of it) or inference (no version counter), decided once at allocation.
//! Every storage the library allocates is counted in the process-wide memory statistics while a
//! tensor uses it (one kept for reuse after its tensor was freed, see recycle.rs, is not).

use crate::buffers;
use crate::error::{err, Error, Result};
use std::any::Any;
use std::ffi::c_void;
use std::mem::MaybeUninit;
use std::ptr::NonNull;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

/// Element type of a tensor.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DType {
    /// 32-bit float: values, parameters, gradients.
    F32,
    /// 64-bit signed integer: indices and labels.
    I64,
    /// One byte per element, 0 or 1 (a byte written by a caller through a blob may hold
    /// another value: readers take any nonzero byte as true).
    Bool,
}

impl DType {
    /// Bytes per element.
    pub fn size(self) -> usize {
        match self {
            DType::F32 => 4,
            DType::I64 => 8,
            DType::Bool => 1,
        }
    }

    /// The dtype's name as in messages and the C header (`F32`, `I64`, `BOOL`).
    pub fn name(self) -> &'static str {
        match self {
            DType::F32 => "F32",
            DType::I64 => "I64",
            DType::Bool => "BOOL",
        }
    }
}

/// Element types a storage can hold.
pub trait Element: Copy + Default + Send + Sync + 'static {
    /// The dtype of elements of this Rust type.
    const DTYPE: DType;
}
impl Element for f32 {
    const DTYPE: DType = DType::F32;
}
impl Element for i64 {
    const DTYPE: DType = DType::I64;
}
/// BOOL elements are bytes, not Rust `bool`: caller memory (a blob) may hold any byte value, which
/// would be undefined behaviour in a `bool`.
impl Element for u8 {
    const DTYPE: DType = DType::Bool;
}

/// Called once with a blob's data pointer and context when its storage is dropped.
pub type BlobDeleter = unsafe extern "C" fn(data: *mut c_void, ctx: *mut c_void);

enum Owner {
    /// Allocated here (counted in the memory statistics); `elems` elements of `dtype`.
    Library,
    /// Allocated here, freed by its last user and kept for reuse (recycle.rs): not counted.
    Parked,
    /// Caller memory from rt_tensor_from_blob; the deleter runs once when the storage goes.
    Blob { deleter: Option<BlobDeleter>, data: *mut c_void, ctx: *mut c_void, armed: AtomicBool },
}

/// A buffer of elements of one dtype, shared by a tensor and its views.
pub struct Storage {
    ptr: NonNull<u8>,
    elems: usize,
    dtype: DType,
    owner: Owner,
    version: Option<AtomicU64>,
    /// Data computed from the elements (packed weights, ops/packed_weights.rs), each valid for
    /// the version it records.
    derived: Derived,
}

/// What `Storage::derived` holds: values of any type, found by downcasting.
pub(crate) type Derived = parking_lot::Mutex<Vec<Box<dyn Any + Send + Sync>>>;

// SAFETY: the buffer is plain numbers owned by this storage (or lent by a caller who promised to
// keep it alive until the deleter runs); cross-thread races on the numbers can only give wrong
// values, which the API's thread-safety rules allow for misuse.
unsafe impl Send for Storage {}
unsafe impl Sync for Storage {}

static LIVE: AtomicU64 = AtomicU64::new(0);
static PEAK: AtomicU64 = AtomicU64::new(0);
static ALLOCS: AtomicU64 = AtomicU64::new(0);

/// The process-wide tensor memory statistics (`rt_memory_stats`).
pub struct MemoryStats {
    /// Bytes of storage in use now.
    pub live_bytes: u64,
    /// Most bytes in use at once since start or the last [`reset_peak`].
    pub peak_bytes: u64,
    /// Number of storages allocated since start.
    pub alloc_count: u64,
}

/// The current memory statistics.
pub fn memory_stats() -> MemoryStats {
    MemoryStats {
        live_bytes: LIVE.load(Ordering::Relaxed),
        peak_bytes: PEAK.load(Ordering::Relaxed),
        alloc_count: ALLOCS.load(Ordering::Relaxed),
    }
}

/// Restarts peak tracking from the bytes in use now.
pub fn reset_peak() {
    PEAK.store(LIVE.load(Ordering::Relaxed), Ordering::Relaxed);
}

fn account(bytes: usize) {
    let live = LIVE.fetch_add(bytes as u64, Ordering::Relaxed) + bytes as u64;
    // Most allocations do not raise the peak, and a load costs less than a read-modify-write.
    if live > PEAK.load(Ordering::Relaxed) {
        PEAK.fetch_max(live, Ordering::Relaxed);
    }
    ALLOCS.fetch_add(1, Ordering::Relaxed);
}

impl Storage {
    /// Takes ownership of a vector's buffer.
    #[inline]
    pub fn from_vec<T: Element>(v: Vec<T>, inference: bool) -> Storage {
        let elems = v.len();
        let boxed = v.into_boxed_slice();
        // SAFETY: Box::into_raw never returns null.
        let ptr = unsafe { NonNull::new_unchecked(Box::into_raw(boxed) as *mut T as *mut u8) };
        account(elems * std::mem::size_of::<T>());
        Storage { ptr, elems, dtype: T::DTYPE, owner: Owner::Library, version: Self::counter(inference), derived: Derived::default() }
    }

    /// A zero-filled buffer; fails with RT_ERR_OUT_OF_MEMORY instead of aborting.
    pub fn zeros(dtype: DType, elems: usize, inference: bool) -> Result<Storage> {
        match dtype {
            DType::F32 => Ok(Self::from_vec(try_filled(elems, 0f32)?, inference)),
            DType::I64 => Ok(Self::from_vec(try_filled(elems, 0i64)?, inference)),
            DType::Bool => Ok(Self::from_vec(try_filled(elems, 0u8)?, inference)),
        }
    }

    /// Wraps caller memory without copying.
    ///
    /// # Safety
    /// `ptr` must be valid for reads and writes of `elems` elements of `dtype`, aligned, and stay
    /// valid until the deleter runs (or forever when there is none).
    /// `data` may be null only when `elems` is 0; the deleter gets it back exactly as given.
    pub unsafe fn from_blob(
        data: *mut c_void,
        elems: usize,
        dtype: DType,
        deleter: Option<BlobDeleter>,
        ctx: *mut c_void,
        inference: bool,
    ) -> Storage {
        let ptr = NonNull::new(data as *mut u8).unwrap_or(NonNull::<i64>::dangling().cast());
        Storage {
            ptr,
            elems,
            dtype,
            owner: Owner::Blob { deleter, data, ctx, armed: AtomicBool::new(true) },
            version: Self::counter(inference),
            derived: Derived::default(),
        }
    }

    fn counter(inference: bool) -> Option<AtomicU64> {
        if inference {
            None
        } else {
            Some(AtomicU64::new(0))
        }
    }

    /// Keeps a blob's deleter from running (used when the call that wrapped it fails).
    pub fn forget_deleter(&self) {
        if let Owner::Blob { armed, .. } = &self.owner {
            armed.store(false, Ordering::Release);
        }
    }

    /// Takes a library-owned storage out of the memory statistics, as if freed, so it can wait
    /// for reuse; false (and nothing changed) for caller memory.
    pub(crate) fn park(&mut self) -> bool {
        if !matches!(self.owner, Owner::Library) {
            return false;
        }
        LIVE.fetch_sub(self.bytes() as u64, Ordering::Relaxed);
        self.owner = Owner::Parked;
        // Its next life starts again at version 0: nothing computed in this one may carry over.
        self.derived.get_mut().clear();
        true
    }

    /// Brings a parked storage back as a new allocation of the given kind (version 0).
    pub(crate) fn unpark(&mut self, inference: bool) {
        debug_assert!(matches!(self.owner, Owner::Parked));
        account(self.bytes());
        self.owner = Owner::Library;
        self.version = Self::counter(inference);
    }

    /// The elements of a storage held through `&mut`, so no one else can be reading them.
    pub(crate) fn slice_exclusive<T: Element>(&mut self) -> &mut [T] {
        // SAFETY: `&mut self` rules out any other slice of this storage.
        unsafe { self.slice_mut() }
    }

    fn bytes(&self) -> usize {
        self.elems * self.dtype.size()
    }

    /// The element type.
    pub fn dtype(&self) -> DType {
        self.dtype
    }

    /// Number of elements.
    pub fn len(&self) -> usize {
        self.elems
    }

    /// Whether it holds no element.
    pub fn is_empty(&self) -> bool {
        self.elems == 0
    }

    /// The cache of data computed from the elements, when it can be trusted: the storage is the
    /// library's (caller memory from a blob may change behind its back) and has a version
    /// counter, which every write bumps (an inference storage has none). An entry must record the
    /// version it was computed at and be used only while `version()` still returns it.
    pub(crate) fn derived(&self) -> Option<&Derived> {
        (matches!(self.owner, Owner::Library) && self.version.is_some()).then_some(&self.derived)
    }

    /// Whether it was allocated in inference mode (and so has no version counter).
    pub fn is_inference(&self) -> bool {
        self.version.is_none()
    }

    /// The version counter, bumped by every in-place write (none on inference storage).
    pub fn version(&self) -> Option<u64> {
        self.version.as_ref().map(|v| v.load(Ordering::Acquire))
    }

    /// Records an in-place write.
    pub fn bump_version(&self) {
        if let Some(v) = &self.version {
            v.fetch_add(1, Ordering::AcqRel);
        }
    }

    /// The first byte of the buffer.
    pub fn as_ptr(&self) -> *mut u8 {
        self.ptr.as_ptr()
    }

    /// Read access to the elements.
    pub fn slice<T: Element>(&self) -> &[T] {
        assert_eq!(self.dtype, T::DTYPE, "storage dtype mismatch");
        // SAFETY: ptr holds `elems` initialised, aligned elements of T for the storage's lifetime.
        unsafe { std::slice::from_raw_parts(self.ptr.as_ptr() as *const T, self.elems) }
    }

    /// Write access for in-place ops and for filling a fresh output.
    ///
    /// # Safety
    /// The caller must not hold another slice of this storage while writing through this one
    /// (kernels copy an aliasing source first).
    #[allow(clippy::mut_from_ref)]
    pub unsafe fn slice_mut<T: Element>(&self) -> &mut [T] {
        assert_eq!(self.dtype, T::DTYPE, "storage dtype mismatch");
        std::slice::from_raw_parts_mut(self.ptr.as_ptr() as *mut T, self.elems)
    }
}

impl Drop for Storage {
    fn drop(&mut self) {
        match self.owner {
            Owner::Library | Owner::Parked => {
                if matches!(self.owner, Owner::Library) {
                    LIVE.fetch_sub(self.bytes() as u64, Ordering::Relaxed);
                }
                let layout = match self.dtype {
                    DType::F32 => std::alloc::Layout::array::<f32>(self.elems),
                    DType::I64 => std::alloc::Layout::array::<i64>(self.elems),
                    DType::Bool => std::alloc::Layout::array::<u8>(self.elems),
                };
                // SAFETY: a boxed slice of elems elements of dtype was allocated with exactly this
                // layout (from_vec), and the storage is going: nothing uses the buffer after this.
                if layout.is_ok_and(|layout| unsafe { buffers::keep(self.ptr, layout) }) {
                    return;
                }
                // SAFETY: ptr/elems came from Box<[T]>::into_raw of the same dtype in from_vec.
                unsafe {
                    match self.dtype {
                        DType::F32 => drop(Box::from_raw(std::ptr::slice_from_raw_parts_mut(self.ptr.as_ptr() as *mut f32, self.elems))),
                        DType::I64 => drop(Box::from_raw(std::ptr::slice_from_raw_parts_mut(self.ptr.as_ptr() as *mut i64, self.elems))),
                        DType::Bool => drop(Box::from_raw(std::ptr::slice_from_raw_parts_mut(self.ptr.as_ptr(), self.elems))),
                    }
                }
            }
            Owner::Blob { deleter: Some(deleter), data, ctx, ref armed } => {
                if armed.load(Ordering::Acquire) {
                    // SAFETY: the caller gave us this deleter for exactly this pointer and context.
                    unsafe { deleter(data, ctx) }
                }
            }
            Owner::Blob { deleter: None, .. } => {}
        }
    }
}

/// A vector of `n` copies of `value`, or RT_ERR_OUT_OF_MEMORY when it cannot be allocated.
pub fn try_filled<T: Copy>(n: usize, value: T) -> Result<Vec<T>> {
    let mut v = try_with_capacity(n)?;
    v.resize(n, value);
    Ok(v)
}

/// `n` zeros of a numeric element type, allocated zeroed (calloc: large buffers come as fresh zero
/// pages with no memset) or a kept large block zeroed (buffers.rs), or RT_ERR_OUT_OF_MEMORY.
pub fn try_zeroed<T: Element>(n: usize) -> Result<Vec<T>> {
    let oom =
        || err!(OutOfMemory, "cannot allocate {} elements ({} bytes); use a smaller shape", n, n.saturating_mul(std::mem::size_of::<T>()));
    if n == 0 {
        return Ok(Vec::new());
    }
    let layout = std::alloc::Layout::array::<T>(n).map_err(|_| oom())?;
    let p = match buffers::take(layout) {
        // SAFETY: a kept block of exactly `layout`, now ours. It is already mapped: zeroing it
        // costs less than faulting in fresh pages.
        Some(p) => unsafe {
            std::ptr::write_bytes(p.as_ptr(), 0, layout.size());
            p
        },
        // SAFETY: the layout has a non-zero size.
        None => buffers::retry(|| NonNull::new(unsafe { std::alloc::alloc_zeroed(layout) })).ok_or_else(oom)?,
    };
    // SAFETY: all-zero bytes are a valid f32 (0.0), i64 (0) and u8 (false), the only Element types;
    // the Vec takes the allocation with the same layout (len == cap == n).
    Ok(unsafe { Vec::from_raw_parts(p.as_ptr() as *mut T, n, n) })
}

/// An empty vector with room for `n` elements, or RT_ERR_OUT_OF_MEMORY.
#[inline]
pub fn try_with_capacity<T>(n: usize) -> Result<Vec<T>> {
    // More than isize::MAX bytes can never be allocated: no kept block is worth freeing for it.
    let layout = std::alloc::Layout::array::<T>(n).map_err(|_| too_large(n, std::mem::size_of::<T>()))?;
    if let Some(p) = buffers::take(layout) {
        // SAFETY: the block was allocated by the global allocator with exactly the layout of
        // n elements of T (size and alignment), and is ours now; the Vec holds no element yet.
        return Ok(unsafe { Vec::from_raw_parts(p.as_ptr() as *mut T, 0, n) });
    }
    buffers::retry(|| {
        let mut v = Vec::new();
        v.try_reserve_exact(n).ok().map(|()| v)
    })
    .ok_or_else(|| too_large(n, std::mem::size_of::<T>()))
}

/// `n` values written by `write` into fresh room (no zero fill first), or RT_ERR_OUT_OF_MEMORY.
///
/// # Safety
/// `write` must write every one of the `n` values it is given (a kernel that writes its whole
/// output).
pub unsafe fn try_written<T>(n: usize, write: impl FnOnce(&mut [MaybeUninit<T>])) -> Result<Vec<T>> {
    let mut v = try_with_capacity(n)?;
    write(&mut v.spare_capacity_mut()[..n]);
    // SAFETY: `write` wrote all n values (the caller's contract).
    unsafe { v.set_len(n) };
    Ok(v)
}

/// A copy of `values`, or RT_ERR_OUT_OF_MEMORY (`to_vec` would abort).
pub fn try_copy<T: Copy>(values: &[T]) -> Result<Vec<T>> {
    let mut v = try_with_capacity(values.len())?;
    v.extend_from_slice(values);
    Ok(v)
}

/// The first `n` items of `items` in a vector allocated for exactly `n`, or RT_ERR_OUT_OF_MEMORY
/// (`collect` would abort when the allocation fails).
pub fn try_collect<T>(n: usize, items: impl Iterator<Item = T>) -> Result<Vec<T>> {
    let mut v = try_with_capacity(n)?;
    v.extend(items.take(n));
    Ok(v)
}

#[cold]
fn too_large(n: usize, size: usize) -> Error {
    err!(OutOfMemory, "cannot allocate {} elements ({} bytes); use a smaller shape", n, n.saturating_mul(size))
}

/// `values[offset..offset + n]`, or nothing when `n` is 0: a view of a tensor with no elements may
/// keep an offset past the end of its storage (a narrow or select of an empty tensor).
pub fn window<T>(values: &[T], offset: usize, n: usize) -> &[T] {
    if n == 0 {
        &[]
    } else {
        &values[offset..offset + n]
    }
}

/// `values[offset..]`, or nothing when the offset lies past the end (see `window`).
pub fn from_offset<T>(values: &[T], offset: usize) -> &[T] {
    values.get(offset..).unwrap_or(&[])
}
