//! Tensor <-> ndarray: round trips of every dtype, views with their strides, zero-size and 0-d
//! tensors, the zero-copy promise of from_ndarray, and the exclusivity rule of ndarray_view.
#![cfg(feature = "ndarray")]

use infer::autograd::mode::InferenceModeGuard;
use infer::{creation, ops, Code, Tensor};
use ndarray::{ArrayD, IxDyn};

fn array_f32(shape: &[usize]) -> ArrayD<f32> {
    let n: usize = shape.iter().product();
    ArrayD::from_shape_vec(IxDyn(shape), (0..n).map(|i| i as f32 * 0.5 - 3.0).collect()).unwrap()
}

#[test]
fn from_ndarray_takes_a_standard_layout_buffer_without_copying() {
    let a = array_f32(&[4, 3, 2]);
    let ptr = a.as_ptr();
    let t = Tensor::from_ndarray(a).unwrap();
    assert_eq!(t.shape(), &[4, 3, 2]);
    assert_eq!(t.storage().as_ptr() as *const f32, ptr, "the same buffer");
    assert_eq!(t.to_ndarray::<f32>().unwrap(), array_f32(&[4, 3, 2]));
}

#[test]
fn every_dtype_and_odd_shape_round_trips() {
    let i = ArrayD::from_shape_vec(IxDyn(&[2, 2]), vec![i64::MIN, -1, 0, i64::MAX]).unwrap();
    assert_eq!(Tensor::from_ndarray(i.clone()).unwrap().to_ndarray::<i64>().unwrap(), i);
    for shape in [&[][..], &[0][..], &[3, 0, 2][..], &[1][..], &[2, 1, 3][..]] {
        let a = array_f32(shape);
        let t = Tensor::from_ndarray(a.clone()).unwrap();
        assert_eq!(t.shape(), shape);
        assert_eq!(t.to_ndarray::<f32>().unwrap(), a, "shape {shape:?}");
    }
}

#[test]
fn arrays_not_in_standard_layout_are_copied_in_logical_order() {
    let a = array_f32(&[3, 4]);
    let transposed = a.t().to_owned(); // to_owned keeps a standard layout; reversed_axes does not
    let fortran = a.clone().reversed_axes();
    assert!(!fortran.is_standard_layout());
    let t = Tensor::from_ndarray(fortran.clone()).unwrap();
    assert_eq!(t.shape(), &[4, 3]);
    assert_eq!(t.to_ndarray::<f32>().unwrap(), transposed);
    let sliced = a.slice_move(ndarray::s![1.., ..]).into_dyn();
    let t = Tensor::from_ndarray(sliced.clone()).unwrap();
    assert_eq!(t.to_ndarray::<f32>().unwrap(), sliced);
}

#[test]
fn views_borrow_with_the_tensors_strides() {
    let base = Tensor::from_ndarray(array_f32(&[3, 4])).unwrap();
    let expect = array_f32(&[3, 4]);
    let cases: Vec<(Tensor, ArrayD<f32>)> = vec![
        (ops::transpose(&base, 0, 1).unwrap(), expect.t().to_owned()),
        (ops::narrow(&base, 1, 1, 2).unwrap(), expect.slice(ndarray::s![.., 1..3]).to_owned().into_dyn()),
        (
            ops::expand(&ops::narrow(&base, 0, 1, 1).unwrap(), &[5, 4]).unwrap(),
            expect.slice(ndarray::s![1..2, ..]).broadcast((5, 4)).unwrap().to_owned().into_dyn(),
        ),
    ];
    for (view, want) in cases {
        // SAFETY: nothing writes to `base` in this test.
        let borrowed = unsafe { view.ndarray_view_unchecked::<f32>() }.unwrap();
        assert_eq!(borrowed, want.view());
        assert_eq!(borrowed.as_ptr(), unsafe { (base.storage().as_ptr() as *const f32).add(view.layout().offset) }, "no copy");
        assert_eq!(view.to_ndarray::<f32>().unwrap(), want);
    }
}

#[test]
fn the_safe_view_is_refused_while_the_storage_is_shared() {
    let mut t = Tensor::from_ndarray(array_f32(&[2, 2])).unwrap();
    let other = t.clone();
    assert_eq!(t.ndarray_view::<f32>().unwrap_err().code, Code::InvalidArgument);
    drop(other);
    let view = ops::transpose(&t, 0, 1).unwrap();
    assert_eq!(t.ndarray_view::<f32>().unwrap_err().code, Code::InvalidArgument);
    drop(view);
    assert_eq!(t.ndarray_view::<f32>().unwrap()[[1, 0]], -2.0);
}

#[test]
fn the_element_type_must_match() {
    let mut t = creation::from_slice(&[1i64, 2], &[2]).unwrap();
    assert_eq!(t.to_ndarray::<f32>().unwrap_err().code, Code::Dtype);
    assert_eq!(t.ndarray_view::<f32>().unwrap_err().code, Code::Dtype);
}

#[test]
fn tensors_made_in_inference_mode_are_inference_tensors() {
    let t = {
        let _guard = InferenceModeGuard::new(true);
        Tensor::from_ndarray(array_f32(&[2])).unwrap()
    };
    assert!(t.is_inference());
    assert!(!Tensor::from_ndarray(array_f32(&[2])).unwrap().is_inference());
}

/// The workflow of examples/ndarray_mlp.rs: a batch moves from ndarray into a model without a
/// copy, in inference mode, and the logits come back as an array equal to the tensor path's.
#[test]
fn a_model_serves_an_ndarray_batch_without_copying_it() {
    use infer::nn::{Functional, Linear, Module, Sequential};
    use infer::ops::UnaryOp;
    use std::sync::Arc;
    let model = Sequential::new(vec![
        Arc::new(Linear::new(64, 32, true).unwrap()),
        Arc::new(Functional::activation("ReLU", UnaryOp::Relu)),
        Arc::new(Linear::new(32, 10, true).unwrap()),
    ])
    .unwrap();
    infer::nn::train(&model, false);
    let images = array_f32(&[8, 64]);
    let expected = model.forward(&creation::from_slice(images.as_slice().unwrap(), &[8, 64]).unwrap()).unwrap();
    let pixels = images.as_ptr();
    let batch = Tensor::from_ndarray(images).unwrap();
    assert_eq!(batch.storage().as_ptr() as *const f32, pixels, "no copy of the input");
    let logits = {
        let _guard = InferenceModeGuard::new(true);
        model.forward(&batch).unwrap()
    };
    let logits: ArrayD<f32> = logits.to_ndarray().unwrap();
    assert_eq!(logits.shape(), &[8, 10]);
    assert_eq!(logits, expected.to_ndarray::<f32>().unwrap());
}
