//! Embedding: a lookup table of `num_embeddings` rows of size `dim`, initialised N(0, 1).

use super::{Module, TrainingFlag};
use crate::creation;
use crate::error::{bail, Result};
use crate::ops;
use crate::tensor::Tensor;

pub struct Embedding {
    pub weight: Tensor,
    training: TrainingFlag,
}

impl Embedding {
    pub fn new(num_embeddings: usize, dim: usize) -> Result<Embedding> {
        if num_embeddings.checked_mul(dim).is_none_or(|n| n > isize::MAX as usize / 4) {
            bail!(OutOfMemory, "a {num_embeddings} x {dim} embedding table is too large to allocate");
        }
        let weight = creation::randn(&[num_embeddings, dim])?;
        weight.mark_requires_grad(true);
        Ok(Embedding { weight, training: TrainingFlag::default() })
    }
}

impl Module for Embedding {
    fn forward(&self, indices: &Tensor) -> Result<Tensor> {
        ops::embedding(indices, &self.weight)
    }

    fn training_flag(&self) -> &TrainingFlag {
        &self.training
    }

    fn named_tensors(&self, prefix: &str, out: &mut Vec<(String, Tensor)>) {
        out.push((format!("{prefix}weight"), self.weight.clone()));
    }
}
