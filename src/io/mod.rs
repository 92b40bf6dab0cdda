//! Files: safetensors reading (validated, never mapped) and writing, and module state load/save.

pub mod dtype;
pub mod header;
pub mod module;
pub mod safetensors;

pub use safetensors::SafeTensors;
