//! The C-visible types and constants. Enumerations cross the boundary as `uint32_t`.

#![allow(non_camel_case_types)]

/// Status code returned by every fallible function; `RT_OK` is 0.
pub type rt_status = u32;
/// Element type: `RT_DTYPE_F32`, `RT_DTYPE_I64` or `RT_DTYPE_BOOL`.
pub type rt_dtype = u32;

pub const RT_ABI_VERSION: u32 = 1;

/// The most dimensions a tensor may have; larger `ndim` arguments are refused before the array
/// is read.
pub const RT_MAX_DIMS: usize = 64;

/// The deepest nesting of modules (a Sequential inside a Sequential ...): forward, train, naming
/// and freeing recurse once per level, and this many levels fit in a 128 KiB thread stack.
pub const RT_MAX_MODULE_DEPTH: usize = 64;

pub const RT_OK: rt_status = 0;
pub const RT_ERR_NULL_ARGUMENT: rt_status = 1;
pub const RT_ERR_INVALID_ARGUMENT: rt_status = 2;
pub const RT_ERR_INVALID_HANDLE: rt_status = 3;
pub const RT_ERR_SHAPE: rt_status = 4;
pub const RT_ERR_DTYPE: rt_status = 5;
pub const RT_ERR_AUTOGRAD: rt_status = 6;
pub const RT_ERR_INFERENCE_MODE: rt_status = 7;
pub const RT_ERR_INVALID_STATE: rt_status = 8;
pub const RT_ERR_IO: rt_status = 9;
pub const RT_ERR_FORMAT: rt_status = 10;
pub const RT_ERR_OUT_OF_MEMORY: rt_status = 11;
pub const RT_ERR_UNSUPPORTED: rt_status = 12;
pub const RT_ERR_BUFFER_TOO_SMALL: rt_status = 13;
pub const RT_ERR_INTERNAL: rt_status = 14;

pub const RT_DTYPE_F32: rt_dtype = 0;
pub const RT_DTYPE_I64: rt_dtype = 1;
/// One byte per element, 0 or 1 (API.md 7.B).
pub const RT_DTYPE_BOOL: rt_dtype = 2;

/// An n-dimensional array of F32, I64 or BOOL values (opaque).
pub struct rt_tensor {
    _private: [u8; 0],
}

/// A layer or container of layers (opaque).
pub struct rt_module {
    _private: [u8; 0],
}

/// An SGD or Adam optimizer over a set of parameters (opaque).
pub struct rt_optimizer {
    _private: [u8; 0],
}

/// Process-wide tensor storage accounting (see rt_memory_stats_get).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct rt_memory_stats {
    /// Storage of live tensors owned by the library (not caches or kernel scratch).
    pub live_bytes: u64,
    /// Max of live_bytes since the last reset.
    pub peak_bytes: u64,
    /// Storage allocations since start.
    pub alloc_count: u64,
    /// Zero; room to grow without an ABI change.
    pub reserved: [u64; 5],
}

/// An opened safetensors file (opaque): its whole content, validated, held in memory.
pub struct rt_safetensors {
    _private: [u8; 0],
}
