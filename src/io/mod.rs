//! Files: safetensors reading (validated, never mapped) and writing, and module state load/save.

#[doc(hidden)]
pub mod dtype;
#[doc(hidden)]
pub mod header;
pub mod module;
pub mod safetensors;

pub use safetensors::SafeTensors;
