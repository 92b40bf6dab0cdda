//! SGD as torch.optim.SGD (dampening 0, no Nesterov):
//! d = g + wd * p; buf = d on the first step, else momentum * buf + d; p -= lr * buf.

use super::{check_range, Rule, StateBuffers};
use crate::error::Result;

/// SGD's update rule (`torch.optim.SGD`), with optional momentum and weight decay.
pub struct Sgd {
    momentum: f32,
    weight_decay: f32,
    momentum_buffers: StateBuffers,
    /// Whether parameter i's momentum buffer holds a value yet (its first step copies d into it).
    started: Vec<bool>,
}

impl Sgd {
    /// SGD with `momentum` and L2 `weight_decay`, both >= 0.
    pub fn new(momentum: f64, weight_decay: f64) -> Result<Sgd> {
        check_range("momentum", momentum, 0.0, f64::MAX, true)?;
        check_range("weight_decay", weight_decay, 0.0, f64::MAX, true)?;
        Ok(Sgd { momentum: momentum as f32, weight_decay: weight_decay as f32, momentum_buffers: StateBuffers::new(), started: Vec::new() })
    }
}

impl Rule for Sgd {
    fn prepare(&mut self, i: usize, len: usize) -> Result<()> {
        if self.started.len() <= i {
            self.started.resize(i + 1, false);
        }
        if self.momentum != 0.0 {
            self.momentum_buffers.prepare(i, len)?;
        }
        Ok(())
    }

    fn update(&mut self, i: usize, lr: f64, p: &mut [f32], g: &[f32]) {
        let (lr, wd, mom) = (lr as f32, self.weight_decay, self.momentum);
        if mom == 0.0 {
            for (p, &g) in p.iter_mut().zip(g) {
                let d = g + wd * *p;
                *p -= lr * d;
            }
            return;
        }
        let first = !std::mem::replace(&mut self.started[i], true);
        let buf = self.momentum_buffers.get(i);
        for ((p, &g), b) in p.iter_mut().zip(g).zip(buf) {
            let d = g + wd * *p;
            *b = if first { d } else { mom * *b + d };
            *p -= lr * *b;
        }
    }
}
