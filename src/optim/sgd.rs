//! SGD as torch.optim.SGD (dampening 0, no Nesterov):
//! d = g + wd * p; buf = d on the first step, else momentum * buf + d; p -= lr * buf.

use super::{check_range, Rule, StateBuffers};
use crate::error::Result;

pub struct Sgd {
    momentum: f32,
    weight_decay: f32,
    momentum_buffers: StateBuffers,
}

impl Sgd {
    pub fn new(momentum: f64, weight_decay: f64) -> Result<Sgd> {
        check_range("momentum", momentum, 0.0, f64::MAX, true)?;
        check_range("weight_decay", weight_decay, 0.0, f64::MAX, true)?;
        Ok(Sgd { momentum: momentum as f32, weight_decay: weight_decay as f32, momentum_buffers: StateBuffers::new() })
    }
}

impl Rule for Sgd {
    fn update(&mut self, i: usize, lr: f64, p: &[f32], g: &[f32]) -> Result<Vec<f32>> {
        let (lr, wd, mom) = (lr as f32, self.weight_decay, self.momentum);
        let d: Vec<f32> = p.iter().zip(g).map(|(&p, &g)| g + wd * p).collect();
        let step: Vec<f32> = if mom != 0.0 {
            let first = !self.momentum_buffers.has(i);
            let buf = self.momentum_buffers.get(i, p.len())?;
            for (b, &d) in buf.iter_mut().zip(&d) {
                *b = if first { d } else { mom * *b + d };
            }
            buf.to_vec()
        } else {
            d
        };
        Ok(p.iter().zip(step).map(|(&p, s)| p - lr * s).collect())
    }
}
