//! Parameter-free layers, each a function of the input (and the training flag): activations,
//! Flatten, MaxPool2d, Dropout, Softmax.

use super::{Module, TrainingFlag};
use crate::error::Result;
use crate::ops::{self, UnaryOp};
use crate::tensor::Tensor;

/// The layer's function of its input and the training flag.
type Apply = Box<dyn Fn(&Tensor, bool) -> Result<Tensor> + Send + Sync>;

pub struct Functional {
    apply: Apply,
    activation: Option<UnaryOp>,
    training: TrainingFlag,
}

impl Functional {
    fn new(apply: Apply) -> Functional {
        Functional { apply, activation: None, training: TrainingFlag::default() }
    }

    /// ReLU, GELU, Sigmoid, Tanh.
    pub fn activation(op: UnaryOp) -> Functional {
        Functional { activation: Some(op), ..Self::new(Box::new(move |x, _| ops::unary(x, op))) }
    }

    pub fn flatten(start_dim: i64, end_dim: i64) -> Functional {
        Self::new(Box::new(move |x, _| ops::flatten(x, start_dim, end_dim)))
    }

    /// stride 0 means stride = kernel_size (PyTorch's default).
    pub fn max_pool2d(kernel_size: i64, stride: i64) -> Functional {
        Self::new(Box::new(move |x, _| ops::max_pool2d(x, kernel_size, stride)))
    }

    /// Active only in training, scaled by 1/(1-p).
    pub fn dropout(p: f64) -> Functional {
        Self::new(Box::new(move |x, training| ops::dropout(x, p, training)))
    }

    pub fn softmax(dim: i64) -> Functional {
        Self::new(Box::new(move |x, _| ops::softmax(x, dim)))
    }
}

impl Module for Functional {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        (self.apply)(x, self.training.get())
    }

    fn training_flag(&self) -> &TrainingFlag {
        &self.training
    }

    fn named_tensors(&self, _: &str, _: &mut Vec<(String, Tensor)>) {}

    fn activation(&self) -> Option<UnaryOp> {
        self.activation
    }
}
