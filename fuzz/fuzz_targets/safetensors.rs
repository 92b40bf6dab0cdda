//! The safetensors parser and loader on arbitrary bytes: writes them to a file, opens it, reads
//! every name and gets every tensor (copying its data out), asks for a name that is not there, and
//! loads the file into a small Sequential (Linear(2,3), ReLU, Linear(3,1)) strictly and not.
//! Every call keeps the contract (common::check); a failed load leaves the module's tensors
//! unchanged; and once every handle is freed the library holds no tensor storage from the input.

#![no_main]

#[macro_use]
mod common;

use infer::ffi::module::*;
use infer::ffi::safetensors::*;
use infer::ffi::tensor::*;
use infer::ffi::types::*;
use libfuzzer_sys::fuzz_target;
use std::ffi::{c_char, c_void, CString};
use std::ptr::null_mut;

/// A file of this process's own under the temp folder.
fn path() -> &'static CString {
    static PATH: std::sync::OnceLock<CString> = std::sync::OnceLock::new();
    PATH.get_or_init(|| {
        let p = std::env::temp_dir().join(format!("infer-fuzz-safetensors-{}.safetensors", std::process::id()));
        CString::new(p.into_os_string().into_encoded_bytes()).expect("no NUL in the temp path")
    })
}

/// Element bytes of a tensor (F32, I64 or BOOL), read through rt_tensor_copy_to.
fn contents(t: *mut rt_tensor) -> Vec<u8> {
    let (mut numel, mut dtype) = (0usize, 0u32);
    assert_eq!(call!(rt_tensor_numel(t, &mut numel)), RT_OK);
    assert_eq!(call!(rt_tensor_dtype(t, &mut dtype)), RT_OK);
    let size = match dtype {
        RT_DTYPE_I64 => 8,
        RT_DTYPE_BOOL => 1,
        _ => 4,
    };
    let mut bytes = vec![0u8; numel * size];
    assert_eq!(call!(rt_tensor_copy_to(t, bytes.as_mut_ptr() as *mut c_void, bytes.len())), RT_OK);
    bytes
}

fn read_file(f: *mut rt_safetensors) {
    let mut count = 0usize;
    assert_eq!(call!(rt_safetensors_count(f, &mut count)), RT_OK);
    for i in 0..count {
        let mut len = 0usize;
        assert_eq!(call!(rt_safetensors_name(f, i, null_mut(), 0, &mut len)), RT_ERR_BUFFER_TOO_SMALL);
        let mut name = vec![0 as c_char; len + 1];
        assert_eq!(call!(rt_safetensors_name(f, i, name.as_mut_ptr(), name.len(), &mut len)), RT_OK);
        let mut t = null_mut();
        if call!(rt_safetensors_get(f, name.as_ptr(), &mut t)) == RT_OK {
            contents(t);
            assert_eq!(call!(rt_tensor_free(t)), RT_OK);
        } else {
            assert!(t.is_null(), "an out-parameter was written by a failed call");
        }
    }
    let mut len = 0usize;
    assert_eq!(call!(rt_safetensors_name(f, count, null_mut(), 0, &mut len)), RT_ERR_INVALID_ARGUMENT);
    let mut t = null_mut();
    let status = call!(rt_safetensors_get(f, c"\u{1}not a tensor name".as_ptr(), &mut t));
    assert!(status == RT_ERR_INVALID_ARGUMENT && t.is_null());
}

fn small_model() -> (Vec<*mut rt_module>, *mut rt_module) {
    let (mut l1, mut relu, mut l2, mut seq) = (null_mut(), null_mut(), null_mut(), null_mut());
    assert_eq!(call!(rt_module_linear(2, 3, true, &mut l1)), RT_OK);
    assert_eq!(call!(rt_module_relu(&mut relu)), RT_OK);
    assert_eq!(call!(rt_module_linear(3, 1, true, &mut l2)), RT_OK);
    let kids = [l1, relu, l2];
    assert_eq!(call!(rt_module_sequential(kids.as_ptr(), 3, &mut seq)), RT_OK);
    (kids.to_vec(), seq)
}

/// Every tensor of the module, by name, as bytes.
fn snapshot(m: *mut rt_module) -> Vec<Vec<u8>> {
    ["0.weight", "0.bias", "2.weight", "2.bias"]
        .iter()
        .map(|name| {
            let name = CString::new(*name).unwrap();
            let mut t = null_mut();
            assert_eq!(call!(rt_module_get_tensor(m, name.as_ptr(), &mut t)), RT_OK);
            let bytes = contents(t);
            assert_eq!(call!(rt_tensor_free(t)), RT_OK);
            bytes
        })
        .collect()
}

fuzz_target!(|data: &[u8]| {
    let baseline = common::live_bytes();
    std::fs::write(path().to_str().unwrap(), data).expect("write the temp file");

    let mut f = null_mut();
    if call!(rt_safetensors_open(path().as_ptr(), &mut f)) == RT_OK {
        read_file(f);
        assert_eq!(call!(rt_safetensors_free(f)), RT_OK);
    } else {
        assert!(f.is_null(), "an out-parameter was written by a failed call");
    }

    let (kids, model) = small_model();
    let model_bytes = common::live_bytes();
    for strict in [true, false] {
        let before = snapshot(model);
        if call!(rt_module_load_safetensors(model, path().as_ptr(), strict)) != RT_OK {
            assert!(snapshot(model) == before, "a failed load changed the module");
        }
        assert_eq!(common::live_bytes(), model_bytes, "a load left storage behind");
    }
    assert_eq!(call!(rt_module_free(model)), RT_OK);
    for k in kids {
        assert_eq!(call!(rt_module_free(k)), RT_OK);
    }
    assert_eq!(common::live_bytes(), baseline, "tensor storage is still held after every handle was freed");
});
