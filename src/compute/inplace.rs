//! What an in-place op writes: the descriptor in-place ops and their backward share.

use super::raw::BinOp;

/// What an in-place op writes into its target.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Inplace {
    Binary(BinOp),
    AddScalar(f32),
    MulScalar(f32),
    Copy,
    Fill(f64),
}

impl Inplace {
    pub fn name(self) -> &'static str {
        match self {
            Inplace::Binary(BinOp::Add) => "add_inplace",
            Inplace::Binary(BinOp::Sub) => "sub_inplace",
            Inplace::Binary(BinOp::Mul) => "mul_inplace",
            Inplace::Binary(BinOp::Div) => "div_inplace",
            Inplace::AddScalar(_) => "add_scalar_inplace",
            Inplace::MulScalar(_) => "mul_scalar_inplace",
            Inplace::Copy => "copy_inplace",
            Inplace::Fill(_) => "fill_inplace",
        }
    }
}
