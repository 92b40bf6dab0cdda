//! Derivatives, one file per op family. Each `Backward` maps the output gradient to its inputs'
//! gradients; the formula is written beside each.

pub mod arith;
pub mod attention;
pub mod conv;
pub mod dropout;
pub mod embedding;
pub mod index;
pub mod inplace;
pub mod linalg;
pub mod loss;
pub mod mask;
pub mod norm;
pub mod pool;
pub mod reduce;
pub mod rms_norm;
pub mod rotary;
pub mod softmax;
pub mod unary;
pub mod views;
