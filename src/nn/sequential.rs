//! Sequential: children applied in order, registered as `0`, `1`, ... (their state_dict prefixes).

use super::core::height;
use super::{conv_bn, downcast, one_input, Conv2d, Functional, Linear, Module, ModuleCore, MAX_DEPTH};
use crate::error::{bail, Result};
use crate::tensor::Tensor;
use std::collections::HashMap;
use std::sync::Arc;

/// `Sequential`: its children run in order, each on the previous one's output.
pub struct Sequential {
    core: ModuleCore,
    /// The registered children again, in order, so forward reads them without the registry lock.
    children: Vec<Arc<dyn Module>>,
}

impl Sequential {
    /// Refuses to nest deeper than MAX_DEPTH levels: every walk over a module recurses once per
    /// level, and a deep enough nest would overflow the stack of the thread walking it.
    pub fn new(children: Vec<Arc<dyn Module>>) -> Result<Sequential> {
        let mut memo = HashMap::new();
        let heights: Vec<usize> = children.iter().map(|c| height(&**c, &mut memo)).collect();
        if let Some((i, &deepest)) = heights.iter().enumerate().max_by_key(|(_, h)| **h) {
            if deepest + 1 > MAX_DEPTH {
                bail!(
                    InvalidArgument,
                    "children[{i}] is nested {deepest} modules deep, so this Sequential would be {}, past the limit of {MAX_DEPTH} (RT_MAX_MODULE_DEPTH); nest fewer Sequentials (one can hold any number of layers)",
                    deepest + 1
                );
            }
        }
        let core = ModuleCore::new("Sequential");
        for (i, c) in children.iter().enumerate() {
            core.register_module(&i.to_string(), c.clone())?;
        }
        Ok(Sequential { core, children })
    }
}

impl Module for Sequential {
    fn core(&self) -> &ModuleCore {
        &self.core
    }

    /// Runs the children in order, fusing each Linear with an activation that follows it, and
    /// each Conv2d with the batch norm and activation that follow it (conv_bn.rs).
    fn forward_n(&self, inputs: &[Option<Tensor>]) -> Result<Tensor> {
        let mut h = one_input(self, inputs)?.clone();
        let mut i = 0;
        while i < self.children.len() {
            (h, i) = match self.fused_step(i, &h)? {
                Some((y, used)) => (y, i + used),
                None => (self.children[i].forward(&h)?, i + 1),
            };
        }
        Ok(h)
    }
}

impl Sequential {
    /// Child `i` fused with the layers after it (Linear + activation, Conv2d + batch norm +
    /// activation): the output and how many children it used, or None when child `i` runs alone.
    /// Not inlined: a nest of Sequentials repeats forward_n's frame once per level, and the fused
    /// paths' locals would grow it past what a small thread stack holds at the depth limit
    /// (c_tests/bad_inputs.c walks 64 levels on a 128 KiB stack, also under AddressSanitizer).
    #[inline(never)]
    fn fused_step(&self, i: usize, h: &Tensor) -> Result<Option<(Tensor, usize)>> {
        let c = &*self.children[i];
        if let Some(conv) = downcast::<Conv2d>(c) {
            return conv_bn::forward(conv, &self.children[i + 1..], h).map(Some);
        }
        let next_act = self.children.get(i + 1).and_then(|n| downcast::<Functional>(&**n)).and_then(Functional::as_activation);
        match (downcast::<Linear>(c), next_act) {
            (Some(l), Some(act)) => Ok(Some((crate::ops::linear_act(h, &l.weight, l.bias.as_ref(), act)?, 2))),
            _ => Ok(None),
        }
    }
}
