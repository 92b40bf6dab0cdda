//! Derivatives of views: each maps the view's gradient back onto its input's shape.

use crate::autograd::node::Backward;
use crate::compute::raw;
use crate::error::Result;
use crate::shape::Dims;
use crate::storage::DType;
use crate::tensor::Tensor;

/// view/reshape/flatten/squeeze/unsqueeze: dx = dy reshaped to x's shape.
pub struct ReshapeBackward {
    pub in_shape: Dims,
}

impl Backward for ReshapeBackward {
    fn name(&self) -> &'static str {
        "ViewBackward"
    }

    fn apply(&self, g: &Tensor, _: &[Option<Tensor>]) -> Result<Vec<Option<Tensor>>> {
        Ok(vec![Some(raw::reshaped(g, &self.in_shape)?)])
    }
}

/// permute/transpose: dx = dy permuted by the inverse permutation.
pub struct PermuteBackward {
    inverse: Vec<usize>,
}

impl PermuteBackward {
    pub fn new(perm: &[usize]) -> Self {
        let mut inverse = vec![0; perm.len()];
        for (i, &p) in perm.iter().enumerate() {
            inverse[p] = i;
        }
        PermuteBackward { inverse }
    }
}

impl Backward for PermuteBackward {
    fn name(&self) -> &'static str {
        "PermuteBackward"
    }

    fn apply(&self, g: &Tensor, _: &[Option<Tensor>]) -> Result<Vec<Option<Tensor>>> {
        Ok(vec![Some(raw::alias(g, g.layout().permute(&self.inverse)))])
    }
}

/// narrow/select (and cat's pieces): dx = zeros with dy written into the selected region.
pub struct SliceBackward {
    pub in_shape: Dims,
    pub dim: usize,
    pub start: usize,
    /// select removes the dim; narrow keeps it.
    pub squeezed: bool,
}

impl Backward for SliceBackward {
    fn name(&self) -> &'static str {
        if self.squeezed {
            "SelectBackward"
        } else {
            "NarrowBackward"
        }
    }

    fn apply(&self, g: &Tensor, _: &[Option<Tensor>]) -> Result<Vec<Option<Tensor>>> {
        let dx = raw::full(&self.in_shape, 0.0, DType::F32, false)?;
        let region = if self.squeezed {
            dx.layout().select(self.dim, self.start)
        } else {
            dx.layout().narrow(self.dim, self.start, g.shape()[self.dim])
        };
        raw::copy_into(&raw::alias(&dx, region), g);
        Ok(vec![Some(dx)])
    }
}

/// expand: dx = dy summed over the expanded dims.
pub struct ExpandBackward {
    pub in_shape: Dims,
}

impl Backward for ExpandBackward {
    fn name(&self) -> &'static str {
        "ExpandBackward"
    }

    fn apply(&self, g: &Tensor, _: &[Option<Tensor>]) -> Result<Vec<Option<Tensor>>> {
        Ok(vec![Some(raw::sum_to(g, &self.in_shape)?)])
    }
}
