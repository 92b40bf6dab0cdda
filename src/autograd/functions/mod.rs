//! Derivatives, one file per op family. Each `Backward` maps the output gradient to its inputs'
//! gradients; the formula is written beside each.

pub mod arith;
pub mod inplace;
pub mod linalg;
pub mod reduce;
pub mod unary;
pub mod views;
