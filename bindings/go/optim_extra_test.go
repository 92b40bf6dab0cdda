package infer

import (
	"errors"
	"math"
	"testing"
)

// The binding's side of AdamW and clipping; c_tests/optim_extra.c pins the numbers against PyTorch.
func TestAdamWAndClipGradNorm(t *testing.T) {
	p := must(Ones(Float32, 2))(t)
	noErr(t, p.SetRequiresGrad(true))
	noErr(t, must(must(p.Mul(p))(t).Sum(false))(t).Backward(nil, false)) // gradient 2p = (2, 2)
	total := ok(ClipGradNorm([]*Tensor{p}, 1, 2))(t)
	if math.Abs(total-math.Sqrt(8)) > 1e-6 {
		t.Fatalf("ClipGradNorm total %v, want sqrt(8)", total)
	}
	near(t, floats(t, must(p.Grad())(t)), []float32{float32(1 / (math.Sqrt(8) + 1e-6) * 2), float32(1 / (math.Sqrt(8) + 1e-6) * 2)}, 1e-6)
	if _, err := ClipGradNorm([]*Tensor{p}, -1, 2); !errors.Is(err, StatusInvalidArgument) {
		t.Fatalf("ClipGradNorm(max_norm -1): %v", err)
	}
	// AdamW's first step: p * (1 - lr * wd), then lr against the gradient's sign.
	adamw := must(AdamWTensors([]*Tensor{p}, 0.5, 0.9, 0.999, 1e-8, 0.1))(t)
	noErr(t, adamw.Step())
	near(t, floats(t, p), []float32{0.45, 0.45}, 1e-6)

	l := must(Linear(3, 2, true))(t)
	noErr(t, must(must(l.Forward(must(Ones(Float32, 4, 3))(t)))(t).Sum(false))(t).Backward(nil, false))
	if total := ok(l.ClipGradNorm(0.5, math.Inf(1)))(t); total != 4 { // every bias gradient is 4
		t.Fatalf("module ClipGradNorm inf-norm %v, want 4", total)
	}
	must(AdamW(l, 1e-3, 0.9, 0.999, 1e-8, 0.01))(t)
}
