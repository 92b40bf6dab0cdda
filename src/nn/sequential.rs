//! Sequential: children applied in order, named `0.`, `1.`, ... in the state_dict.

use super::{Module, TrainingFlag};
use crate::error::{bail, Result};
use crate::tensor::Tensor;
use std::sync::Arc;

pub struct Sequential {
    children: Vec<Arc<dyn Module>>,
    training: TrainingFlag,
    depth: usize,
}

impl Sequential {
    /// Refuses to nest deeper than `max_depth` levels: every walk over a module recurses once
    /// per level, and a deep enough nest would overflow the stack of the thread walking it.
    pub fn new(children: Vec<Arc<dyn Module>>, max_depth: usize) -> Result<Sequential> {
        let depth = 1 + children.iter().map(|c| c.depth()).max().unwrap_or(0);
        if depth > max_depth {
            let (i, _) = children.iter().enumerate().max_by_key(|(_, c)| c.depth()).expect("depth > 1 means a child");
            bail!(
                InvalidArgument,
                "children[{i}] is nested {} modules deep, so this Sequential would be {depth}, past the limit of {max_depth} (RT_MAX_MODULE_DEPTH); nest fewer Sequentials (one can hold any number of layers)",
                depth - 1
            );
        }
        Ok(Sequential { children, training: TrainingFlag::default(), depth })
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

    fn depth(&self) -> usize {
        self.depth
    }

    fn named_tensors(&self, prefix: &str, out: &mut Vec<(String, Tensor)>) {
        for (i, c) in self.children.iter().enumerate() {
            c.named_tensors(&format!("{prefix}{i}."), out);
        }
    }
}
