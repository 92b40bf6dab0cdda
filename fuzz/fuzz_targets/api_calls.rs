//! Decodes the fuzzer's bytes into a sequence of C API calls — factories with fuzzed shapes, ops,
//! views, in-place ops, grad/inference mode enters and exits, backward, modules, optimizers, frees,
//! and freed, foreign and wrong-kind handles — and checks after each call that the library kept
//! its contract (common::check): no crash, no abort, no panic, known statuses, out-parameters
//! untouched on failure, the mode flags as the frames say. At the end of each input it unwinds
//! its frames, frees every handle it holds, and requires the library's tensor storage to be back
//! where it started and every blob deleter to have run: nothing leaks beyond process-lifetime
//! state (a reference cycle in a graph would show here, where LeakSanitizer cannot see it).
//!
//! Sizes stay in two bands so a run measures the library, not the machine: "small" tensors
//! (at most 2^22 elements) that every op may take, and "huge" ones (2^40 elements or more, only
//! made by expand, which allocates nothing) that only ops which must fail fast may take — an
//! op that allocates its output gets RT_ERR_OUT_OF_MEMORY at once. Anything in between (a narrow
//! of a huge view) is freed as soon as it is made.

#![no_main]

#[macro_use]
mod common;

use infer::ffi::attention::*;
use infer::ffi::autograd::*;
use infer::ffi::compare::*;
use infer::ffi::custom::*;
use infer::ffi::error::*;
use infer::ffi::inplace::*;
use infer::ffi::layers::*;
use infer::ffi::mode::*;
use infer::ffi::module::*;
use infer::ffi::nn_ops::*;
use infer::ffi::ops::*;
use infer::ffi::optim::*;
use infer::ffi::runtime::*;
use infer::ffi::safetensors::*;
use infer::ffi::tensor::*;
use infer::ffi::transformer::*;
use infer::ffi::types::*;
use libfuzzer_sys::fuzz_target;
use std::ffi::{c_char, c_void, CString};
use std::ptr::null_mut;
use std::sync::atomic::{AtomicIsize, Ordering};

const SMALL: u64 = 1 << 22;
const HUGE: u64 = 1 << 40;

/// The fuzzer's bytes read as choices; zeros once they run out.
struct Input<'a>(&'a [u8]);

impl Input<'_> {
    fn byte(&mut self) -> u8 {
        match self.0.split_first() {
            Some((&b, rest)) => {
                self.0 = rest;
                b
            }
            None => 0,
        }
    }

    fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            self.byte() as usize % n
        }
    }

    fn flag(&mut self) -> bool {
        self.byte() & 1 == 1
    }

    fn u64(&mut self) -> u64 {
        (0..8).fold(0, |v, _| v << 8 | self.byte() as u64)
    }

    /// A dimension size: mostly 0..=5; sometimes negative or so large that the tensor either has
    /// no elements or can never be allocated.
    fn size(&mut self) -> i64 {
        const HOSTILE: [i64; 7] = [-1, -(1 << 40), 1 << 40, 1 << 45, i64::MAX, i64::MIN, 1 << 62];
        match self.byte() {
            b @ 0..=239 => (b % 6) as i64,
            b => HOSTILE[(b - 240) as usize % HOSTILE.len()],
        }
    }

    /// A dim index (negative counts from the end), sometimes far out of range.
    fn dim(&mut self) -> i64 {
        const HOSTILE: [i64; 8] = [i64::MIN, i64::MAX, 1 << 40, -(1 << 40), 64, -65, 100, 7];
        match self.byte() {
            b @ 0..=247 => (b % 11) as i64 - 5,
            b => HOSTILE[(b - 248) as usize],
        }
    }

    fn shape(&mut self) -> Vec<i64> {
        match self.byte() {
            b @ 0..=249 => (0..b % 5).map(|_| self.size()).collect(),
            250 => vec![1 << 45],
            251 => vec![1 << 40, 1 << 40],
            252 => vec![1; RT_MAX_DIMS + 1],
            253 => vec![i64::MAX, 2],
            254 => vec![1 << 23, 1 << 22],
            _ => vec![-1, 3],
        }
    }

    fn dims(&mut self) -> Vec<i64> {
        match self.byte() {
            b @ 0..=251 => (0..b % 4).map(|_| self.dim()).collect(),
            _ => vec![0; RT_MAX_DIMS + 1],
        }
    }

    fn scalar(&mut self) -> f64 {
        const VALUES: [f64; 16] = [
            0.0,
            1.0,
            -1.0,
            0.5,
            2.0,
            3.0,
            -0.0,
            1e-30,
            1e30,
            1e300,
            f64::NAN,
            f64::INFINITY,
            f64::NEG_INFINITY,
            f64::MAX,
            f64::MIN_POSITIVE,
            0.9,
        ];
        match self.byte() {
            b @ 0..=239 => VALUES[b as usize % VALUES.len()],
            _ => f64::from_bits(self.u64()),
        }
    }

    fn dtype(&mut self) -> rt_dtype {
        match self.byte() {
            b @ 0..=249 => (b % 3) as rt_dtype,
            b => [4, 7, u32::MAX, 0x8000_0000, 100, 3][(b - 250) as usize],
        }
    }
}

/// Blob memory the library holds; each deleter call gives one back.
static BLOBS: AtomicIsize = AtomicIsize::new(0);

/// ctx is the Box<Vec<u64>> holding the blob's memory.
unsafe extern "C" fn blob_deleter(_data: *mut c_void, ctx: *mut c_void) {
    // SAFETY: ctx came from Box::into_raw in `from_blob` and the library runs this once.
    drop(unsafe { Box::from_raw(ctx as *mut Vec<u64>) });
    BLOBS.fetch_sub(1, Ordering::SeqCst);
}

/// What rt_with_inference_mode's callback does, by the byte it is given.
unsafe extern "C" fn callback(ctx: *mut c_void) -> rt_status {
    // SAFETY: ctx points at a u8 on the caller's stack.
    match unsafe { *(ctx as *const u8) } % 4 {
        0 => RT_OK,
        1 => RT_ERR_SHAPE,
        2 => rt_grad_mode_enter(false),
        _ => rt_inference_mode_exit(),
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Kind {
    Tensor,
    Module,
    Optimizer,
}

#[derive(Clone, Copy)]
struct Tensor {
    handle: *mut rt_tensor,
    numel: u64,
}

/// The handles and mode frames one input holds.
struct State {
    tensors: Vec<Tensor>,
    modules: Vec<*mut rt_module>,
    optimizers: Vec<*mut rt_optimizer>,
    /// Handle values already freed (any kind): the library must refuse them.
    dead: Vec<usize>,
    /// Open frames, true for inference frames, with the (grad, inference) state each replaced.
    frames: Vec<(bool, (bool, bool))>,
    grad: bool,
    inference: bool,
}

/// A pointer the library never issued.
fn foreign() -> usize {
    static ANCHOR: u64 = 0;
    &ANCHOR as *const u64 as usize
}

impl State {
    fn numel(t: *mut rt_tensor) -> u64 {
        let mut n = 0usize;
        assert_eq!(call!(rt_tensor_numel(t, &mut n)), RT_OK, "a fresh handle must be live");
        n as u64
    }

    /// Keeps a new tensor handle, or frees it at once when its size is in neither band.
    fn keep(&mut self, status: rt_status, out: *mut rt_tensor) {
        if status != RT_OK {
            assert!(out.is_null(), "an out-parameter was written by a failed call");
            return;
        }
        if out.is_null() {
            return; // rt_tensor_grad of a tensor without a gradient
        }
        let numel = Self::numel(out);
        if numel > SMALL && numel < HUGE {
            assert_eq!(call!(rt_tensor_free(out)), RT_OK);
            self.dead.push(out as usize);
        } else {
            self.tensors.push(Tensor { handle: out, numel });
        }
    }

    /// A tensor argument: mostly a live handle, sometimes NULL, freed, foreign or of another kind.
    /// Its element count is 0 unless it is live.
    fn tensor(&self, inp: &mut Input) -> Tensor {
        let pick = |n: usize, inp: &mut Input| inp.below(n);
        let handle = match inp.byte() {
            0..=9 => null_mut(),
            10..=19 if !self.dead.is_empty() => self.dead[pick(self.dead.len(), inp)] as *mut rt_tensor,
            20..=24 if !self.modules.is_empty() => self.modules[pick(self.modules.len(), inp)] as *mut rt_tensor,
            25..=29 => (foreign() + 8 * inp.below(4)) as *mut rt_tensor,
            _ if !self.tensors.is_empty() => return self.tensors[pick(self.tensors.len(), inp)],
            _ => null_mut(),
        };
        Tensor { handle, numel: 0 }
    }

    fn module(&self, inp: &mut Input) -> *mut rt_module {
        match inp.byte() {
            0..=9 => null_mut(),
            10..=19 if !self.dead.is_empty() => self.dead[inp.below(self.dead.len())] as *mut rt_module,
            20..=29 if !self.tensors.is_empty() => self.tensors[inp.below(self.tensors.len())].handle as *mut rt_module,
            _ if !self.modules.is_empty() => self.modules[inp.below(self.modules.len())],
            _ => null_mut(),
        }
    }

    fn optimizer(&self, inp: &mut Input) -> *mut rt_optimizer {
        match inp.byte() {
            0..=9 => null_mut(),
            10..=19 if !self.dead.is_empty() => self.dead[inp.below(self.dead.len())] as *mut rt_optimizer,
            20..=29 if !self.modules.is_empty() => self.modules[inp.below(self.modules.len())] as *mut rt_optimizer,
            _ if !self.optimizers.is_empty() => self.optimizers[inp.below(self.optimizers.len())],
            _ => null_mut(),
        }
    }

    /// NULL, or a handle that is not a live one of `kind`: freed, foreign, or of another kind.
    fn not_a(&self, kind: Kind, inp: &mut Input) -> usize {
        let mut candidates = vec![0, foreign()];
        candidates.extend(&self.dead);
        if kind != Kind::Tensor {
            candidates.extend(self.tensors.iter().map(|t| t.handle as usize));
        }
        if kind != Kind::Module {
            candidates.extend(self.modules.iter().map(|&m| m as usize));
        }
        if kind != Kind::Optimizer {
            candidates.extend(self.optimizers.iter().map(|&o| o as usize));
        }
        candidates[inp.below(candidates.len())]
    }

    fn tensor_list(&self, inp: &mut Input) -> Vec<Tensor> {
        (0..inp.below(5)).map(|_| self.tensor(inp)).collect()
    }

    fn check_flags(&self) {
        assert_eq!(rt_is_grad_enabled(), self.grad, "grad mode differs from what the frames say");
        assert_eq!(rt_is_inference_mode_enabled(), self.inference, "inference mode differs from what the frames say");
    }

    fn enter(&mut self, inference_frame: bool, enabled: bool) {
        let status = if inference_frame { call!(rt_inference_mode_enter(enabled)) } else { call!(rt_grad_mode_enter(enabled)) };
        assert_eq!(status, RT_OK);
        self.frames.push((inference_frame, (self.grad, self.inference)));
        if inference_frame {
            self.inference = enabled;
            self.grad = !enabled;
        } else {
            self.grad = enabled;
        }
        self.check_flags();
    }

    /// An exit of either kind: RT_OK when it matches the top frame, else RT_ERR_INVALID_STATE.
    fn exit(&mut self, inference_frame: bool) {
        let status = if inference_frame { call!(rt_inference_mode_exit()) } else { call!(rt_grad_mode_exit()) };
        match self.frames.last() {
            Some(&(kind, (grad, inference))) if kind == inference_frame => {
                assert_eq!(status, RT_OK);
                self.frames.pop();
                (self.grad, self.inference) = (grad, inference);
            }
            _ => assert_eq!(status, RT_ERR_INVALID_STATE),
        }
        self.check_flags();
    }

    fn free_tensor(&mut self, inp: &mut Input) {
        if self.tensors.is_empty() || inp.below(4) == 0 {
            let h = self.not_a(Kind::Tensor, inp);
            let status = call!(rt_tensor_free(h as *mut rt_tensor));
            assert_eq!(status, if h == 0 { RT_OK } else { RT_ERR_INVALID_HANDLE });
            return;
        }
        let t = self.tensors.swap_remove(inp.below(self.tensors.len()));
        assert_eq!(call!(rt_tensor_free(t.handle)), RT_OK);
        self.dead.push(t.handle as usize);
    }

    fn free_all(&mut self) {
        while let Some((kind, _)) = self.frames.last().copied() {
            self.exit(kind);
        }
        for o in self.optimizers.drain(..) {
            assert_eq!(call!(rt_optimizer_free(o)), RT_OK);
        }
        for m in self.modules.drain(..) {
            assert_eq!(call!(rt_module_free(m)), RT_OK);
        }
        for t in self.tensors.drain(..) {
            assert_eq!(call!(rt_tensor_free(t.handle)), RT_OK);
        }
    }
}

/// True when every argument is small and their sizes multiplied stay small (a bound on the output
/// and the work of broadcasting ops, matmul and linear).
fn all_small(ts: &[Tensor]) -> bool {
    let mut product = 1u64;
    for t in ts {
        if t.numel > SMALL {
            return false;
        }
        product = product.saturating_mul(t.numel.max(1));
    }
    product <= SMALL
}

/// Ops that allocate their whole output before computing may take huge arguments (they fail
/// at once); mixing in-between sizes never happens (`keep`).
fn allocating_op_ok(ts: &[Tensor]) -> bool {
    all_small(ts) || ts.iter().any(|t| t.numel >= HUGE)
}

fn from_data(s: &mut State, inp: &mut Input, blob: bool) {
    let shape = inp.shape();
    let dtype = inp.dtype();
    let numel = shape.iter().try_fold(1u64, |acc, &d| acc.checked_mul(u64::try_from(d).ok()?));
    // The claimed byte count: right, off by some bytes, or 0; the buffer always holds it.
    let right = numel.filter(|&n| n <= SMALL).map(|n| n as usize * elem_size(dtype)).unwrap_or(0);
    let nbytes = match inp.below(4) {
        0 => right.saturating_sub(inp.below(9)),
        1 => right + inp.below(9),
        2 => 0,
        _ => right,
    };
    let mut bits = inp.u64();
    let mut buffer: Box<Vec<u64>> = Box::new(
        (0..nbytes.div_ceil(8) + 1)
            .map(|_| {
                bits = bits.rotate_left(13).wrapping_mul(0x9E37_79B9_7F4A_7C15);
                bits
            })
            .collect(),
    );
    if dtype == RT_DTYPE_BOOL && inp.flag() {
        // Mostly valid BOOL bytes (0 or 1); otherwise the library must refuse them.
        buffer.iter_mut().for_each(|w| *w &= 0x0101_0101_0101_0101);
    }
    let misaligned = inp.below(8) == 0;
    let data = if nbytes == 0 && inp.flag() {
        null_mut()
    } else {
        (buffer.as_mut_ptr() as *mut u8).wrapping_add(misaligned as usize) as *mut c_void
    };
    let mut out = null_mut();
    let status = if blob {
        let ctx = Box::into_raw(buffer);
        let status =
            call!(rt_tensor_from_blob(data, nbytes, dtype, shape.as_ptr(), shape.len(), Some(blob_deleter), ctx as *mut c_void, &mut out));
        if status == RT_OK {
            BLOBS.fetch_add(1, Ordering::SeqCst);
        } else {
            // The deleter must not have run: the memory is still ours.
            // SAFETY: ctx came from Box::into_raw above and the library did not take it.
            drop(unsafe { Box::from_raw(ctx) });
        }
        status
    } else {
        call!(rt_tensor_from_data(data, nbytes, dtype, shape.as_ptr(), shape.len(), &mut out))
    };
    s.keep(status, out);
}

fn factory(s: &mut State, inp: &mut Input) {
    let shape = inp.shape();
    let (p, n) = (shape.as_ptr(), shape.len());
    // Sometimes NULL with a non-zero ndim.
    let p = if inp.below(16) == 0 { std::ptr::null() } else { p };
    let mut out = null_mut();
    let status = match inp.below(5) {
        0 => call!(rt_tensor_zeros(p, n, inp.dtype(), &mut out)),
        1 => call!(rt_tensor_ones(p, n, inp.dtype(), &mut out)),
        2 => call!(rt_tensor_full(p, n, inp.scalar(), inp.dtype(), &mut out)),
        3 => call!(rt_tensor_randn(p, n, &mut out)),
        _ => call!(rt_tensor_rand(p, n, &mut out)),
    };
    s.keep(status, out);
}

fn unary(s: &mut State, inp: &mut Input) {
    let a = s.tensor(inp);
    let op = inp.below(16);
    if !allocating_op_ok(&[a]) {
        return;
    }
    let mut out = null_mut();
    let h = a.handle;
    let status = match op {
        0 => call!(rt_tensor_relu(h, &mut out)),
        1 => call!(rt_tensor_neg(h, &mut out)),
        2 => call!(rt_tensor_exp(h, &mut out)),
        3 => call!(rt_tensor_log(h, &mut out)),
        4 => call!(rt_tensor_sqrt(h, &mut out)),
        5 => call!(rt_tensor_sigmoid(h, &mut out)),
        6 => call!(rt_tensor_tanh(h, &mut out)),
        7 => call!(rt_tensor_gelu(h, &mut out)),
        8 => call!(rt_tensor_add_scalar(h, inp.scalar(), &mut out)),
        9 => call!(rt_tensor_mul_scalar(h, inp.scalar(), &mut out)),
        10 => call!(rt_tensor_pow_scalar(h, inp.scalar(), &mut out)),
        11 => call!(rt_tensor_clone(h, &mut out)),
        12 => call!(rt_tensor_contiguous(h, &mut out)),
        13 => call!(rt_tensor_to(h, inp.dtype(), &mut out)),
        14 => call!(rt_tensor_detach(h, &mut out)),
        _ => call!(rt_tensor_share(h, &mut out)),
    };
    s.keep(status, out);
}

fn binary(s: &mut State, inp: &mut Input) {
    let (a, b) = (s.tensor(inp), s.tensor(inp));
    let op = inp.below(6);
    let mut out = null_mut();
    let (x, y) = (a.handle, b.handle);
    let status = match op {
        0..=3 if allocating_op_ok(&[a, b]) => match op {
            0 => call!(rt_tensor_add(x, y, &mut out)),
            1 => call!(rt_tensor_sub(x, y, &mut out)),
            2 => call!(rt_tensor_mul(x, y, &mut out)),
            _ => call!(rt_tensor_div(x, y, &mut out)),
        },
        4 if all_small(&[a, b]) => call!(rt_tensor_matmul(x, y, &mut out)),
        5 => {
            let bias = if inp.flag() { s.tensor(inp) } else { Tensor { handle: null_mut(), numel: 0 } };
            if !all_small(&[a, b, bias]) {
                return;
            }
            call!(rt_tensor_linear(x, y, bias.handle, &mut out))
        }
        _ => return,
    };
    s.keep(status, out);
}

fn reduce(s: &mut State, inp: &mut Input) {
    let a = s.tensor(inp);
    let op = inp.below(4);
    let dims = inp.dims();
    let (dim, keepdim) = (inp.dim(), inp.flag());
    if !all_small(&[a]) {
        return;
    }
    let mut out = null_mut();
    let dims_ptr = if dims.is_empty() && inp.flag() { std::ptr::null() } else { dims.as_ptr() };
    let status = match op {
        0 => call!(rt_tensor_sum(a.handle, dims_ptr, dims.len(), keepdim, &mut out)),
        1 => call!(rt_tensor_mean(a.handle, dims_ptr, dims.len(), keepdim, &mut out)),
        2 => call!(rt_tensor_argmax(a.handle, dim, keepdim, &mut out)),
        _ => {
            let list = s.tensor_list(inp);
            if !list.iter().all(|t| t.numel <= SMALL) {
                return;
            }
            let handles: Vec<*const rt_tensor> = list.iter().map(|t| t.handle as *const rt_tensor).collect();
            call!(rt_tensor_cat(handles.as_ptr(), handles.len(), dim, &mut out))
        }
    };
    s.keep(status, out);
}

/// Views allocate nothing (reshape may copy: it allocates first), so any size may take them.
fn view(s: &mut State, inp: &mut Input) {
    let a = s.tensor(inp);
    let h = a.handle;
    let mut out = null_mut();
    let status = match inp.below(10) {
        0 | 1 => {
            let shape = inp.shape();
            let reshape = inp.flag();
            if reshape && !allocating_op_ok(&[a]) {
                return;
            }
            if reshape {
                call!(rt_tensor_reshape(h, shape.as_ptr(), shape.len(), &mut out))
            } else {
                call!(rt_tensor_view(h, shape.as_ptr(), shape.len(), &mut out))
            }
        }
        2 => call!(rt_tensor_transpose(h, inp.dim(), inp.dim(), &mut out)),
        3 => {
            let dims = inp.dims();
            call!(rt_tensor_permute(h, dims.as_ptr(), dims.len(), &mut out))
        }
        4 => call!(rt_tensor_narrow(h, inp.dim(), inp.dim(), inp.dim(), &mut out)),
        5 => call!(rt_tensor_select(h, inp.dim(), inp.dim(), &mut out)),
        6 => call!(rt_tensor_unsqueeze(h, inp.dim(), &mut out)),
        7 => call!(rt_tensor_squeeze(h, inp.dim(), &mut out)),
        8 => {
            let shape = inp.shape();
            call!(rt_tensor_expand(h, shape.as_ptr(), shape.len(), &mut out))
        }
        _ => call!(rt_tensor_flatten(h, inp.dim(), inp.dim(), &mut out)),
    };
    s.keep(status, out);
}

/// In-place ops must refuse what they cannot do before touching anything, so a huge (expanded)
/// target fails at once too.
fn inplace(s: &mut State, inp: &mut Input) {
    let (t, other) = (s.tensor(inp), s.tensor(inp));
    let (h, o) = (t.handle, other.handle);
    match inp.below(8) {
        0 => call!(rt_tensor_add_inplace(h, o)),
        1 => call!(rt_tensor_sub_inplace(h, o)),
        2 => call!(rt_tensor_mul_inplace(h, o)),
        3 => call!(rt_tensor_add_scalar_inplace(h, inp.scalar())),
        4 => call!(rt_tensor_mul_scalar_inplace(h, inp.scalar())),
        5 => call!(rt_tensor_copy_inplace(h, o)),
        6 => call!(rt_tensor_fill_inplace(h, inp.scalar())),
        _ => call!(rt_tensor_zero_inplace(h)),
    };
}

fn inspect(s: &mut State, inp: &mut Input) {
    let t = s.tensor(inp);
    let h = t.handle;
    match inp.below(14) {
        0 => {
            let mut v = 0usize;
            call!(rt_tensor_ndim(h, &mut v));
        }
        1 => {
            let mut dims = [0i64; 8];
            let cap = inp.below(9);
            let mut ndim = usize::MAX;
            let status = call!(rt_tensor_shape(h, if cap == 0 && inp.flag() { null_mut() } else { dims.as_mut_ptr() }, cap, &mut ndim));
            assert!(
                status == RT_OK || status == RT_ERR_BUFFER_TOO_SMALL || ndim == usize::MAX,
                "*ndim written on a failure other than RT_ERR_BUFFER_TOO_SMALL"
            );
        }
        2 => {
            let mut v = 0u32;
            call!(rt_tensor_dtype(h, &mut v));
        }
        3 => {
            let mut v = false;
            call!(rt_tensor_is_contiguous(h, &mut v));
        }
        4 => {
            let mut v = false;
            call!(rt_tensor_requires_grad(h, &mut v));
        }
        5 => {
            let mut v = false;
            call!(rt_tensor_is_inference(h, &mut v));
        }
        6 => {
            let (mut leaf, mut has_fn) = (false, false);
            if call!(rt_tensor_is_leaf(h, &mut leaf)) == RT_OK {
                assert_eq!(call!(rt_tensor_has_grad_fn(h, &mut has_fn)), RT_OK);
                assert_eq!(leaf, !has_fn, "is_leaf must equal !has_grad_fn");
            }
        }
        7 => {
            let mut v = false;
            call!(rt_tensor_is_view(h, &mut v));
        }
        8 => {
            let mut v = 0u64;
            call!(rt_tensor_version(h, &mut v));
        }
        9 => {
            let mut v = 0f64;
            call!(rt_tensor_item(h, &mut v));
        }
        10 => {
            // The buffer always holds the claimed byte count; the library must check it.
            let right = if t.numel <= SMALL { t.numel as usize * 8 } else { 64 };
            let nbytes = match inp.below(3) {
                0 => right / 2,
                1 => right.saturating_sub(inp.below(8)),
                _ => inp.below(64),
            };
            let mut buf = vec![0u8; nbytes];
            call!(rt_tensor_copy_to(h, buf.as_mut_ptr() as *mut c_void, nbytes));
        }
        11 => {
            // A contiguous tensor's data pointer addresses all its elements (ASan checks the reads).
            let mut p: *const c_void = std::ptr::null();
            let (mut dtype, mut numel) = (0u32, 0usize);
            if t.numel <= SMALL && call!(rt_tensor_data_ptr(h, &mut p)) == RT_OK {
                assert_eq!(call!(rt_tensor_dtype(h, &mut dtype)), RT_OK);
                assert_eq!(call!(rt_tensor_numel(h, &mut numel)), RT_OK);
                let bytes = numel * elem_size(dtype);
                // SAFETY: the library promises numel elements at p while the handle lives.
                let data = unsafe { std::slice::from_raw_parts(p as *const u8, bytes) };
                std::hint::black_box(data.iter().fold(0u8, |a, &b| a ^ b));
            }
        }
        12 => {
            call!(rt_tensor_set_requires_grad(h, inp.flag()));
        }
        _ => {
            call!(rt_tensor_retain_grad(h));
        }
    }
}

fn autograd(s: &mut State, inp: &mut Input) {
    let t = s.tensor(inp);
    let g = if inp.flag() { s.tensor(inp) } else { Tensor { handle: null_mut(), numel: 0 } };
    let op = inp.below(3);
    let retain = inp.flag();
    if !all_small(&[t]) || !all_small(&[g]) {
        return;
    }
    let mut out = null_mut();
    match op {
        0 => {
            call!(rt_tensor_backward(t.handle, g.handle, retain));
        }
        1 => {
            let status = call!(rt_tensor_grad(t.handle, &mut out));
            s.keep(status, out);
        }
        _ => {
            call!(rt_tensor_set_grad(t.handle, g.handle));
        }
    }
}

fn module(s: &mut State, inp: &mut Input) {
    let mut out = null_mut();
    let status = match inp.below(17) {
        0 => call!(rt_module_linear(inp.size(), inp.size(), inp.flag(), &mut out)),
        1 => call!(rt_module_relu(&mut out)),
        2 => call!(rt_module_gelu(&mut out)),
        3 => call!(rt_module_sigmoid(&mut out)),
        4 => call!(rt_module_tanh(&mut out)),
        5 => {
            let kids: Vec<*mut rt_module> = (0..inp.below(4)).map(|_| s.module(inp)).collect();
            call!(rt_module_sequential(kids.as_ptr(), kids.len(), &mut out))
        }
        6 => {
            let (m, x) = (s.module(inp), s.tensor(inp));
            if all_small(&[x]) {
                let mut y = null_mut();
                let status = call!(rt_module_forward(m, x.handle, &mut y));
                s.keep(status, y);
            }
            return;
        }
        7 => {
            let m = s.module(inp);
            let mut v = false;
            call!(rt_module_train(m, inp.flag()));
            call!(rt_module_is_training(m, &mut v));
            return;
        }
        8 => {
            // A name by index (into a buffer of any capacity), then its tensor by that name.
            let m = s.module(inp);
            let mut count = 0usize;
            call!(rt_module_num_tensors(m, &mut count));
            let mut buf = [0 as c_char; 64];
            let cap = inp.below(65);
            let mut len = usize::MAX;
            let status = call!(rt_module_tensor_name(m, inp.below(count + 2), buf.as_mut_ptr(), cap, &mut len));
            let name = if status == RT_OK { buf.as_ptr() } else { c"no such tensor".as_ptr() };
            let mut t = null_mut();
            let status = call!(rt_module_get_tensor(m, name, &mut t));
            s.keep(status, t);
            return;
        }
        9 => {
            call!(rt_module_zero_grad(s.module(inp)));
            return;
        }
        // PyTorch's transformer modules (API.md 7.D).
        11 => call!(rt_module_silu(&mut out)),
        12 => call!(rt_module_gelu_tanh(&mut out)),
        13 => call!(rt_module_identity(&mut out)),
        14 => {
            let shape: Vec<i64> = (0..inp.below(3)).map(|_| inp.size()).collect();
            call!(rt_module_rms_norm(shape.as_ptr(), shape.len(), inp.scalar(), &mut out))
        }
        15 => call!(rt_module_multihead_attention(inp.size(), inp.size(), inp.flag(), inp.flag(), &mut out)),
        16 => call!(rt_module_transformer_encoder_layer(
            inp.size(),
            inp.size(),
            inp.size(),
            inp.scalar(),
            inp.flag(),
            inp.scalar(),
            inp.flag(),
            inp.flag(),
            &mut out
        )),
        _ => {
            if s.modules.is_empty() || inp.below(4) == 0 {
                let h = s.not_a(Kind::Module, inp);
                let status = call!(rt_module_free(h as *mut rt_module));
                assert_eq!(status, if h == 0 { RT_OK } else { RT_ERR_INVALID_HANDLE });
            } else {
                let m = s.modules.swap_remove(inp.below(s.modules.len()));
                assert_eq!(call!(rt_module_free(m)), RT_OK);
                s.dead.push(m as usize);
            }
            return;
        }
    };
    if status == RT_OK {
        s.modules.push(out);
    } else {
        assert!(out.is_null(), "an out-parameter was written by a failed call");
    }
}

fn optimizer(s: &mut State, inp: &mut Input) {
    let mut out = null_mut();
    let status = match inp.below(8) {
        0 => call!(rt_optimizer_sgd(s.module(inp), inp.scalar(), inp.scalar(), inp.scalar(), &mut out)),
        1 => call!(rt_optimizer_adam(s.module(inp), inp.scalar(), inp.scalar(), inp.scalar(), inp.scalar(), inp.scalar(), &mut out)),
        2 | 3 => {
            let params: Vec<*mut rt_tensor> = s.tensor_list(inp).iter().map(|t| t.handle).collect();
            let p = if params.is_empty() && inp.flag() { std::ptr::null() } else { params.as_ptr() };
            if inp.flag() {
                call!(rt_optimizer_sgd_tensors(p, params.len(), inp.scalar(), inp.scalar(), inp.scalar(), &mut out))
            } else {
                call!(rt_optimizer_adam_tensors(
                    p,
                    params.len(),
                    inp.scalar(),
                    inp.scalar(),
                    inp.scalar(),
                    inp.scalar(),
                    inp.scalar(),
                    &mut out
                ))
            }
        }
        4 => {
            call!(rt_optimizer_set_lr(s.optimizer(inp), inp.scalar()));
            return;
        }
        5 => {
            call!(rt_optimizer_step(s.optimizer(inp)));
            return;
        }
        6 => {
            call!(rt_optimizer_zero_grad(s.optimizer(inp)));
            return;
        }
        _ => {
            if s.optimizers.is_empty() || inp.below(4) == 0 {
                let h = s.not_a(Kind::Optimizer, inp);
                let status = call!(rt_optimizer_free(h as *mut rt_optimizer));
                assert_eq!(status, if h == 0 { RT_OK } else { RT_ERR_INVALID_HANDLE });
            } else {
                let o = s.optimizers.swap_remove(inp.below(s.optimizers.len()));
                assert_eq!(call!(rt_optimizer_free(o)), RT_OK);
                s.dead.push(o as usize);
            }
            return;
        }
    };
    if status == RT_OK {
        s.optimizers.push(out);
    } else {
        assert!(out.is_null(), "an out-parameter was written by a failed call");
    }
}

/// The nn ops (API.md section 4). Their shapes, dims, strides and paddings come from the same
/// generators as the core ops', so most calls are refused, and the ones that run cover the row
/// kernels (softmax, layer norm), im2col and pooling, and the index checks of the loss and
/// embedding. Conv work is bounded by all_small over input and weight: a fuzzed padding widens
/// the output (a huge one is refused at once), a fuzzed stride narrows it.
fn nn_op(s: &mut State, inp: &mut Input) {
    let x = s.tensor(inp);
    let mut out = null_mut();
    let status = match inp.below(10) {
        0 | 1 => {
            let (dim, log) = (inp.dim(), inp.flag());
            if !all_small(&[x]) {
                return;
            }
            if log {
                call!(rt_tensor_log_softmax(x.handle, dim, &mut out))
            } else {
                call!(rt_tensor_softmax(x.handle, dim, &mut out))
            }
        }
        2 => {
            let shape = inp.shape();
            let w = if inp.flag() { s.tensor(inp) } else { Tensor { handle: null_mut(), numel: 0 } };
            let b = if inp.flag() { s.tensor(inp) } else { Tensor { handle: null_mut(), numel: 0 } };
            let eps = inp.scalar();
            if !all_small(&[x]) || !all_small(&[w]) || !all_small(&[b]) {
                return;
            }
            call!(rt_tensor_layer_norm(x.handle, shape.as_ptr(), shape.len(), w.handle, b.handle, eps, &mut out))
        }
        3 => {
            // Running statistics are updated in place (training): any tensor may be passed,
            // inference tensors and views of leaves included.
            let (mean, var) = (s.tensor(inp), s.tensor(inp));
            let (w, b) = (s.tensor(inp), s.tensor(inp));
            let (training, momentum, eps) = (inp.flag(), inp.scalar(), inp.scalar());
            if ![x, mean, var, w, b].iter().all(|t| all_small(&[*t])) {
                return;
            }
            call!(rt_tensor_batch_norm(x.handle, mean.handle, var.handle, w.handle, b.handle, training, momentum, eps, &mut out))
        }
        4 => {
            let w = s.tensor(inp);
            let b = if inp.flag() { s.tensor(inp) } else { Tensor { handle: null_mut(), numel: 0 } };
            let (stride, padding) = (inp.dim(), inp.dim());
            if !all_small(&[x, w]) || !all_small(&[b]) {
                return;
            }
            call!(rt_tensor_conv2d(x.handle, w.handle, b.handle, stride, padding, &mut out))
        }
        5 => {
            let (kernel, stride) = (inp.dim(), inp.dim());
            if !all_small(&[x]) {
                return;
            }
            call!(rt_tensor_max_pool2d(x.handle, kernel, stride, &mut out))
        }
        6 => {
            let targets = s.tensor(inp);
            if !all_small(&[x]) || !all_small(&[targets]) {
                return;
            }
            call!(rt_tensor_cross_entropy(x.handle, targets.handle, &mut out))
        }
        7 => {
            let b = s.tensor(inp);
            if !all_small(&[x]) || !all_small(&[b]) {
                return;
            }
            call!(rt_tensor_mse_loss(x.handle, b.handle, &mut out))
        }
        8 => {
            let (p, training) = (inp.scalar(), inp.flag());
            if !allocating_op_ok(&[x]) {
                return;
            }
            call!(rt_tensor_dropout(x.handle, p, training, &mut out))
        }
        _ => {
            let weight = s.tensor(inp);
            if !all_small(&[x, weight]) {
                return;
            }
            call!(rt_tensor_embedding(x.handle, weight.handle, &mut out))
        }
    };
    s.keep(status, out);
}

/// The nn modules: made with fuzzed sizes (rt_module_forward of the existing arm runs them), and
/// saved to a file and loaded back, which must succeed and change nothing; and tensors saved to a
/// file and read back.
fn nn_module(s: &mut State, inp: &mut Input) {
    let mut out = null_mut();
    let status = match inp.below(11) {
        0 => call!(rt_module_batch_norm1d(inp.size(), inp.scalar(), inp.scalar(), &mut out)),
        1 => call!(rt_module_batch_norm2d(inp.size(), inp.scalar(), inp.scalar(), &mut out)),
        2 => call!(rt_module_conv2d(inp.size(), inp.size(), inp.size(), inp.dim(), inp.dim(), inp.flag(), &mut out)),
        3 => call!(rt_module_dropout(inp.scalar(), &mut out)),
        4 => call!(rt_module_embedding(inp.size(), inp.size(), &mut out)),
        5 => call!(rt_module_flatten(inp.dim(), inp.dim(), &mut out)),
        6 => {
            let shape = inp.shape();
            call!(rt_module_layer_norm(shape.as_ptr(), shape.len(), inp.scalar(), &mut out))
        }
        7 => call!(rt_module_max_pool2d(inp.size(), inp.dim(), &mut out)),
        8 => call!(rt_module_softmax(inp.dim(), &mut out)),
        9 => {
            save_and_reload(s.module(inp));
            return;
        }
        _ => {
            save_tensors(s, inp);
            return;
        }
    };
    if status == RT_OK {
        s.modules.push(out);
    } else {
        assert!(out.is_null(), "an out-parameter was written by a failed call");
    }
}

/// A file of this process's own under the temp folder.
fn save_path() -> &'static CString {
    static PATH: std::sync::OnceLock<CString> = std::sync::OnceLock::new();
    PATH.get_or_init(|| {
        let p = std::env::temp_dir().join(format!("infer-fuzz-api-calls-{}.safetensors", std::process::id()));
        CString::new(p.into_os_string().into_encoded_bytes()).expect("no NUL in the temp path")
    })
}

/// A live tensor's dtype, shape and elements (row-major bytes).
fn tensor_value(t: *const rt_tensor) -> (u32, Vec<i64>, Vec<u8>) {
    let (mut numel, mut dtype, mut ndim) = (0usize, 0u32, 0usize);
    assert_eq!(call!(rt_tensor_numel(t, &mut numel)), RT_OK);
    assert_eq!(call!(rt_tensor_dtype(t, &mut dtype)), RT_OK);
    let mut shape = vec![0i64; RT_MAX_DIMS];
    assert_eq!(call!(rt_tensor_shape(t, shape.as_mut_ptr(), shape.len(), &mut ndim)), RT_OK);
    shape.truncate(ndim);
    let mut bytes = vec![0u8; numel * elem_size(dtype)];
    assert_eq!(call!(rt_tensor_copy_to(t, bytes.as_mut_ptr() as *mut c_void, bytes.len())), RT_OK);
    (dtype, shape, bytes)
}

/// `f` of every tensor of a module, in state_dict order (each fetched by its name).
fn each_module_tensor<R>(m: *mut rt_module, mut f: impl FnMut(*mut rt_tensor) -> R) -> Vec<R> {
    let mut count = 0usize;
    assert_eq!(call!(rt_module_num_tensors(m, &mut count)), RT_OK);
    (0..count)
        .map(|i| {
            let mut len = 0usize;
            assert_eq!(call!(rt_module_tensor_name(m, i, null_mut(), 0, &mut len)), RT_ERR_BUFFER_TOO_SMALL);
            let mut name = vec![0 as c_char; len + 1];
            assert_eq!(call!(rt_module_tensor_name(m, i, name.as_mut_ptr(), name.len(), &mut len)), RT_OK);
            let mut t = null_mut();
            assert_eq!(call!(rt_module_get_tensor(m, name.as_ptr(), &mut t)), RT_OK);
            let r = f(t);
            assert_eq!(call!(rt_tensor_free(t)), RT_OK);
            r
        })
        .collect()
}

/// Every tensor of a module, by name.
fn module_contents(m: *mut rt_module) -> Vec<(u32, Vec<i64>, Vec<u8>)> {
    each_module_tensor(m, |t| tensor_value(t))
}

/// Tensors of any kind (views, expanded, inference, I64, empty; or bad handles) saved under names
/// that may repeat, be empty, reserved, not UTF-8 or NULL. A save that succeeds must give a file
/// that opens and holds each tensor under its name with the same dtype, shape and elements. Small
/// lists only (at most 2^16 elements in all), or ones with a huge tensor, which must fail fast.
fn save_tensors(s: &mut State, inp: &mut Input) {
    const NAMES: [&std::ffi::CStr; 6] = [c"a", c"b", c"0.weight", c"", c"__metadata__", c"\xff"];
    let list = s.tensor_list(inp);
    let names: Vec<*const c_char> = list
        .iter()
        .map(|_| match inp.below(8) {
            6 => std::ptr::null(),
            i => NAMES[i % NAMES.len()].as_ptr(),
        })
        .collect();
    let total: u64 = list.iter().map(|t| t.numel.min(HUGE)).sum();
    if total > 1 << 16 && !list.iter().any(|t| t.numel >= HUGE) {
        return;
    }
    let handles: Vec<*const rt_tensor> = list.iter().map(|t| t.handle as *const rt_tensor).collect();
    if call!(rt_safetensors_save(save_path().as_ptr(), names.as_ptr(), handles.as_ptr(), list.len())) != RT_OK {
        return;
    }
    let mut f = null_mut();
    assert_eq!(call!(rt_safetensors_open(save_path().as_ptr(), &mut f)), RT_OK, "a file the library saved must open");
    let mut count = 0usize;
    assert_eq!(call!(rt_safetensors_count(f, &mut count)), RT_OK);
    assert_eq!(count, list.len(), "a saved file holds another number of tensors than were saved");
    for (&h, &name) in handles.iter().zip(&names) {
        let mut got = null_mut();
        assert_eq!(call!(rt_safetensors_get(f, name, &mut got)), RT_OK, "a saved name is missing from the file");
        assert!(tensor_value(got) == tensor_value(h), "a tensor read back differs from the one saved");
        assert_eq!(call!(rt_tensor_free(got)), RT_OK);
    }
    assert_eq!(call!(rt_safetensors_free(f)), RT_OK);
}

/// A module (or a bad handle) saved and loaded back strictly: a live module's file must load into
/// it, unless the module holds inference tensors (made in inference mode) and this is not
/// inference mode, where the in-place load is refused (rule I6, as PyTorch's load_state_dict);
/// either way every tensor stays as it was.
fn save_and_reload(m: *mut rt_module) {
    if call!(rt_module_save_safetensors(m, save_path().as_ptr())) != RT_OK {
        return;
    }
    let before = module_contents(m);
    let refused = !rt_is_inference_mode_enabled() && module_has_inference_tensors(m);
    let expected = if refused { RT_ERR_INFERENCE_MODE } else { RT_OK };
    assert_eq!(call!(rt_module_load_safetensors(m, save_path().as_ptr(), true)), expected, "loading a module's own file");
    assert!(module_contents(m) == before, "loading a module's own file changed it");
}

fn module_has_inference_tensors(m: *mut rt_module) -> bool {
    let inference = |t: *mut rt_tensor| {
        let mut v = false;
        assert_eq!(call!(rt_tensor_is_inference(t, &mut v)), RT_OK);
        v
    };
    each_module_tensor(m, inference).into_iter().any(|v| v)
}

fn modes(s: &mut State, inp: &mut Input) {
    match inp.below(6) {
        0 => s.enter(true, inp.flag()),
        1 => s.enter(false, inp.flag()),
        2 => s.exit(true),
        3 => s.exit(false),
        4 => {
            // The callback's own status passes through untouched (with no last error of the
            // library's), so only the unbalanced cases go through common::check.
            let what = inp.byte();
            // SAFETY: the callback reads the byte `what`, alive for the whole call.
            let status = unsafe { rt_with_inference_mode(Some(callback), &what as *const u8 as *mut c_void) };
            let expected = match what % 4 {
                0 => RT_OK,
                1 => RT_ERR_SHAPE,
                _ => {
                    common::check(status, "rt_with_inference_mode");
                    RT_ERR_INVALID_STATE
                }
            };
            assert_eq!(status, expected);
            s.check_flags();
        }
        _ => {
            assert_eq!(call!(rt_with_inference_mode(None, null_mut())), RT_ERR_NULL_ARGUMENT);
            s.check_flags();
        }
    }
}

fn runtime(inp: &mut Input) {
    match inp.below(4) {
        0 => {
            // Refused counts, or the current one. Resizing drops the old pool, whose workers exit
            // on their own time: one still exiting when the fuzzer's process ends shows up in
            // LeakSanitizer's exit check (a race at exit, not a leak: c_tests/stress.c resizes
            // the pool under ASan and valgrind with nothing lost).
            let n = if inp.flag() { 4097 + inp.below(1 << 20) } else { rt_get_num_threads() };
            let status = call!(rt_set_num_threads(n));
            assert_eq!(status, if n > 4096 { RT_ERR_INVALID_ARGUMENT } else { RT_OK });
        }
        1 => rt_manual_seed(inp.u64()),
        2 => {
            let mut buf = [0 as c_char; 16];
            let cap = inp.below(17);
            // SAFETY: buf holds cap bytes; NULL is allowed with a capacity of 0.
            unsafe { rt_last_error_message(if cap == 0 { null_mut() } else { buf.as_mut_ptr() }, cap) };
        }
        _ => {
            call!(rt_memory_stats_get(null_mut()));
        }
    }
}

/// The ops of API.md 7.C (models beyond stacks): unary functions, selecting reductions, topk,
/// indexing, arange, triangles, stack, chunk and multinomial.
fn models_op(s: &mut State, inp: &mut Input) {
    use infer::ffi::ops_models::*;
    let a = s.tensor(inp);
    let b = s.tensor(inp);
    let (dim, keepdim, flag) = (inp.dim(), inp.flag(), inp.flag());
    if !all_small(&[a, b]) {
        return;
    }
    let (x, y) = (a.handle, b.handle);
    let (mut out, mut out2) = (null_mut(), null_mut());
    let status = match inp.below(18) {
        0 => call!(rt_tensor_silu(x, &mut out)),
        1 => call!(rt_tensor_rsqrt(x, &mut out)),
        2 => call!(rt_tensor_sin(x, &mut out)),
        3 => call!(rt_tensor_cos(x, &mut out)),
        4 => call!(rt_tensor_abs(x, &mut out)),
        5 => call!(rt_tensor_gelu_tanh(x, &mut out)),
        6 => call!(rt_tensor_max_dim(x, dim, keepdim, &mut out, &mut out2)),
        7 => call!(rt_tensor_min_dim(x, dim, keepdim, &mut out, &mut out2)),
        8 => {
            let dims = inp.dims();
            call!(rt_tensor_amax(x, dims.as_ptr(), dims.len(), keepdim, &mut out))
        }
        9 => call!(rt_tensor_topk(x, inp.below(8) as i64 - 1, dim, flag, &mut out, &mut out2)),
        10 => call!(rt_tensor_index_select(x, dim, y, &mut out)),
        11 => call!(rt_tensor_gather(x, dim, y, &mut out)),
        12 => {
            // a range of at most 40 steps, or a step of 0, or the wrong sign
            let (start, step) = (inp.scalar(), if inp.below(8) == 0 { 0.0 } else { inp.scalar() });
            let end = start + step * (inp.below(44) as f64 - 4.0);
            call!(rt_tensor_arange(start, end, step, inp.dtype(), &mut out))
        }
        13 => call!(rt_tensor_triu(x, dim, &mut out)),
        14 => call!(rt_tensor_tril(x, dim, &mut out)),
        15 => {
            let list = s.tensor_list(inp);
            if !all_small(&list) {
                return;
            }
            let handles: Vec<*const rt_tensor> = list.iter().map(|t| t.handle as *const rt_tensor).collect();
            call!(rt_tensor_stack(handles.as_ptr(), handles.len(), dim, &mut out))
        }
        16 => {
            let mut outs = [null_mut(); 8];
            let (chunks, cap) = (inp.below(6), inp.below(9));
            let mut n = 0usize;
            let p = if cap == 0 && flag { null_mut() } else { outs.as_mut_ptr() };
            let status = call!(rt_tensor_chunk(x, chunks, dim, p, cap, &mut n));
            if status == RT_OK {
                assert!(n <= cap, "chunk wrote more views than the buffer holds");
            }
            for o in outs {
                s.keep(status, o);
            }
            return;
        }
        _ => call!(rt_tensor_multinomial(x, inp.below(12) as i64 - 2, flag, &mut out)),
    };
    s.keep(status, out);
    s.keep(status, out2);
}

fuzz_target!(|data: &[u8]| {
    let baseline = common::live_bytes();
    let mut inp = Input(data);
    let mut s = State {
        tensors: Vec::new(),
        modules: Vec::new(),
        optimizers: Vec::new(),
        dead: Vec::new(),
        frames: Vec::new(),
        grad: true,
        inference: false,
    };
    s.check_flags();
    while !inp.0.is_empty() {
        match inp.below(16) {
            0 => factory(&mut s, &mut inp),
            1 => from_data(&mut s, &mut inp, false),
            2 => from_data(&mut s, &mut inp, true),
            3 | 4 => unary(&mut s, &mut inp),
            5 => binary(&mut s, &mut inp),
            6 => reduce(&mut s, &mut inp),
            7 | 8 => view(&mut s, &mut inp),
            9 => inplace(&mut s, &mut inp),
            10 => inspect(&mut s, &mut inp),
            11 => autograd(&mut s, &mut inp),
            12 => module(&mut s, &mut inp),
            13 => optimizer(&mut s, &mut inp),
            14 => modes(&mut s, &mut inp),
            _ => match inp.below(9) {
                0 => runtime(&mut inp),
                1 => nn_op(&mut s, &mut inp),
                2 => nn_module(&mut s, &mut inp),
                3 => masks(&mut s, &mut inp),
                4 => models_op(&mut s, &mut inp),
                5 => custom_module(&mut s, &mut inp),
                6 => attention_op(&mut s, &mut inp),
                7 => train_extras(&mut s, &mut inp),
                _ => s.free_tensor(&mut inp),
            },
        }
    }
    s.free_all();
    s.check_flags();
    assert_eq!(common::live_bytes(), baseline, "tensor storage is still held after every handle was freed");
    assert_eq!(BLOBS.load(Ordering::SeqCst), 0, "a blob deleter did not run after its last handle was freed");
    assert_eq!(CUSTOM.load(Ordering::SeqCst), 0, "a custom module's ctx_free did not run after its last reference was gone");
});

/// Bytes per element of a valid dtype (an unknown one only reaches calls that refuse it).
fn elem_size(dtype: rt_dtype) -> usize {
    match dtype {
        RT_DTYPE_I64 => 8,
        RT_DTYPE_BOOL => 1,
        _ => 4,
    }
}

/// BOOL comparisons, logical ops, where and masked_fill (API.md 7.B), on tensors of any dtype
/// and rt_compare values past RT_CMP_GE.
fn masks(s: &mut State, inp: &mut Input) {
    let (a, b) = (s.tensor(inp), s.tensor(inp));
    if !allocating_op_ok(&[a, b]) {
        return;
    }
    let (x, y) = (a.handle, b.handle);
    let op = if inp.below(16) == 0 { RT_CMP_GE + 1 + inp.byte() as u32 } else { inp.below(6) as u32 };
    let mut out = null_mut();
    let status = match inp.below(7) {
        0 => call!(rt_tensor_compare(x, y, op, &mut out)),
        1 => call!(rt_tensor_compare_scalar(x, inp.scalar(), op, &mut out)),
        2 => call!(rt_tensor_logical_and(x, y, &mut out)),
        3 => call!(rt_tensor_logical_or(x, y, &mut out)),
        4 => call!(rt_tensor_logical_not(x, &mut out)),
        5 => {
            let c = s.tensor(inp);
            if !allocating_op_ok(&[c, a, b]) {
                return;
            }
            call!(rt_tensor_where(c.handle, x, y, &mut out))
        }
        _ => call!(rt_tensor_masked_fill(x, y, inp.scalar(), &mut out)),
    };
    s.keep(status, out);
}

// ---- modules defined by the caller (API.md 7.A) ----

/// Caller-defined modules alive: made by rt_module_custom, released by their ctx_free.
static CUSTOM: AtomicIsize = AtomicIsize::new(0);

unsafe extern "C" fn custom_free(_ctx: *mut c_void) {
    CUSTOM.fetch_sub(1, Ordering::SeqCst);
}

/// ReLU of the first input, or an argument error when there is none.
unsafe extern "C" fn custom_forward(
    _ctx: *mut c_void,
    _self: *const rt_module,
    inputs: *const *const rt_tensor,
    n: usize,
    out: *mut *mut rt_tensor,
) -> rt_status {
    if n == 0 || (*inputs).is_null() {
        return RT_ERR_INVALID_ARGUMENT;
    }
    rt_tensor_relu(*inputs, out)
}

const CUSTOM_NAMES: [&std::ffi::CStr; 7] = [c"a", c"b", c"0", c"", c"a.b", c"weight", c"\xff"];
const CUSTOM_PATHS: [&std::ffi::CStr; 7] = [c"", c"a", c"a.b", c"b.0", c"a.", c".", c"a.weight"];

/// Custom modules: made (a forward or a container), registered into each other in any shape the
/// checks allow, looked up by path, named and run with NULL entries among their inputs.
fn custom_module(s: &mut State, inp: &mut Input) {
    let mut out = null_mut();
    let name = CUSTOM_NAMES[inp.below(CUSTOM_NAMES.len())].as_ptr();
    let status = match inp.below(7) {
        0 => {
            let forward: rt_forward_fn = if inp.flag() { Some(custom_forward) } else { None };
            let status = call!(rt_module_custom(name, forward, null_mut(), Some(custom_free), &mut out));
            if status == RT_OK {
                CUSTOM.fetch_add(1, Ordering::SeqCst);
            }
            status
        }
        1 => {
            call!(rt_module_register_module(s.module(inp), name, s.module(inp)));
            return;
        }
        2 => {
            call!(rt_module_register_parameter(s.module(inp), name, s.tensor(inp).handle, inp.flag()));
            return;
        }
        3 => {
            call!(rt_module_register_buffer(s.module(inp), name, s.tensor(inp).handle, inp.flag()));
            return;
        }
        4 => call!(rt_module_get_module(s.module(inp), CUSTOM_PATHS[inp.below(CUSTOM_PATHS.len())].as_ptr(), &mut out)),
        5 => {
            let mut buf = [0 as c_char; 16];
            let mut len = 0usize;
            call!(rt_module_type_name(s.module(inp), buf.as_mut_ptr(), inp.below(17), &mut len));
            return;
        }
        _ => {
            let m = s.module(inp);
            let xs = s.tensor_list(inp);
            if all_small(&xs) {
                let hs: Vec<*const rt_tensor> =
                    xs.iter().map(|t| if inp.below(4) == 0 { std::ptr::null() } else { t.handle as *const rt_tensor }).collect();
                let mut y = null_mut();
                let status = call!(rt_module_forward_n(m, hs.as_ptr(), hs.len(), &mut y));
                s.keep(status, y);
            }
            return;
        }
    };
    if status == RT_OK {
        s.modules.push(out);
    } else {
        assert!(out.is_null(), "an out-parameter was written by a failed call");
    }
}

/// The attention-block ops (API.md 7.C) on fuzzed tensors: masks of any dtype (or none), fuzzed
/// dropout, scale, causal and grouping flags. all_small bounds the product of the operands'
/// sizes, so attention's L x S x E work too.
fn attention_op(s: &mut State, inp: &mut Input) {
    let (x, a, b) = (s.tensor(inp), s.tensor(inp), s.tensor(inp));
    let mut out = null_mut();
    let status = match inp.below(3) {
        0 => {
            let mask = if inp.flag() { s.tensor(inp) } else { Tensor { handle: null_mut(), numel: 0 } };
            let (dropout, causal, scale, gqa) = (inp.scalar(), inp.flag(), inp.scalar(), inp.flag());
            if !all_small(&[x, a, b, mask]) {
                return;
            }
            call!(rt_tensor_scaled_dot_product_attention(x.handle, a.handle, b.handle, mask.handle, dropout, causal, scale, gqa, &mut out))
        }
        1 => {
            let shape = inp.shape();
            let (w, eps) = (if inp.flag() { a.handle } else { null_mut() }, inp.scalar());
            if !all_small(&[x, a]) {
                return;
            }
            call!(rt_tensor_rms_norm(x.handle, shape.as_ptr(), shape.len(), w, eps, &mut out))
        }
        _ => {
            if !all_small(&[x, a, b]) {
                return;
            }
            call!(rt_tensor_apply_rotary_emb(x.handle, a.handle, b.handle, &mut out))
        }
    };
    s.keep(status, out);
}

/// AdamW and gradient-norm clipping (API.md 8) on any module or tensor list with any
/// hyperparameters; a refused clip leaves the total it was given unwritten.
fn train_extras(s: &mut State, inp: &mut Input) {
    use infer::ffi::optim_extra::*;
    let mut out = null_mut();
    let status = match inp.below(4) {
        0 => call!(rt_optimizer_adamw(s.module(inp), inp.scalar(), inp.scalar(), inp.scalar(), inp.scalar(), inp.scalar(), &mut out)),
        1 => {
            let params: Vec<*mut rt_tensor> = s.tensor_list(inp).iter().map(|t| t.handle).collect();
            let p = if params.is_empty() && inp.flag() { std::ptr::null() } else { params.as_ptr() };
            call!(rt_optimizer_adamw_tensors(
                p,
                params.len(),
                inp.scalar(),
                inp.scalar(),
                inp.scalar(),
                inp.scalar(),
                inp.scalar(),
                &mut out
            ))
        }
        op => {
            let mut total = -7.0f64;
            let total_out: *mut f64 = if inp.flag() { &mut total } else { null_mut() };
            let status = if op == 2 {
                let params: Vec<*mut rt_tensor> = s.tensor_list(inp).iter().map(|t| t.handle).collect();
                let p = if params.is_empty() && inp.flag() { std::ptr::null() } else { params.as_ptr() };
                call!(rt_clip_grad_norm(p, params.len(), inp.scalar(), inp.scalar(), total_out))
            } else {
                call!(rt_module_clip_grad_norm(s.module(inp), inp.scalar(), inp.scalar(), total_out))
            };
            if status != RT_OK {
                assert_eq!(total, -7.0, "a refused clip wrote its total");
            }
            return;
        }
    };
    if status == RT_OK {
        s.optimizers.push(out);
    } else {
        assert!(out.is_null(), "an out-parameter was written by a failed call");
    }
}
