//! Modules defined in Rust the way the built-ins are: a struct holding a ModuleCore whose
//! constructor registers its parts; everything else is derived.

use super::*;
use crate::creation;
use crate::ops::{self, UnaryOp};
use crate::storage::DType;
use std::sync::Arc;

/// y = x + fc2(relu(fc1(x))), with a scale parameter and a step buffer of its own.
struct Residual {
    core: ModuleCore,
    fc1: Arc<Linear>,
    fc2: Arc<Linear>,
}

impl Residual {
    fn new(dim: usize) -> Result<Residual> {
        let core = ModuleCore::new("Residual");
        let (fc1, fc2) = (Arc::new(Linear::new(dim, 2 * dim, true)?), Arc::new(Linear::new(2 * dim, dim, true)?));
        core.register_module("fc1", fc1.clone())?;
        core.register_parameter("scale", creation::ones(&[dim], DType::F32)?, true)?;
        core.register_buffer("step", creation::zeros(&[], DType::I64)?, true)?;
        core.register_buffer("inv_freq", creation::ones(&[dim], DType::F32)?, false)?;
        core.register_module("fc2", fc2.clone())?;
        Ok(Residual { core, fc1, fc2 })
    }
}

impl Module for Residual {
    fn core(&self) -> &ModuleCore {
        &self.core
    }

    fn forward_n(&self, inputs: &[Option<Tensor>]) -> Result<Tensor> {
        let x = one_input(self, inputs)?;
        let h = ops::unary(&self.fc1.forward(x)?, UnaryOp::Relu)?;
        ops::add(x, &self.fc2.forward(&h)?)
    }
}

fn names(m: &dyn Module) -> Vec<String> {
    state_dict(m).into_iter().map(|(n, _)| n).collect()
}

#[test]
fn a_rust_module_names_its_parts_in_pytorch_order() {
    let r = Residual::new(2).unwrap();
    assert_eq!(names(&r), ["scale", "step", "fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias"]);
    assert_eq!(r.core().type_name(), "Residual");
    let y = r.forward(&creation::ones(&[3, 2], DType::F32).unwrap()).unwrap();
    assert_eq!(y.shape(), [3, 2]);
    assert_eq!(one_input(&r, &[]).unwrap_err().code, crate::Code::InvalidArgument);
}

#[test]
fn paths_reach_parameters_buffers_and_children() {
    let r: Arc<dyn Module> = Arc::new(Residual::new(2).unwrap());
    let inv = get_tensor(&r, "inv_freq").unwrap();
    assert_eq!(inv.shape(), [2]);
    let fc2 = get_module(&r, "fc2").unwrap();
    assert!(get_tensor(&fc2, "weight").unwrap().same_tensor(&get_tensor(&r, "fc2.weight").unwrap()));
    assert!(get_module(&r, "").unwrap().core().same(r.core()));
    let e = get_tensor(&r, "fc3.weight").unwrap_err();
    assert!(e.message.contains("nothing named \"fc3\""), "{}", e.message);
}

#[test]
fn a_shared_child_is_named_twice_but_walked_once() {
    let outer = ModuleCore::new("Outer");
    let shared: Arc<dyn Module> = Arc::new(Residual::new(2).unwrap());
    outer.register_module("a", shared.clone()).unwrap();
    outer.register_module("b", shared.clone()).unwrap();
    struct Outer(ModuleCore);
    impl Module for Outer {
        fn core(&self) -> &ModuleCore {
            &self.0
        }
        fn forward_n(&self, _: &[Option<Tensor>]) -> Result<Tensor> {
            crate::error::bail!(Unsupported, "a container")
        }
    }
    let outer: Arc<dyn Module> = Arc::new(Outer(outer));
    assert_eq!(state_dict(&*outer).len(), 12);
    assert_eq!(parameters(&*outer).len(), 5);
    let listed: Vec<String> = named_modules(&outer).into_iter().map(|(n, _)| n).collect();
    assert_eq!(listed, ["", "a", "a.fc1", "a.fc2"]);
    train(&*outer, false);
    assert!(!get_module(&outer, "b.fc2").unwrap().is_training());
    // no cycles: the outer module cannot go below its own child
    let e = shared.core().register_module("up", outer.clone()).unwrap_err();
    assert!(e.message.contains("cycle"), "{}", e.message);
    assert!(outer.core().register_module("me", outer.clone()).is_err());
}

#[test]
fn sequential_fuses_through_downcasts_and_keeps_its_names() {
    let seq = Sequential::new(vec![
        Arc::new(Linear::new(3, 4, true).unwrap()),
        Arc::new(Functional::activation("ReLU", UnaryOp::Relu)),
        Arc::new(Residual::new(4).unwrap()),
    ])
    .unwrap();
    assert_eq!(names(&seq)[..3], ["0.weight", "0.bias", "2.scale"]);
    assert!(downcast::<Linear>(&*get_module(&(Arc::new(seq) as Arc<dyn Module>), "0").unwrap()).is_some());
}
