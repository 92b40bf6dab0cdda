//! Derivatives of matmul and linear.

use crate::autograd::node::{saved_at, Backward};
use crate::compute::linalg::{bmm_raw, rows_of};
use crate::compute::raw::{self, sum_to};
use crate::error::Result;
use crate::layout::Layout;
use crate::shape::Dims;
use crate::tensor::Tensor;

fn t_last2(l: &Layout) -> Layout {
    let n = l.ndim();
    l.transpose(n - 2, n - 1)
}

/// C = A B (after torch.matmul's promotion of 1-D operands): dA = dC B^T, dB = A^T dC, each summed
/// over broadcast batch dims and reshaped back. Saved: [a, b] (each only when the other's gradient
/// is wanted).
pub struct MatmulBackward {
    pub a_shape: Dims,
    pub b_shape: Dims,
    pub needs: [bool; 2],
}

fn promote(l: &Layout, dim: usize) -> Layout {
    if l.ndim() == 1 {
        l.unsqueeze(dim)
    } else {
        l.clone()
    }
}

/// `full` summed down to `promoted` shape, then given the operand's own shape.
fn reduce_to(full: Tensor, promoted: &[usize], shape: &[usize]) -> Result<Tensor> {
    let summed = raw::contiguous(&sum_to(&full, promoted)?)?;
    Ok(raw::alias(&summed, Layout::contiguous(shape)))
}

impl Backward for MatmulBackward {
    fn name(&self) -> &'static str {
        "MmBackward"
    }

    fn apply(&self, g: &Tensor, saved: &[Option<Tensor>]) -> Result<Vec<Option<Tensor>>> {
        let (a1, b1) = (self.a_shape.len() == 1, self.b_shape.len() == 1);
        let mut lg = g.layout().clone();
        if b1 {
            lg = lg.unsqueeze(lg.ndim());
        }
        if a1 {
            lg = lg.unsqueeze(lg.ndim() - 1);
        }
        let ga = if self.needs[0] {
            let b = saved_at(saved, 1);
            let pb = promote(b.layout(), 1);
            let pa_shape = if a1 { Layout::contiguous(&self.a_shape).unsqueeze(0).shape } else { self.a_shape.clone() };
            Some(reduce_to(bmm_raw(g, &lg, b, &t_last2(&pb), false)?, &pa_shape, &self.a_shape)?)
        } else {
            None
        };
        let gb = if self.needs[1] {
            let a = saved_at(saved, 0);
            let pa = promote(a.layout(), 0);
            let pb_shape = if b1 { Layout::contiguous(&self.b_shape).unsqueeze(1).shape } else { self.b_shape.clone() };
            Some(reduce_to(bmm_raw(a, &t_last2(&pa), g, &lg, false)?, &pb_shape, &self.b_shape)?)
        } else {
            None
        };
        Ok(vec![ga, gb])
    }
}

/// y = x W^T + b: dx = dy W, dW = dy^T x (over all rows), db = sum of dy over rows.
/// Saved: [x, W].
pub struct LinearBackward {
    pub x_shape: Dims,
    pub needs: [bool; 3],
}

impl Backward for LinearBackward {
    fn name(&self) -> &'static str {
        "AddmmBackward"
    }

    fn apply(&self, g: &Tensor, saved: &[Option<Tensor>]) -> Result<Vec<Option<Tensor>>> {
        let g2 = rows_of(g)?;
        let gx = if self.needs[0] {
            let w = saved_at(saved, 1);
            let dx = bmm_raw(&g2, g2.layout(), w, w.layout(), false)?;
            Some(raw::alias(&dx, Layout::contiguous(&self.x_shape)))
        } else {
            None
        };
        let gw = if self.needs[1] {
            let x2 = rows_of(saved_at(saved, 0))?;
            Some(bmm_raw(&g2, &t_last2(g2.layout()), &x2, x2.layout(), false)?)
        } else {
            None
        };
        let gb = if self.needs[2] { Some(raw::sum_mask(&g2, &[true, false], false, false)?) } else { None };
        Ok(vec![gx, gw, gb])
    }
}
