package infer

import (
	"errors"
	"testing"
)

// Each method of ops_transformer.go reaches its C function: small inputs, values computed by hand.
func TestTransformerOps(t *testing.T) {
	v := func(x *Tensor, err error) []float32 { return floats(t, must(x, err)(t)) }
	x := must(FromFloat32([]float32{3, 4}, 1, 2))(t)
	w := must(FromFloat32([]float32{1, 2}, 2))(t)
	// mean(x^2) = 12.5: x / sqrt(12.5) * w
	near(t, v(x.RMSNorm([]int64{2}, w, 0)), []float32{0.848528137, 2.262741700}, 1e-6)
	near(t, v(x.RMSNorm([]int64{2}, nil, 0)), []float32{0.848528137, 1.131370850}, 1e-6)

	// rotate_half([3, 4]) = [-4, 3]: [3*0.5 - 4*0.25, 4*0.5 + 3*0.25]
	cos := must(FromFloat32([]float32{0.5, 0.5}, 1, 2))(t)
	sin := must(FromFloat32([]float32{0.25, 0.25}, 1, 2))(t)
	near(t, v(x.ApplyRotaryEmb(cos, sin)), []float32{0.5, 2.75}, 1e-6)

	// a zero query weighs both keys equally; causal or masked, it sees the first or the second
	q := must(Zeros(Float32, 1, 1, 1, 2))(t)
	k := must(Randn(1, 1, 2, 2))(t)
	val := must(FromFloat32([]float32{1, 3}, 1, 1, 2, 1))(t)
	near(t, v(ScaledDotProductAttention(q, k, val, Attention{})), []float32{2}, 1e-6)
	near(t, v(ScaledDotProductAttention(q, k, val, Attention{IsCausal: true})), []float32{1}, 1e-6)
	mask := must(FromBool([]bool{false, true}, 1, 2))(t)
	near(t, v(ScaledDotProductAttention(q, k, val, Attention{Mask: mask})), []float32{3}, 1e-6)

	// four query heads over two k/v heads (heads 0, 1 share the first) need EnableGQA
	q4 := must(Zeros(Float32, 1, 4, 1, 2))(t)
	k2 := must(Randn(1, 2, 2, 2))(t)
	v2 := must(FromFloat32([]float32{1, 3, 5, 7}, 1, 2, 2, 1))(t)
	if _, err := ScaledDotProductAttention(q4, k2, v2, Attention{}); !errors.Is(err, StatusShape) {
		t.Fatalf("grouped heads without EnableGQA: %v", err)
	}
	near(t, v(ScaledDotProductAttention(q4, k2, v2, Attention{EnableGQA: true})), []float32{2, 2, 6, 6}, 1e-6)
	if _, err := x.RMSNorm([]int64{3}, nil, 1e-5); !errors.Is(err, StatusShape) {
		t.Fatalf("RMSNorm over a dim of the wrong size: %v", err)
	}
	if _, err := x.ApplyRotaryEmb(nil, sin); !errors.Is(err, StatusNullArgument) {
		t.Fatalf("ApplyRotaryEmb without cos: %v", err)
	}
}
