//! Reverse-mode automatic differentiation: grad modes, graph nodes, the backward engine and the
//! derivatives of each op family.

pub mod engine;
#[doc(hidden)]
pub mod functions;
pub mod mode;
#[doc(hidden)]
pub mod node;
