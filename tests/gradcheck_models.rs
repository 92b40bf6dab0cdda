//! Finite-difference gradcheck of the ops of API.md 7.C (the models additions), in f32,
//! including non-contiguous inputs where an op reads through a layout.

use infer::ops::{self, UnaryOp};
use std::slice::from_ref;

#[path = "support/gradcheck_inputs.rs"]
mod gradcheck_inputs;
#[path = "support/values.rs"]
mod support_values;
use gradcheck_inputs::{away_from_zero, check, distinct, indices, leaf, x};
use support_values::values;

#[test]
fn new_unary_functions() {
    for op in [UnaryOp::Silu, UnaryOp::Sin, UnaryOp::Cos, UnaryOp::GeluTanh] {
        check(|t| ops::unary(&t[0], op), &[x(&[2, 5], 1)]);
        check(|t| ops::unary(&ops::transpose(&t[0], 0, 1)?, op), &[x(&[5, 2], 2)]);
    }
    check(|t| ops::unary(&t[0], UnaryOp::Abs), &[away_from_zero(&[2, 5], 3)]);
    let positive = leaf(values(10, 4).into_iter().map(|v| 0.8 + v * 0.5).collect(), &[2, 5]);
    check(|t| ops::unary(&t[0], UnaryOp::Rsqrt), &[positive]);
    // larger arguments: the tails of gelu_tanh and silu, several periods of sin and cos
    let wide = leaf(values(12, 5).into_iter().map(|v| v * 6.0).collect(), &[12]);
    for op in [UnaryOp::Silu, UnaryOp::Sin, UnaryOp::Cos, UnaryOp::GeluTanh] {
        check(|t| ops::unary(&t[0], op), from_ref(&wide));
    }
}

#[test]
fn max_and_min_along_a_dim() {
    let a = distinct(&[3, 4, 5], 10);
    for dim in [0, 1, 2, -1] {
        for keepdim in [false, true] {
            check(|t| Ok(ops::extreme_dim(&t[0], dim, keepdim, true)?.0), from_ref(&a));
            check(|t| Ok(ops::extreme_dim(&t[0], dim, keepdim, false)?.0), from_ref(&a));
        }
    }
    check(|t| Ok(ops::extreme_dim(&ops::transpose(&t[0], 0, 1)?, 1, false, true)?.0), &[distinct(&[4, 3], 11)]);
    check(|t| Ok(ops::extreme_dim(&t[0], 0, false, true)?.0), &[x(&[], 12)]);
}

#[test]
fn amax_over_dims() {
    let a = distinct(&[3, 4, 5], 20);
    check(|t| ops::amax(&t[0], &[], false), from_ref(&a));
    check(|t| ops::amax(&t[0], &[1], true), from_ref(&a));
    check(|t| ops::amax(&t[0], &[0, -1], false), from_ref(&a));
    check(|t| ops::amax(&ops::transpose(&t[0], 0, 2)?, &[1], false), &[a]);
}

#[test]
fn topk_values() {
    let a = distinct(&[3, 6], 30);
    for largest in [true, false] {
        check(|t| Ok(ops::topk(&t[0], 3, 1, largest)?.0), from_ref(&a));
        check(|t| Ok(ops::topk(&t[0], 2, 0, largest)?.0), from_ref(&a));
    }
    check(|t| Ok(ops::topk(&ops::transpose(&t[0], 0, 1)?, 2, 1, true)?.0), &[a]);
}

#[test]
fn index_select_and_gather() {
    let a = x(&[3, 4, 2], 40);
    // repeated indices: their gradients add up
    let idx = indices(&[2, 0, 2], &[3]);
    check(|t| ops::index_select(&t[0], 1, &t[1]), &[a.clone(), idx.clone()]);
    check(|t| ops::index_select(&t[0], 0, &t[1]), &[a.clone(), idx.clone()]);
    check(|t| ops::index_select(&t[0], -1, &t[1]), &[a.clone(), indices(&[1, 1], &[2])]);
    check(|t| ops::index_select(&ops::transpose(&t[0], 0, 1)?, 1, &t[1]), &[a.clone(), idx]);
    let g = indices(&[0, 3, 3, 1, 2, 2, 0, 0, 1, 3, 2, 1], &[3, 2, 2]);
    check(|t| ops::gather(&t[0], 1, &t[1]), &[a.clone(), g]);
    check(|t| ops::gather(&t[0], 0, &t[1]), &[a.clone(), indices(&[2, 2, 0, 1], &[1, 2, 2])]);
    check(|t| ops::gather(&ops::transpose(&t[0], 0, 1)?, 2, &t[1]), &[a, indices(&[1, 0, 0, 1], &[2, 2, 1])]);
}

#[test]
fn triangles() {
    let a = x(&[2, 3, 4], 50);
    for diagonal in [-1, 0, 2] {
        check(|t| ops::triu(&t[0], diagonal), from_ref(&a));
        check(|t| ops::tril(&t[0], diagonal), from_ref(&a));
    }
    check(|t| ops::triu(&ops::transpose(&t[0], 1, 2)?, 0), &[a]);
}

#[test]
fn stack_and_chunk() {
    for dim in [0, 1, 2, -1] {
        check(|t| ops::stack(&[&t[0], &t[1], &t[2]], dim), &[x(&[2, 3], 60), x(&[2, 3], 61), x(&[2, 3], 62)]);
    }
    let a = x(&[7, 2], 63);
    for i in 0..3 {
        check(|t| Ok(ops::chunk(&t[0], 3, 0)?[i].clone()), from_ref(&a));
    }
    // every chunk used at once: their gradients land in disjoint slices
    check(|t| ops::cat(&ops::chunk(&t[0], 3, 0)?.iter().rev().collect::<Vec<_>>(), 0), &[a]);
}
