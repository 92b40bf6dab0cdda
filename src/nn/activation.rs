//! Parameter-free elementwise layers.

use super::{Module, TrainingFlag};
use crate::error::Result;
use crate::ops::{self, UnaryOp};
use crate::tensor::Tensor;

pub struct Activation {
    op: UnaryOp,
    training: TrainingFlag,
}

impl Activation {
    pub fn new(op: UnaryOp) -> Activation {
        Activation { op, training: TrainingFlag::default() }
    }
}

impl Module for Activation {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        ops::unary(x, self.op)
    }

    fn train(&self, training: bool) {
        self.training.set(training);
    }

    fn is_training(&self) -> bool {
        self.training.get()
    }

    fn named_tensors(&self, _: &str, _: &mut Vec<(String, Tensor)>) {}
}
