//! Modules: layers with PyTorch's default initialisation and state_dict names, on one machinery.
//!
//! Every module holds a [`ModuleCore`] (type name, training flag, registered parameters, buffers
//! and children) and runs [`Module::forward_n`]; everything that walks modules (state_dict,
//! parameters, train, lookups by path) is derived from the cores in `walk`. A module of your own,
//! in Rust, is a struct holding a core whose constructor registers its parts:
//!
//! ```
//! use infer::nn::{self, Linear, Module, ModuleCore};
//! use infer::{Result, Tensor};
//! use std::sync::Arc;
//!
//! struct Mlp { core: ModuleCore, fc1: Arc<Linear>, fc2: Arc<Linear> }
//!
//! impl Mlp {
//!     fn new() -> Result<Mlp> {
//!         let core = ModuleCore::new("Mlp");
//!         let (fc1, fc2) = (Arc::new(Linear::new(4, 8, true)?), Arc::new(Linear::new(8, 2, true)?));
//!         core.register_module("fc1", fc1.clone())?;
//!         core.register_module("fc2", fc2.clone())?;
//!         Ok(Mlp { core, fc1, fc2 })
//!     }
//! }
//!
//! impl Module for Mlp {
//!     fn core(&self) -> &ModuleCore { &self.core }
//!     fn forward_n(&self, inputs: &[Option<Tensor>]) -> Result<Tensor> {
//!         let x = nn::one_input(self, inputs)?;
//!         self.fc2.forward(&infer::ops::unary(&self.fc1.forward(x)?, infer::ops::UnaryOp::Relu)?)
//!     }
//! }
//!
//! let names: Vec<String> = nn::state_dict(&Mlp::new().unwrap()).into_iter().map(|(n, _)| n).collect();
//! assert_eq!(names, ["fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias"]);
//! ```

pub mod batch_norm;
pub mod conv;
mod conv_bn;
pub mod core;
pub mod embedding;
pub mod functional;
pub mod layer_norm;
pub mod linear;
pub mod sequential;
pub mod walk;

use crate::error::{bail, Result};
use crate::tensor::Tensor;
use std::any::Any;

pub use self::core::{ModuleCore, Named};
pub use batch_norm::BatchNorm;
pub use conv::Conv2d;
pub use embedding::Embedding;
pub use functional::Functional;
pub use layer_norm::LayerNorm;
pub use linear::Linear;
pub use sequential::Sequential;
pub use walk::{for_each_module, get_module, get_tensor, named_modules, parameters, state_dict, train};

/// The most modules along any chain of children (RT_MAX_MODULE_DEPTH): every walk recurses once
/// per level, and this many levels fit in a 128 KiB thread stack.
pub const MAX_DEPTH: usize = 64;

/// A module: its core (identity and registry) and its forward. `Any` lets containers recognise
/// concrete layers (Sequential fuses a Linear with the activation after it) without the trait
/// knowing about them.
///
/// ```
/// use infer::autograd::mode::InferenceModeGuard;
/// use infer::nn::{Functional, Linear, Module, Sequential};
/// use infer::ops::{self, UnaryOp};
/// use infer::{creation, rng};
/// use std::sync::Arc;
///
/// rng::manual_seed(0);
/// let model = Sequential::new(vec![
///     Arc::new(Linear::new(4, 8, true)?),
///     Arc::new(Functional::activation("ReLU", UnaryOp::Relu)),
///     Arc::new(Linear::new(8, 3, true)?),
/// ])?;
/// let names: Vec<String> = infer::nn::state_dict(&model).into_iter().map(|(k, _)| k).collect();
/// assert_eq!(names, ["0.weight", "0.bias", "2.weight", "2.bias"]);
///
/// infer::nn::train(&model, false); // eval
/// let _inference = InferenceModeGuard::new(true);
/// let logits = model.forward(&creation::randn(&[2, 4])?)?;
/// assert_eq!(logits.shape(), &[2, 3]);
/// assert_eq!(ops::argmax(&logits, 1, false)?.shape(), &[2]);
/// # Ok::<(), infer::Error>(())
/// ```
pub trait Module: Any + Send + Sync {
    /// The module's identity and registry (type name, training flag, parameters, buffers, children).
    fn core(&self) -> &ModuleCore;

    /// Runs the module on its inputs (an entry may be absent where the module allows it).
    fn forward_n(&self, inputs: &[Option<Tensor>]) -> Result<Tensor>;

    /// Runs the module on one input.
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        self.forward_n(std::slice::from_ref(&Some(x.clone())))
    }

    /// Whether the module is in training mode (`module.training`).
    fn is_training(&self) -> bool {
        self.core().is_training()
    }
}

/// The one input of a single-input module, or an error naming the module's type.
pub fn one_input<'a>(m: &dyn Module, inputs: &'a [Option<Tensor>]) -> Result<&'a Tensor> {
    match inputs {
        [Some(x)] => Ok(x),
        [None] => bail!(NullArgument, "inputs[0] is NULL; a {} module takes one input tensor", m.core().type_name()),
        _ => bail!(
            InvalidArgument,
            "a {} module takes exactly one input, but n_inputs is {}; pass one tensor",
            m.core().type_name(),
            inputs.len()
        ),
    }
}

/// `m` as a `T`, when it is one.
pub fn downcast<T: Module>(m: &dyn Module) -> Option<&T> {
    (m as &dyn Any).downcast_ref::<T>()
}

/// Registers `weight` and, when present, `bias` as parameters requiring grad (PyTorch's names).
pub(crate) fn register_weight_bias(core: &ModuleCore, weight: &Tensor, bias: Option<&Tensor>) -> Result<()> {
    core.register_parameter("weight", weight.clone(), true)?;
    if let Some(b) = bias {
        core.register_parameter("bias", b.clone(), true)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests;

// PyTorch's transformer modules (API.md 7.D).
pub mod multihead_attention;
pub mod rms_norm;
pub mod transformer_encoder_layer;
pub use multihead_attention::MultiheadAttention;
pub use rms_norm::RmsNorm;
pub use transformer_encoder_layer::TransformerEncoderLayer;
