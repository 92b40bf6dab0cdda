//! Modules: layers with PyTorch's default initialisation and state_dict names.

pub mod batch_norm;
pub mod conv;
pub mod embedding;
pub mod functional;
pub mod layer_norm;
pub mod linear;
pub mod sequential;

use crate::error::Result;
use crate::tensor::Tensor;
use std::sync::atomic::{AtomicBool, Ordering};

pub use batch_norm::BatchNorm;
pub use conv::Conv2d;
pub use embedding::Embedding;
pub use functional::Functional;
pub use layer_norm::LayerNorm;
pub use linear::Linear;
pub use sequential::Sequential;

pub trait Module: Send + Sync {
    fn forward(&self, x: &Tensor) -> Result<Tensor>;

    /// The module's own training flag.
    fn training_flag(&self) -> &TrainingFlag;

    /// Sets training mode on this module (containers override it to recurse).
    fn train(&self, training: bool) {
        self.training_flag().set(training);
    }

    fn is_training(&self) -> bool {
        self.training_flag().get()
    }

    /// Parameters then buffers, children in order, named as PyTorch's state_dict keys.
    fn named_tensors(&self, prefix: &str, out: &mut Vec<(String, Tensor)>);

    /// Levels of modules this one spans: 1 for a layer, one more than its deepest child for a
    /// container.
    fn depth(&self) -> usize {
        1
    }

    /// This layer as a Linear, so Sequential can fuse it with the activation that follows.
    fn as_linear(&self) -> Option<&Linear> {
        None
    }

    /// The elementwise function this layer is, if it is one.
    fn activation(&self) -> Option<crate::ops::UnaryOp> {
        None
    }
}

/// The training flag every module keeps (modules start in training mode, as in PyTorch).
pub struct TrainingFlag(AtomicBool);

impl Default for TrainingFlag {
    fn default() -> Self {
        TrainingFlag(AtomicBool::new(true))
    }
}

impl TrainingFlag {
    pub fn set(&self, training: bool) {
        self.0.store(training, Ordering::Relaxed);
    }

    pub fn get(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }
}

/// Adds `weight` and, when present, `bias` under `prefix` (PyTorch's names for both).
pub fn push_weight_bias(prefix: &str, weight: &Tensor, bias: Option<&Tensor>, out: &mut Vec<(String, Tensor)>) {
    out.push((format!("{prefix}weight"), weight.clone()));
    if let Some(b) = bias {
        out.push((format!("{prefix}bias"), b.clone()));
    }
}

/// All of a module's tensors with their state_dict names.
pub fn state_dict(m: &dyn Module) -> Vec<(String, Tensor)> {
    let mut out = Vec::new();
    m.named_tensors("", &mut out);
    out
}
