//! Sequential: children applied in order, named `0.`, `1.`, ... in the state_dict.

use super::{Module, TrainingFlag};
use crate::error::Result;
use crate::tensor::Tensor;
use std::sync::Arc;

pub struct Sequential {
    children: Vec<Arc<dyn Module>>,
    training: TrainingFlag,
}

impl Sequential {
    pub fn new(children: Vec<Arc<dyn Module>>) -> Sequential {
        Sequential { children, training: TrainingFlag::default() }
    }
}

impl Module for Sequential {
    /// Runs the children in order, fusing each Linear with an activation that follows it.
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let mut h = x.clone();
        let mut i = 0;
        while i < self.children.len() {
            let c = &self.children[i];
            let next_act = self.children.get(i + 1).and_then(|n| n.activation());
            match (c.as_linear(), next_act) {
                (Some(l), Some(act)) => {
                    h = crate::ops::linear_act(&h, &l.weight, l.bias.as_ref(), act)?;
                    i += 2;
                }
                _ => {
                    h = c.forward(&h)?;
                    i += 1;
                }
            }
        }
        Ok(h)
    }

    fn train(&self, training: bool) {
        self.training.set(training);
        for c in &self.children {
            c.train(training);
        }
    }

    fn training_flag(&self) -> &TrainingFlag {
        &self.training
    }

    fn named_tensors(&self, prefix: &str, out: &mut Vec<(String, Tensor)>) {
        for (i, c) in self.children.iter().enumerate() {
            c.named_tensors(&format!("{prefix}{i}."), out);
        }
    }
}
