//! Elementwise functions of one F32 tensor, recorded for backward.

use super::record::Recorder;
use crate::autograd::functions::unary::UnaryBackward;
pub use crate::compute::unary::{Saves, UnaryOp};
use crate::error::Result;
use crate::storage::DType;
use crate::tensor::Tensor;

/// `op` applied elementwise.
pub fn unary(a: &Tensor, op: UnaryOp) -> Result<Tensor> {
    a.expect_dtype(DType::F32, "the input")?;
    let rec = Recorder::new(&[a])?;
    if !rec.active() {
        return op.run(a, rec.inference());
    }
    let saved_input = if op.saves() == Saves::Input { rec.save(a, op.backward_name())? } else { None };
    let out = op.run(a, rec.inference())?;
    let saved = match op.saves() {
        Saves::Nothing => vec![],
        Saves::Input => vec![saved_input],
        Saves::Output => vec![rec.save(&out, op.backward_name())?],
    };
    Ok(rec.finish(out, || Box::new(UnaryBackward { op }), saved))
}
