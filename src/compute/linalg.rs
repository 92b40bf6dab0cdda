//! Batched matrix products with broadcast batch dims, and the rows of a linear layer's input,
//! without recording (matmul, linear and their backward).

use super::raw;
use crate::error::Result;
use crate::kernels::gemm::{gemm_slices, Mat};
use crate::layout::Layout;
use crate::shape::broadcast_shapes;
use crate::storage::{from_offset, try_filled};
use crate::tensor::Tensor;

/// The matrix in the last two dims of `l` starting at storage offset `offset`.
pub fn mat<'a>(t: &'a Tensor, l: &Layout, offset: usize) -> Mat<'a> {
    let n = l.ndim();
    Mat { data: from_offset(t.storage().slice::<f32>(), offset), rs: l.strides[n - 2], cs: l.strides[n - 1] }
}

/// Batched product of a [..., n, k] and b [..., k, m] with broadcast batch dims (validated).
pub fn bmm_raw(a: &Tensor, la: &Layout, b: &Tensor, lb: &Layout, inference: bool) -> Result<Tensor> {
    let (na, nb) = (la.ndim(), lb.ndim());
    let (n, k, m) = (la.shape[na - 2], la.shape[na - 1], lb.shape[nb - 1]);
    let batch = broadcast_shapes(&la.shape[..na - 2], &lb.shape[..nb - 2]).expect("validated batch dims");
    let mut out_shape = batch.clone();
    out_shape.extend_from_slice(&[n, m]);
    let mut full_a = batch.clone();
    full_a.extend_from_slice(&[n, k]);
    let mut full_b = batch.clone();
    full_b.extend_from_slice(&[k, m]);
    let (ea, eb) = (la.expand(&full_a), lb.expand(&full_b));
    let nbatch = batch.len();
    let batch_a = Layout { shape: batch.clone(), strides: ea.strides[..nbatch].into(), offset: ea.offset };
    let batch_b = Layout { shape: batch.clone(), strides: eb.strides[..nbatch].into(), offset: eb.offset };
    let mut out = try_filled(crate::shape::numel(&out_shape), 0f32)?;
    for (i, (oa, ob)) in batch_a.offsets().zip(batch_b.offsets()).enumerate() {
        gemm_slices(n, m, k, &mut out[i * n * m..], m, false, mat(a, &ea, oa), mat(b, &eb, ob));
    }
    Ok(raw::from_vec(out, &out_shape, inference))
}

/// Rows of x as a 2-D layout (copying only when the leading dims cannot be merged).
pub fn rows_of(x: &Tensor) -> Result<Tensor> {
    let in_f = x.shape()[x.ndim() - 1];
    let rows = x.numel().checked_div(in_f).unwrap_or(0);
    let shape = [if in_f == 0 { crate::shape::numel(&x.shape()[..x.ndim() - 1]) } else { rows }, in_f];
    match x.layout().view_as(&shape) {
        Some(l) => Ok(raw::alias(x, l)),
        None => Ok(raw::alias(&raw::contiguous_copy(x, false)?, Layout::contiguous(&shape))),
    }
}
