//! Gathering along a dim by I64 indices and its adjoint, scatter-add, without recording
//! (gather, index_select and their backward).

use super::raw;
use crate::error::Result;
use crate::layout::contiguous_strides;
use crate::shape::Dims;
use crate::storage::{try_filled, try_with_capacity, DType, Element};
use crate::tensor::Tensor;

/// (outer, size, inner) of `shape` around dim `d`: row-major data is outer blocks of size * inner.
pub fn split_at(shape: &[usize], d: usize) -> (usize, usize, usize) {
    (shape[..d].iter().product(), shape[d], shape[d + 1..].iter().product())
}

/// The flat offset into a row-major tensor of `t_shape` of each position of `i_shape` (same
/// rank) with its `d` coordinate set to 0: gather reads t at offset + index * stride of d.
fn base_offsets(i_shape: &[usize], t_shape: &[usize], d: usize) -> Result<Vec<usize>> {
    let ts = contiguous_strides(t_shape);
    let n = i_shape.iter().product();
    let mut out = try_with_capacity(n)?;
    let mut coord: Dims = Dims::from_elem(0, i_shape.len());
    let mut off = 0usize;
    for _ in 0..n {
        out.push(off);
        for k in (0..i_shape.len()).rev() {
            coord[k] += 1;
            if k != d {
                off += ts[k];
            }
            if coord[k] < i_shape[k] {
                break;
            }
            if k != d {
                off -= ts[k] * i_shape[k];
            }
            coord[k] = 0;
        }
    }
    Ok(out)
}

/// out\[p\] = t[p with p\[d\] = index\[p\]], shaped as index; indices already checked.
pub fn gather_raw(t: &Tensor, d: usize, index: &[i64], i_shape: &[usize], inference: bool) -> Result<Tensor> {
    match t.dtype() {
        DType::F32 => gather_typed::<f32>(t, d, index, i_shape, inference),
        DType::I64 => gather_typed::<i64>(t, d, index, i_shape, inference),
        DType::Bool => gather_typed::<u8>(t, d, index, i_shape, inference),
    }
}

fn gather_typed<T: Element>(t: &Tensor, d: usize, index: &[i64], i_shape: &[usize], inference: bool) -> Result<Tensor> {
    let src = t.try_data::<T>()?;
    let stride = contiguous_strides(t.shape()).get(d).copied().unwrap_or(1);
    let base = base_offsets(i_shape, t.shape(), d)?;
    let mut out = try_with_capacity(index.len())?;
    out.extend(base.iter().zip(index).map(|(&b, &k)| src[b + k as usize * stride]));
    Ok(raw::from_vec(out, i_shape, inference))
}

/// The adjoint of gather: zeros of `t_shape` with g\[p\] added at p with p\[d\] = index\[p\].
pub fn scatter_add_raw(g: &[f32], d: usize, index: &[i64], i_shape: &[usize], t_shape: &[usize]) -> Result<Tensor> {
    let mut dx = try_filled(t_shape.iter().product(), 0f32)?;
    let stride = contiguous_strides(t_shape).get(d).copied().unwrap_or(1);
    for ((&b, &k), &gv) in base_offsets(i_shape, t_shape, d)?.iter().zip(index).zip(g) {
        dx[b + k as usize * stride] += gv;
    }
    Ok(raw::from_vec(dx, t_shape, false))
}
