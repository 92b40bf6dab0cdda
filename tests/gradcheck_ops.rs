//! Finite-difference gradcheck (infer::gradcheck) over every differentiable op of the
//! crate, in f32, including non-contiguous inputs and gradients where an op has a layout path.

use infer::ops::{self, UnaryOp};
use infer::{creation, rng};
use std::slice::from_ref;

#[path = "support/gradcheck_inputs.rs"]
mod gradcheck_inputs;
#[path = "support/values.rs"]
mod support_values;
use gradcheck_inputs::{away_from_zero, check, distinct, indices, positive, x};
use support_values::values;

#[test]
fn arithmetic_with_broadcasting() {
    let (a, b) = (x(&[2, 3, 4], 1), x(&[3, 1], 2));
    check(|t| ops::add(&t[0], &t[1]), &[a.clone(), b.clone()]);
    check(|t| ops::sub(&t[0], &t[1]), &[a.clone(), b.clone()]);
    check(|t| ops::mul(&t[0], &t[1]), &[a.clone(), b.clone()]);
    check(|t| ops::div(&t[0], &t[1]), &[a.clone(), away_from_zero(&[3, 1], 3)]);
    check(|t| ops::div(&t[0], &t[1]), &[x(&[4], 4), away_from_zero(&[2, 3, 4], 5)]);
}

#[test]
fn arithmetic_where_one_operand_is_constant() {
    let c = creation::from_slice(&values(4, 9), &[4]).unwrap();
    check(|t| ops::mul(&t[0], &t[1]), &[x(&[3, 4], 6), c.clone()]);
    check(|t| ops::div(&t[1], &t[0]), &[away_from_zero(&[3, 4], 7), c]);
}

#[test]
fn scalar_ops_and_pow() {
    check(|t| ops::add_scalar(&t[0], 2.5), &[x(&[3, 2], 10)]);
    check(|t| ops::mul_scalar(&t[0], -1.5), &[x(&[3, 2], 11)]);
    check(|t| ops::pow_scalar(&t[0], 3.0), &[x(&[3, 2], 12)]);
    check(|t| ops::pow_scalar(&t[0], 0.5), &[positive(&[3, 2], 13)]);
    check(|t| ops::pow_scalar(&t[0], -2.0), &[positive(&[3, 2], 14)]);
}

#[test]
fn unary_functions() {
    for op in [UnaryOp::Neg, UnaryOp::Exp, UnaryOp::Sigmoid, UnaryOp::Tanh, UnaryOp::Gelu] {
        check(|t| ops::unary(&t[0], op), &[x(&[2, 5], 20)]);
    }
    check(|t| ops::unary(&t[0], UnaryOp::Relu), &[away_from_zero(&[2, 5], 21)]);
    check(|t| ops::unary(&t[0], UnaryOp::Log), &[positive(&[2, 5], 22)]);
    check(|t| ops::unary(&t[0], UnaryOp::Sqrt), &[positive(&[2, 5], 23)]);
}

#[test]
fn matmul_in_every_promotion() {
    check(|t| ops::matmul(&t[0], &t[1]), &[x(&[4], 30), x(&[4], 31)]);
    check(|t| ops::matmul(&t[0], &t[1]), &[x(&[3, 4], 32), x(&[4], 33)]);
    check(|t| ops::matmul(&t[0], &t[1]), &[x(&[4], 34), x(&[4, 2], 35)]);
    check(|t| ops::matmul(&t[0], &t[1]), &[x(&[3, 4], 36), x(&[4, 2], 37)]);
    check(|t| ops::matmul(&t[0], &t[1]), &[x(&[2, 1, 3, 4], 38), x(&[3, 4, 2], 39)]);
    // A transposed operand: the GEMM reads it through strides.
    check(|t| ops::matmul(&ops::transpose(&t[0], 0, 1)?, &t[1]), &[x(&[4, 3], 40), x(&[4, 2], 41)]);
}

#[test]
fn linear_with_and_without_bias() {
    check(|t| ops::linear(&t[0], &t[1], Some(&t[2])), &[x(&[2, 3, 4], 50), x(&[5, 4], 51), x(&[5], 52)]);
    check(|t| ops::linear(&t[0], &t[1], None), &[x(&[3, 4], 53), x(&[5, 4], 54)]);
    check(|t| ops::linear(&ops::transpose(&t[0], 0, 1)?, &t[1], None), &[x(&[4, 3], 55), x(&[2, 4], 56)]);
}

#[test]
fn reductions() {
    let a = x(&[2, 3, 4], 60);
    check(|t| ops::sum(&t[0], &[], false), from_ref(&a));
    check(|t| ops::sum(&t[0], &[1], true), from_ref(&a));
    check(|t| ops::sum(&t[0], &[0, -1], false), from_ref(&a));
    check(|t| ops::mean(&t[0], &[], false), from_ref(&a));
    check(|t| ops::mean(&t[0], &[2], false), from_ref(&a));
    check(|t| ops::mean(&t[0], &[0, 2], true), &[a]);
}

#[test]
fn views() {
    let a = x(&[2, 3, 4], 70);
    check(|t| ops::view(&t[0], &[6, -1]), from_ref(&a));
    check(|t| ops::reshape(&ops::transpose(&t[0], 0, 2)?, &[4, 6]), from_ref(&a));
    check(|t| ops::flatten(&t[0], 1, 2), from_ref(&a));
    check(|t| ops::transpose(&t[0], 0, 2), from_ref(&a));
    check(|t| ops::permute(&t[0], &[2, 0, 1]), from_ref(&a));
    check(|t| ops::narrow(&t[0], 1, 1, 2), from_ref(&a));
    check(|t| ops::select(&t[0], 2, 3), from_ref(&a));
    check(|t| ops::unsqueeze(&t[0], 1), from_ref(&a));
    check(|t| ops::squeeze(&t[0], 1), &[x(&[3, 1, 2], 71)]);
    check(|t| ops::expand(&t[0], &[2, 3, 4]), &[x(&[3, 1], 72)]);
    check(|t| ops::clone(&ops::transpose(&t[0], 0, 1)?), from_ref(&a));
    check(|t| ops::contiguous(&ops::transpose(&t[0], 1, 2)?), &[a]);
}

#[test]
fn cat_along_a_dim() {
    check(|t| ops::cat(&[&t[0], &t[1], &t[2]], 1), &[x(&[2, 1, 3], 80), x(&[2, 4, 3], 81), x(&[2, 2, 3], 82)]);
    check(|t| ops::cat(&[&t[0], &t[1]], -1), &[x(&[2, 3], 83), x(&[2, 1], 84)]);
}

#[test]
fn softmax_and_log_softmax_along_every_dim() {
    let a = x(&[2, 3, 4], 90);
    for dim in [0, 1, 2, -1] {
        check(|t| ops::softmax(&t[0], dim), from_ref(&a));
        check(|t| ops::log_softmax(&t[0], dim), from_ref(&a));
    }
    check(|t| ops::softmax(&t[0], 0), &[x(&[], 91)]);
}

#[test]
fn softmax_of_non_contiguous_input_with_non_contiguous_gradient() {
    // transpose before and after: the op reads a strided input and backward gets a permuted grad.
    let a = x(&[3, 5], 92);
    check(|t| ops::transpose(&ops::softmax(&ops::transpose(&t[0], 0, 1)?, 1)?, 0, 1), from_ref(&a));
    check(|t| ops::transpose(&ops::log_softmax(&ops::transpose(&t[0], 0, 1)?, 0)?, 0, 1), &[a]);
}

#[test]
fn cross_entropy_loss() {
    let targets = indices(&[2, 0, 4, 4], &[4]);
    check(|t| ops::cross_entropy(&t[0], &t[1]), &[x(&[4, 5], 100), targets.clone()]);
    // Scaled logits: the fused log-softmax must stay stable and exact.
    check(|t| ops::cross_entropy(&ops::mul_scalar(&t[0], 3.0)?, &t[1]), &[x(&[4, 5], 101), targets]);
    check(|t| ops::cross_entropy(&ops::transpose(&t[0], 0, 1)?, &t[1]), &[x(&[3, 2], 102), indices(&[1, 2], &[2])]);
}

#[test]
fn mse_loss_to_both_operands() {
    check(|t| ops::mse_loss(&t[0], &t[1]), &[x(&[3, 4], 110), x(&[3, 4], 111)]);
    check(|t| ops::mse_loss(&ops::transpose(&t[0], 0, 1)?, &t[1]), &[x(&[4, 3], 112), x(&[3, 4], 113)]);
}

#[test]
fn conv2d_with_stride_padding_and_bias() {
    check(|t| ops::conv2d(&t[0], &t[1], Some(&t[2]), 1, 0), &[x(&[2, 3, 5, 5], 120), x(&[4, 3, 3, 3], 121), x(&[4], 122)]);
    check(|t| ops::conv2d(&t[0], &t[1], Some(&t[2]), 2, 1), &[x(&[2, 2, 5, 6], 123), x(&[3, 2, 3, 2], 124), x(&[3], 125)]);
    check(|t| ops::conv2d(&t[0], &t[1], None, 3, 2), &[x(&[1, 2, 4, 4], 126), x(&[2, 2, 2, 2], 127)]);
}

#[test]
fn conv2d_pointwise_fast_path_and_strided_input() {
    check(|t| ops::conv2d(&t[0], &t[1], Some(&t[2]), 1, 0), &[x(&[2, 3, 2, 3], 130), x(&[4, 3, 1, 1], 131), x(&[4], 132)]);
    check(|t| ops::conv2d(&ops::permute(&t[0], &[0, 3, 1, 2])?, &t[1], None, 1, 1), &[x(&[1, 4, 3, 2], 133), x(&[2, 2, 2, 2], 134)]);
}

#[test]
fn conv2d_weight_only_and_input_only() {
    let w = creation::from_slice(&values(2 * 3 * 2 * 2, 141), &[2, 3, 2, 2]).unwrap();
    check(|t| ops::conv2d(&t[0], &t[1], None, 1, 1), &[x(&[2, 3, 3, 3], 140), w]);
    let input = creation::from_slice(&values(2 * 3 * 3 * 3, 142), &[2, 3, 3, 3]).unwrap();
    check(|t| ops::conv2d(&t[0], &t[1], Some(&t[2]), 2, 0), &[input, x(&[2, 3, 2, 2], 143), x(&[2], 144)]);
}

#[test]
fn max_pool2d_routes_to_the_maximum() {
    check(|t| ops::max_pool2d(&t[0], 2, 0), &[distinct(&[2, 2, 4, 5], 150)]);
    // Overlapping windows: one input can be the maximum of several outputs.
    check(|t| ops::max_pool2d(&t[0], 3, 1), &[distinct(&[1, 2, 5, 5], 151)]);
    check(|t| ops::max_pool2d(&ops::transpose(&t[0], 2, 3)?, 2, 1), &[distinct(&[1, 1, 3, 4], 152)]);
}

#[test]
fn layer_norm_with_and_without_affine() {
    let tol_inputs = |seed| x(&[3, 2, 4], seed);
    check(|t| ops::layer_norm(&t[0], &[4], Some(&t[1]), Some(&t[2]), 1e-5), &[tol_inputs(160), x(&[4], 161), x(&[4], 162)]);
    check(|t| ops::layer_norm(&t[0], &[2, 4], Some(&t[1]), Some(&t[2]), 1e-5), &[tol_inputs(163), x(&[2, 4], 164), x(&[2, 4], 165)]);
    check(|t| ops::layer_norm(&t[0], &[4], None, None, 1e-5), &[tol_inputs(166)]);
    check(|t| ops::layer_norm(&t[0], &[4], None, Some(&t[1]), 1e-5), &[tol_inputs(167), x(&[4], 168)]);
    check(|t| ops::layer_norm(&ops::transpose(&t[0], 0, 2)?, &[3], Some(&t[1]), None, 1e-5), &[tol_inputs(169), x(&[3], 170)]);
}

#[test]
fn batch_norm_training_through_batch_statistics() {
    let (rm, rv) = (creation::zeros(&[3], infer::DType::F32).unwrap(), creation::ones(&[3], infer::DType::F32).unwrap());
    check(
        |t| ops::batch_norm(&t[0], Some(&rm), Some(&rv), Some(&t[1]), Some(&t[2]), true, 0.1, 1e-5),
        &[x(&[4, 3], 180), x(&[3], 181), x(&[3], 182)],
    );
    check(
        |t| ops::batch_norm(&t[0], None, None, Some(&t[1]), Some(&t[2]), true, 0.1, 1e-5),
        &[x(&[2, 3, 2, 3], 183), x(&[3], 184), x(&[3], 185)],
    );
    check(|t| ops::batch_norm(&t[0], None, None, None, None, true, 0.1, 1e-5), &[x(&[3, 2, 4], 186)]);
    check(
        |t| ops::batch_norm(&ops::transpose(&t[0], 0, 1)?, None, None, Some(&t[1]), None, true, 0.1, 1e-5),
        &[x(&[3, 4], 187), x(&[3], 188)],
    );
}

#[test]
fn batch_norm_eval_through_the_affine() {
    let rm = creation::from_slice(&[0.1f32, -0.2, 0.3], &[3]).unwrap();
    let rv = creation::from_slice(&[0.5f32, 1.5, 2.0], &[3]).unwrap();
    check(
        |t| ops::batch_norm(&t[0], Some(&rm), Some(&rv), Some(&t[1]), Some(&t[2]), false, 0.1, 1e-5),
        &[x(&[2, 3, 2, 2], 190), x(&[3], 191), x(&[3], 192)],
    );
    check(|t| ops::batch_norm(&t[0], Some(&rm), Some(&rv), None, None, false, 0.1, 1e-5), &[x(&[4, 3], 193)]);
}

#[test]
fn dropout_with_a_fixed_mask() {
    // Reseeding inside the function draws the same mask at every evaluation. No other test in
    // this binary uses the process-wide generator.
    check(
        |t| {
            rng::manual_seed(7);
            ops::dropout(&t[0], 0.4, true)
        },
        &[x(&[4, 6], 200)],
    );
    check(|t| ops::dropout(&t[0], 1.0, true), &[x(&[4, 6], 201)]);
    check(|t| ops::dropout(&t[0], 0.5, false), &[x(&[4, 6], 202)]);
}

#[test]
fn embedding_scatter_adds_repeated_rows() {
    let idx = indices(&[1, 3, 1, 0, 3, 3], &[2, 3]);
    check(|t| ops::embedding(&t[1], &t[0]), &[x(&[5, 4], 210), idx]);
    check(|t| ops::embedding(&t[1], &t[0]), &[x(&[3, 2], 211), indices(&[2], &[])]);
}
