//! matmul (torch.matmul's rules) and linear, both on the one GEMM wrapper.

use super::packed_weights::packed_weight;
use super::raw;
use super::record::Recorder;
use super::unary::UnaryOp;
use crate::autograd::functions::linalg::{LinearBackward, MatmulBackward};
use crate::compute::linalg::{bmm_raw, mat, rows_of};
use crate::error::{bail, Result};
use crate::kernels::gemm::{gemm_prepacked_into, gemm_slices};
use crate::kernels::linear_nt::{linear_nt_into, Epilogue, Rows};
use crate::layout::Layout;
use crate::shape::{broadcast_shapes, fmt_shape, Dims};
use crate::storage::{from_offset, try_with_capacity, DType};
use crate::tensor::Tensor;

/// The layouts torch.matmul multiplies: 1-D operands gain a dim (a as a row, b as a column).
fn promoted(a: &Tensor, b: &Tensor) -> Result<(Layout, Layout, Dims)> {
    if a.ndim() == 0 || b.ndim() == 0 {
        bail!(Shape, "matmul: both arguments need at least 1 dimension, got shapes {} and {}", fmt_shape(a.shape()), fmt_shape(b.shape()));
    }
    let la = if a.ndim() == 1 { a.layout().unsqueeze(0) } else { a.layout().clone() };
    let lb = if b.ndim() == 1 { b.layout().unsqueeze(1) } else { b.layout().clone() };
    let (na, nb) = (la.ndim(), lb.ndim());
    if la.shape[na - 1] != lb.shape[nb - 2] {
        bail!(
            Shape,
            "matmul: shapes {} and {} cannot be multiplied ({} columns against {} rows)",
            fmt_shape(a.shape()),
            fmt_shape(b.shape()),
            la.shape[na - 1],
            lb.shape[nb - 2]
        );
    }
    let Some(batch) = broadcast_shapes(&la.shape[..na - 2], &lb.shape[..nb - 2]) else {
        bail!(Shape, "matmul: batch dimensions of {} and {} cannot broadcast", fmt_shape(a.shape()), fmt_shape(b.shape()));
    };
    let mut out: Dims = batch;
    if a.ndim() > 1 {
        out.push(la.shape[na - 2]);
    }
    if b.ndim() > 1 {
        out.push(lb.shape[nb - 1]);
    }
    crate::shape::check_bounded(&out, "matmul")?;
    Ok((la, lb, out))
}

/// Matrix product with PyTorch's `matmul` rules (1-D operands, batched and broadcast leading dimensions).
pub fn matmul(a: &Tensor, b: &Tensor) -> Result<Tensor> {
    a.expect_dtype(DType::F32, "a")?;
    b.expect_dtype(DType::F32, "b")?;
    let (la, lb, out_shape) = promoted(a, b)?;
    let rec = Recorder::new(&[a, b])?;
    let saved = vec![
        if rec.needs_grad(1) { rec.save(a, "MmBackward")? } else { None },
        if rec.needs_grad(0) { rec.save(b, "MmBackward")? } else { None },
    ];
    let out = bmm_raw(a, &la, b, &lb, rec.inference())?;
    let out = raw::alias(&out, Layout::contiguous(&out_shape));
    let needs = [rec.needs_grad(0), rec.needs_grad(1)];
    let (a_shape, b_shape) = (a.shape().into(), b.shape().into());
    Ok(rec.finish(out, || Box::new(MatmulBackward { a_shape, b_shape, needs }), saved))
}

/// x [*, in] -> x w^T + b: [*, out].
pub fn linear(x: &Tensor, w: &Tensor, b: Option<&Tensor>) -> Result<Tensor> {
    linear_fused(x, w, b, false).map(|(y, _)| y)
}

/// linear followed by an elementwise activation (what Sequential runs for Linear + ReLU). When the
/// linear is not recorded its output is a fresh buffer nobody else holds, so the activation is
/// applied to it directly: ReLU inside the GEMM's epilogue, others in place. One pass less and one
/// activation less in memory.
pub fn linear_act(x: &Tensor, w: &Tensor, b: Option<&Tensor>, act: UnaryOp) -> Result<Tensor> {
    let (y, relu_applied) = linear_fused(x, w, b, act == UnaryOp::Relu)?;
    if relu_applied {
        return Ok(y);
    }
    if y.grad_fn().is_some() {
        return super::unary::unary(&y, act);
    }
    // SAFETY: `y` was just made by linear and has not been shared.
    act.apply_in_place(unsafe { y.storage().slice_mut::<f32>() });
    Ok(y)
}

/// linear, with ReLU fused into the output when `relu` is asked and nothing is recorded; returns
/// whether it was.
fn linear_fused(x: &Tensor, w: &Tensor, b: Option<&Tensor>, relu: bool) -> Result<(Tensor, bool)> {
    x.expect_dtype(DType::F32, "x")?;
    w.expect_dtype(DType::F32, "weight")?;
    if let Some(b) = b {
        b.expect_dtype(DType::F32, "bias")?;
    }
    if w.ndim() != 2 {
        bail!(Shape, "linear: weight must be 2-D (out_features, in_features), got shape {}", fmt_shape(w.shape()));
    }
    let (out_f, in_f) = (w.shape()[0], w.shape()[1]);
    if x.ndim() == 0 || x.shape()[x.ndim() - 1] != in_f {
        bail!(
            Shape,
            "linear: input of shape {} does not end in in_features = {} (weight shape {})",
            fmt_shape(x.shape()),
            in_f,
            fmt_shape(w.shape())
        );
    }
    if let Some(b) = b {
        if b.shape() != [out_f] {
            bail!(Shape, "linear: bias must have shape [{}] to match weight {}, got {}", out_f, fmt_shape(w.shape()), fmt_shape(b.shape()));
        }
    }
    let mut out_shape: Dims = x.shape()[..x.ndim() - 1].into();
    out_shape.push(out_f);
    crate::shape::check_bounded(&out_shape, "linear")?;
    let inputs: Vec<&Tensor> = std::iter::once(x).chain(std::iter::once(w)).chain(b).collect();
    let rec = Recorder::new(&inputs)?;
    let saved = vec![
        if rec.needs_grad(1) { rec.save(x, "AddmmBackward")? } else { None },
        if rec.needs_grad(0) { rec.save(w, "AddmmBackward")? } else { None },
    ];
    let relu = relu && !rec.active();
    let out = linear_raw(x, w, b, relu, &out_shape, rec.inference())?;
    let needs = [rec.needs_grad(0), rec.needs_grad(1), b.is_some() && rec.needs_grad(2)];
    let x_shape = x.shape().into();
    Ok((rec.finish(out, || Box::new(LinearBackward { x_shape, needs }), saved), relu))
}

/// Rows from which linear runs the packed GEMM over a packed weight; below, the dot-product
/// kernel reading the weight in place is as fast or faster (one thread, per CPU second, 784 ->
/// 256: 89 against 84 GFLOP/s at 32 rows, 85-90 against 91 at 64; `cargo bench --bench kernels`).
const PACKED_MIN_ROWS: usize = 64;

fn linear_raw(x: &Tensor, w: &Tensor, b: Option<&Tensor>, relu: bool, out_shape: &[usize], inference: bool) -> Result<Tensor> {
    let x2 = rows_of(x)?;
    let (rows, in_f) = (x2.shape()[0], x2.shape()[1]);
    let out_f = w.shape()[0];
    let (lx, lw) = (x2.layout(), w.layout());
    // Both kernels below write every output, so `out` starts as room only.
    let mut out = try_with_capacity(rows * out_f)?;
    // From PACKED_MIN_ROWS rows on, always the packed GEMM: over the weight packed once
    // (packed_weights.rs) when it is cached, else packing it per call below, which gives the same
    // bits, so a product never depends on the weight's history (trained, reloaded, caller memory).
    let large = rows >= PACKED_MIN_ROWS && in_f > 0 && out_f > 0;
    if large {
        if let Some(packed) = packed_weight(w) {
            let bias = b.map(|b| b.try_data::<f32>()).transpose()?;
            gemm_prepacked_into(rows, mat(&x2, lx, lx.offset), packed.get(), bias.as_deref(), relu, &mut out);
            return Ok(raw::from_vec(out, out_shape, inference));
        }
    } else if in_f <= 1 || (lx.strides[1] == 1 && lw.strides[1] == 1) {
        // nn.Linear's own layout (rows contiguous in in_features) at a few rows: the dot-product
        // kernel, which reads both operands in place; transposed views take the strided GEMM.
        let bias = b.map(|b| b.try_data::<f32>()).transpose()?;
        let xs = Rows { data: from_offset(x2.storage().slice::<f32>(), lx.offset), stride: lx.strides[0] };
        let ws = Rows { data: from_offset(w.storage().slice::<f32>(), lw.offset), stride: lw.strides[0] };
        linear_nt_into(rows, out_f, in_f, xs, ws, Epilogue { bias: bias.as_deref(), relu }, &mut out);
        return Ok(raw::from_vec(out, out_shape, inference));
    }
    // The bias filled in and then accumulated onto, and ReLU as a pass after: the same bits as
    // the packed GEMM's epilogue (tests/cpu_dispatch.rs).
    out.resize(rows * out_f, 0.0);
    if let Some(b) = b {
        let bias = b.try_data::<f32>()?;
        for row in out.chunks_exact_mut(out_f.max(1)).take(rows) {
            row.copy_from_slice(&bias);
        }
    }
    let lwt = lw.transpose(0, 1);
    gemm_slices(rows, out_f, in_f, &mut out, out_f, b.is_some(), mat(&x2, lx, lx.offset), mat(w, &lwt, lwt.offset));
    if relu {
        UnaryOp::Relu.apply_in_place(&mut out);
    }
    Ok(raw::from_vec(out, out_shape, inference))
}
