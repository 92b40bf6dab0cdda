package infer

// #include "shim.h"
import "C"

import "runtime"

// WithInferenceMode runs fn with inference mode on: nothing is recorded for autograd and new
// tensors are inference tensors. fn runs on one OS thread, locked for its duration (see the
// package doc for why); goroutines it starts do not inherit the mode.
func WithInferenceMode(fn func() error) error {
	return withFrame(
		func(m cmsg) C.rt_status { return C.go_rt_inference_mode_enter(true, m) },
		func(m cmsg) C.rt_status { return C.go_rt_inference_mode_exit(m) }, fn)
}

// WithoutInferenceMode runs fn with inference mode off, escaping an enclosing WithInferenceMode.
func WithoutInferenceMode(fn func() error) error {
	return withFrame(
		func(m cmsg) C.rt_status { return C.go_rt_inference_mode_enter(false, m) },
		func(m cmsg) C.rt_status { return C.go_rt_inference_mode_exit(m) }, fn)
}

// WithGradMode runs fn with grad mode set to enabled (false is torch.no_grad) on one locked OS
// thread. Inside inference mode, enabling grad records nothing still.
func WithGradMode(enabled bool, fn func() error) error {
	return withFrame(
		func(m cmsg) C.rt_status { return C.go_rt_grad_mode_enter(C.bool(enabled), m) },
		func(m cmsg) C.rt_status { return C.go_rt_grad_mode_exit(m) }, fn)
}

// WithNoGrad is WithGradMode(false, fn).
func WithNoGrad(fn func() error) error { return WithGradMode(false, fn) }

// withFrame enters a frame, runs fn and exits the frame, all on one locked thread. The exit also
// runs when fn panics. fn's error wins over an exit error.
func withFrame(enter, exit func(m cmsg) C.rt_status, fn func() error) (err error) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	if err := call(enter); err != nil {
		return err
	}
	defer func() {
		if exitErr := call(exit); err == nil {
			err = exitErr
		}
	}()
	return fn()
}

// IsGradEnabled reports the grad mode of the calling thread. It is meaningful inside the
// With* functions (the goroutine is locked to its thread there); elsewhere it reports the
// default, on.
func IsGradEnabled() bool { return bool(C.rt_is_grad_enabled()) }

// IsInferenceModeEnabled reports the inference mode of the calling thread; see IsGradEnabled.
func IsInferenceModeEnabled() bool { return bool(C.rt_is_inference_mode_enabled()) }
