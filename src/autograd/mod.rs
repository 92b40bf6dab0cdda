//! Reverse-mode automatic differentiation: grad modes, graph nodes, the backward engine and the
//! derivatives of each op family.

pub mod engine;
pub mod functions;
pub mod mode;
pub mod node;
