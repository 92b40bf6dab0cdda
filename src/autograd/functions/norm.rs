//! Derivatives of layer_norm and batch_norm (formulas beside the kernels in kernels/norm.rs):
//! with xhat = (x - mean) rstd and dxhat = g w,
//! layer norm: dx = rstd (dxhat - mean(dxhat) - xhat mean(dxhat xhat)) over each row;
//! batch norm: the same over each channel when the statistics came from the batch (training),
//! dx = rstd dxhat when they were the running statistics (eval);
//! both: dw = sum g xhat, db = sum g.

use crate::autograd::node::{saved_at, Backward};
use crate::compute::raw;
use crate::error::Result;
use crate::kernels::norm::{layer_backward, Channels};
use crate::shape::Dims;
use crate::storage::try_filled;
use crate::tensor::Tensor;

/// One gradient per recorded input: x, then weight and bias when they were given.
fn outputs(gx: Option<Tensor>, gw: Option<Tensor>, gb: Option<Tensor>, has_weight: bool, has_bias: bool) -> Vec<Option<Tensor>> {
    let mut out = vec![gx];
    if has_weight {
        out.push(gw);
    }
    if has_bias {
        out.push(gb);
    }
    out
}

/// Saved: [x, weight (when dx is wanted and there is one), mean per row, rstd per row].
pub struct LayerNormBackward {
    /// Elements per normalised row.
    pub n: usize,
    pub has_weight: bool,
    pub has_bias: bool,
    /// Gradients wanted for [x, weight, bias].
    pub needs: [bool; 3],
    /// normalized_shape, the shape of weight and bias.
    pub shape: Dims,
}

impl Backward for LayerNormBackward {
    fn name(&self) -> &'static str {
        "NativeLayerNormBackward"
    }

    fn apply(&self, g: &Tensor, saved: &[Option<Tensor>]) -> Result<Vec<Option<Tensor>>> {
        let x = saved_at(saved, 0);
        let weight = saved[1].as_ref().map(|w| w.try_data::<f32>()).transpose()?;
        let (mean, rstd) = (saved_at(saved, 2).try_data::<f32>()?, saved_at(saved, 3).try_data::<f32>()?);
        let mut dx = if self.needs[0] { Some(try_filled(x.numel(), 0f32)?) } else { None };
        let mut dw = if self.needs[1] { Some(try_filled(self.n, 0f64)?) } else { None };
        let mut db = if self.needs[2] { Some(try_filled(self.n, 0f64)?) } else { None };
        layer_backward(
            &x.try_data::<f32>()?,
            &g.try_data::<f32>()?,
            self.n,
            &mean,
            &rstd,
            weight.as_deref(),
            dx.as_deref_mut(),
            dw.as_deref_mut(),
            db.as_deref_mut(),
        );
        let param = |v: Option<Vec<f64>>| v.map(|v| raw::from_vec(v.into_iter().map(|d| d as f32).collect(), &self.shape, false));
        let gx = dx.map(|d| raw::from_vec(d, x.shape(), false));
        Ok(outputs(gx, param(dw), param(db), self.has_weight, self.has_bias))
    }
}

/// Saved: [x, weight (when dx is wanted and there is one), mean per channel, invstd per channel].
pub struct BatchNormBackward {
    pub ch: Channels,
    /// Whether the statistics came from the batch (so dx flows through them too).
    pub training: bool,
    pub has_weight: bool,
    pub has_bias: bool,
    /// Gradients wanted for [x, weight, bias].
    pub needs: [bool; 3],
}

impl Backward for BatchNormBackward {
    fn name(&self) -> &'static str {
        "NativeBatchNormBackward"
    }

    fn apply(&self, g: &Tensor, saved: &[Option<Tensor>]) -> Result<Vec<Option<Tensor>>> {
        let x = saved_at(saved, 0);
        let weight = saved[1].as_ref().map(|w| w.try_data::<f32>()).transpose()?;
        let (mean, invstd) = (saved_at(saved, 2).try_data::<f32>()?, saved_at(saved, 3).try_data::<f32>()?);
        let c = self.ch.channels;
        let mut dx = if self.needs[0] { Some(try_filled(x.numel(), 0f32)?) } else { None };
        let mut dw = if self.needs[1] { Some(try_filled(c, 0f32)?) } else { None };
        let mut db = if self.needs[2] { Some(try_filled(c, 0f32)?) } else { None };
        self.ch.backward(
            &x.try_data::<f32>()?,
            &g.try_data::<f32>()?,
            &mean,
            &invstd,
            weight.as_deref(),
            self.training,
            dx.as_deref_mut(),
            dw.as_deref_mut(),
            db.as_deref_mut(),
        )?;
        let param = |v: Option<Vec<f32>>| v.map(|v| raw::from_vec(v, &[c], false));
        let gx = dx.map(|d| raw::from_vec(d, x.shape(), false));
        Ok(outputs(gx, param(dw), param(db), self.has_weight, self.has_bias))
    }
}
