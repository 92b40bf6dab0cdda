//! The dispatch layer: validate, run the kernel, record a node when grad mode is on, inference
//! mode is off and an input requires grad. The only code that reads the thread's grad state.

pub mod arith;
pub mod attention;
pub mod compare;
pub mod conv;
pub mod copy;
pub mod dropout;
pub mod embedding;
pub mod inplace;
pub mod linalg;
pub mod loss;
pub mod mask;
pub mod norm;
pub mod packed_weights;
pub mod pool;
#[doc(hidden)] // the shared computations below ops/, not part of the Rust API
pub use crate::compute::raw;
#[doc(hidden)]
pub mod record;
pub mod reduce;
pub mod rms_norm;
pub mod rotary;
pub mod softmax;
pub mod unary;
pub mod views;

pub use arith::{add, add_scalar, binary, div, mul, mul_scalar, pow_scalar, sub};
pub use attention::scaled_dot_product_attention;
pub use conv::conv2d;
pub(crate) use conv::conv2d_relu;
pub use copy::{cat, clone, contiguous, to};
pub use dropout::dropout;
pub use embedding::embedding;
pub use linalg::{linear, linear_act, matmul};
pub use loss::{cross_entropy, mse_loss};
pub use norm::{batch_norm, layer_norm};
pub use pool::max_pool2d;
pub use raw::BinOp;
pub use reduce::{argmax, mean, sum};
pub use rms_norm::rms_norm;
pub use rotary::apply_rotary_emb;
pub use softmax::{log_softmax, softmax};
pub use unary::{unary, UnaryOp};
pub use views::{detach, expand, flatten, narrow, permute, reshape, select, squeeze, transpose, unsqueeze, view};

// Ops for models beyond stacks (API.md 7.C).
pub mod arange;
pub mod indexing;
pub mod multinomial;
pub mod reduce_index;
pub mod stack;
pub mod topk;
pub mod triangle;
pub use arange::arange;
pub use indexing::{gather, index_select};
pub use multinomial::multinomial;
pub use reduce_index::{amax, extreme_dim};
pub use stack::{chunk, stack};
pub use topk::topk;
pub use triangle::{tril, triu};
