//! Parameter-free layers, each a function of the input (and the training flag): activations,
//! Flatten, MaxPool2d, Dropout, Softmax.

use super::{one_input, Module, ModuleCore};
use crate::error::Result;
use crate::ops::{self, UnaryOp};
use crate::tensor::Tensor;

/// The layer's function of its input and the training flag.
type Apply = Box<dyn Fn(&Tensor, bool) -> Result<Tensor> + Send + Sync>;

/// A layer without parameters (activations, Flatten, MaxPool2d, Dropout, Softmax).
pub struct Functional {
    apply: Apply,
    activation: Option<UnaryOp>,
    core: ModuleCore,
}

impl Functional {
    /// A layer of PyTorch class `type_name` computing `apply`.
    fn new(type_name: &'static str, apply: Apply) -> Functional {
        Functional { apply, activation: None, core: ModuleCore::new(type_name) }
    }

    /// An elementwise activation (`ReLU`, `GELU`, `Sigmoid`, `Tanh`, ...): `type_name` is its
    /// PyTorch class name.
    pub fn activation(type_name: &'static str, op: UnaryOp) -> Functional {
        Functional { activation: Some(op), ..Self::new(type_name, Box::new(move |x, _| ops::unary(x, op))) }
    }

    /// `Flatten(start_dim, end_dim)`.
    pub fn flatten(start_dim: i64, end_dim: i64) -> Functional {
        Self::new("Flatten", Box::new(move |x, _| ops::flatten(x, start_dim, end_dim)))
    }

    /// stride 0 means stride = kernel_size (PyTorch's default).
    pub fn max_pool2d(kernel_size: i64, stride: i64) -> Functional {
        Self::new("MaxPool2d", Box::new(move |x, _| ops::max_pool2d(x, kernel_size, stride)))
    }

    /// Active only in training, scaled by 1/(1-p).
    pub fn dropout(p: f64) -> Functional {
        Self::new("Dropout", Box::new(move |x, training| ops::dropout(x, p, training)))
    }

    /// `Softmax(dim)`.
    pub fn softmax(dim: i64) -> Functional {
        Self::new("Softmax", Box::new(move |x, _| ops::softmax(x, dim)))
    }

    /// The elementwise function this layer is, if it is one (Sequential fuses it into a Linear
    /// before it).
    pub fn as_activation(&self) -> Option<UnaryOp> {
        self.activation
    }
}

impl Module for Functional {
    fn core(&self) -> &ModuleCore {
        &self.core
    }

    fn forward_n(&self, inputs: &[Option<Tensor>]) -> Result<Tensor> {
        (self.apply)(one_input(self, inputs)?, self.core.is_training())
    }
}

// nn.Identity (API.md 7.D).
impl Functional {
    /// Returns its input itself (the same tensor, as nn.Identity does).
    pub fn identity() -> Functional {
        Self::new("Identity", Box::new(|x, _| Ok(x.clone())))
    }
}
