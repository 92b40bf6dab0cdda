//! Embedding: a lookup table of `num_embeddings` rows of size `dim`, initialised N(0, 1).

use super::{one_input, register_weight_bias, Module, ModuleCore};
use crate::creation;
use crate::error::{bail, Result};
use crate::ops;
use crate::tensor::Tensor;

/// `Embedding`: a lookup table of vectors indexed by I64 ids.
pub struct Embedding {
    /// The table, shape (num_embeddings, dim), initialised N(0, 1).
    pub weight: Tensor,
    core: ModuleCore,
}

impl Embedding {
    /// A table of `num_embeddings` vectors of `dim` elements.
    pub fn new(num_embeddings: usize, dim: usize) -> Result<Embedding> {
        if num_embeddings.checked_mul(dim).is_none_or(|n| n > isize::MAX as usize / 4) {
            bail!(OutOfMemory, "a {num_embeddings} x {dim} embedding table is too large to allocate");
        }
        let weight = creation::randn(&[num_embeddings, dim])?;
        weight.mark_requires_grad(true);
        let core = ModuleCore::new("Embedding");
        register_weight_bias(&core, &weight, None)?;
        Ok(Embedding { weight, core })
    }
}

impl Module for Embedding {
    fn core(&self) -> &ModuleCore {
        &self.core
    }

    fn forward_n(&self, inputs: &[Option<Tensor>]) -> Result<Tensor> {
        ops::embedding(one_input(self, inputs)?, &self.weight)
    }
}
