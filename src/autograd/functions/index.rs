//! Derivatives of ops that pick elements by index: gather (and the values of max_dim, min_dim
//! and topk, which are gathers of their indices), index_select, amax, triu/tril.

use crate::autograd::node::{saved_at, Backward};
use crate::compute::indexing::{scatter_add_raw, split_at};
use crate::compute::raw;
use crate::compute::triangle::mask_triangle;
use crate::error::Result;
use crate::shape::Dims;
use crate::storage::try_filled;
use crate::tensor::Tensor;

/// y\[p\] = x[p with p\[dim\] = index\[p\]]  =>  dx = scatter_add(zeros, dim, index, dy).
/// Saved: \[index\] (for max_dim/min_dim/topk, their indices in the keepdim shape; dy arrives in
/// the output's shape, which has the same elements in the same order).
pub struct GatherBackward {
    pub name: &'static str,
    pub in_shape: Dims,
    pub dim: usize,
}

impl Backward for GatherBackward {
    fn name(&self) -> &'static str {
        self.name
    }

    fn apply(&self, g: &Tensor, saved: &[Option<Tensor>]) -> Result<Vec<Option<Tensor>>> {
        let index = saved_at(saved, 0);
        let dx = scatter_add_raw(&g.try_data::<f32>()?, self.dim, &index.try_data::<i64>()?, index.shape(), &self.in_shape)?;
        Ok(vec![Some(dx)])
    }
}

/// y = x.index_select(dim, index)  =>  dx = zeros.index_add(dim, index, dy).
/// Saved: \[index\] (1-D or 0-d).
pub struct IndexSelectBackward {
    pub in_shape: Dims,
    pub dim: usize,
}

impl Backward for IndexSelectBackward {
    fn name(&self) -> &'static str {
        "IndexSelectBackward"
    }

    fn apply(&self, g: &Tensor, saved: &[Option<Tensor>]) -> Result<Vec<Option<Tensor>>> {
        let idx = saved_at(saved, 0).try_data::<i64>()?;
        let g = g.try_data::<f32>()?;
        let (outer, size, inner) = split_at(&self.in_shape, self.dim);
        let mut dx = try_filled(outer * size * inner, 0f32)?;
        for o in 0..outer {
            for (j, &k) in idx.iter().enumerate() {
                let (from, to) = ((o * idx.len() + j) * inner, (o * size + k as usize) * inner);
                for (acc, &v) in dx[to..to + inner].iter_mut().zip(&g[from..from + inner]) {
                    *acc += v;
                }
            }
        }
        Ok(vec![Some(raw::from_vec(dx, &self.in_shape, false))])
    }
}

/// y = amax(x, dims)  =>  dx = dy * [x == y] / (number of elements equal to y in the reduced
/// set): the gradient is split evenly among ties, as PyTorch's amax. Saved: [x, y (keepdim
/// shape)].
pub struct AmaxBackward {
    pub keep_shape: Dims,
}

impl Backward for AmaxBackward {
    fn name(&self) -> &'static str {
        "AmaxBackward"
    }

    fn apply(&self, g: &Tensor, saved: &[Option<Tensor>]) -> Result<Vec<Option<Tensor>>> {
        let (x, y) = (saved_at(saved, 0), saved_at(saved, 1));
        let in_shape = x.shape();
        let eq = raw::zip_map(x, &raw::expand(y, in_shape), |a: f32, b: f32| (a == b) as i32 as f32)?;
        let mask: Vec<bool> = in_shape.iter().zip(&self.keep_shape).map(|(&a, &k)| k == 1 && a != 1).collect();
        let count = raw::sum_mask(&eq, &mask, true, false)?;
        let g = raw::reshaped(g, &self.keep_shape)?;
        let share = raw::binary(&g, &count, raw::BinOp::Div, false)?;
        Ok(vec![Some(raw::binary(&raw::expand(&share, in_shape), &eq, raw::BinOp::Mul, false)?)])
    }
}

/// y = triu(x, k) (or tril)  =>  dx = triu(dy, k): the kept elements pass their gradient.
pub struct TriangleBackward {
    pub upper: bool,
    pub diagonal: i64,
}

impl Backward for TriangleBackward {
    fn name(&self) -> &'static str {
        if self.upper {
            "TriuBackward"
        } else {
            "TrilBackward"
        }
    }

    fn apply(&self, g: &Tensor, _: &[Option<Tensor>]) -> Result<Vec<Option<Tensor>>> {
        Ok(vec![Some(mask_triangle(g, self.upper, self.diagonal, false)?)])
    }
}
