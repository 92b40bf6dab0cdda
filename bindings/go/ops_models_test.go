package infer

import (
	"errors"
	"slices"
	"testing"
)

// Every method of ops_models.go reaches the C function it names: small inputs, hand-computed values.
func TestModelOps(t *testing.T) {
	v := func(x *Tensor, err error) []float32 { return floats(t, must(x, err)(t)) }
	i64 := func(x *Tensor) []int64 { return ok(x.Int64s())(t) }
	x := must(FromFloat32([]float32{-1, 0, 4}, 3))(t)
	near(t, v(x.Silu()), []float32{-0.268941421, 0, 3.92805516}, 1e-6)
	near(t, v(x.Abs()), []float32{1, 0, 4}, 0)
	near(t, v(x.Sin()), []float32{-0.841470985, 0, -0.756802495}, 1e-6)
	near(t, v(x.Cos()), []float32{0.540302306, 1, -0.653643621}, 1e-6)
	near(t, v(x.GeluTanh()), []float32{-0.158808009, 0, 3.99992971}, 1e-6)
	near(t, v(must(x.Abs())(t).Rsqrt())[2:], []float32{0.5}, 0)

	a := must(FromFloat32([]float32{1, 5, 3, 7, 2, 7}, 2, 3))(t)
	vals, idx, err := a.MaxDim(1, false)
	noErr(t, err)
	near(t, floats(t, vals), []float32{5, 7}, 0)
	if got := i64(idx); !slices.Equal(got, []int64{1, 0}) {
		t.Fatalf("MaxDim indices %v", got)
	}
	vals, idx, err = a.MinDim(0, true)
	noErr(t, err)
	near(t, floats(t, vals), []float32{1, 2, 3}, 0)
	if got := i64(idx); !slices.Equal(got, []int64{0, 1, 0}) {
		t.Fatalf("MinDim indices %v", got)
	}
	near(t, v(a.Amax(false)), []float32{7}, 0)
	near(t, v(a.Amax(true, 0)), []float32{7, 5, 7}, 0)
	vals, idx, err = a.Topk(2, 1, true)
	noErr(t, err)
	near(t, floats(t, vals), []float32{5, 3, 7, 7}, 0)
	if got := i64(idx); !slices.Equal(got, []int64{1, 2, 0, 2}) {
		t.Fatalf("Topk indices %v", got)
	}

	index := must(FromInt64([]int64{2, 0}, 2))(t)
	near(t, v(a.IndexSelect(1, index)), []float32{3, 1, 7, 7}, 0)
	g := must(FromInt64([]int64{2, 2, 0, 1}, 2, 2))(t)
	near(t, v(a.Gather(1, g)), []float32{3, 3, 7, 2}, 0)
	near(t, v(Arange(0, 1, 0.25, Float32)), []float32{0, 0.25, 0.5, 0.75}, 0)
	r := must(Arange(5, 0, -2, Int64))(t)
	if got := i64(r); !slices.Equal(got, []int64{5, 3, 1}) {
		t.Fatalf("Arange %v", got)
	}
	near(t, v(a.Triu(1)), []float32{0, 5, 3, 0, 0, 7}, 0)
	near(t, v(a.Tril(0)), []float32{1, 0, 0, 7, 2, 0}, 0)
	near(t, v(Stack(0, x, x)), []float32{-1, 0, 4, -1, 0, 4}, 0)

	seven := must(Arange(0, 7, 1, Float32))(t)
	parts, err := seven.Chunk(3, 0)
	noErr(t, err)
	if len(parts) != 3 {
		t.Fatalf("Chunk gave %d views", len(parts))
	}
	near(t, floats(t, parts[2]), []float32{6}, 0)
	for _, p := range parts {
		noErr(t, p.Close())
	}

	probs := must(FromFloat32([]float32{0, 1, 0, 3}, 4))(t)
	ManualSeed(3)
	s1 := must(probs.Multinomial(6, true))(t)
	ManualSeed(3)
	s2 := must(probs.Multinomial(6, true))(t)
	if a, b := i64(s1), i64(s2); !slices.Equal(a, b) || slices.ContainsFunc(a, func(k int64) bool { return k != 1 && k != 3 }) {
		t.Fatalf("Multinomial %v and %v", a, b)
	}
}

// The library's statuses reach Go as errors.Is targets.
func TestModelOpErrors(t *testing.T) {
	a := must(FromFloat32([]float32{1, 2, 3}, 3))(t)
	if _, _, err := a.Topk(4, 0, true); !errors.Is(err, StatusInvalidArgument) {
		t.Fatalf("Topk with k > size: %v", err)
	}
	bad := must(FromInt64([]int64{3}, 1))(t)
	if _, err := a.IndexSelect(0, bad); !errors.Is(err, StatusInvalidArgument) {
		t.Fatalf("IndexSelect out of range: %v", err)
	}
	if _, err := Arange(0, 1, 0, Float32); !errors.Is(err, StatusInvalidArgument) {
		t.Fatalf("Arange with step 0: %v", err)
	}
	if _, err := a.Chunk(0, 0); !errors.Is(err, StatusInvalidArgument) {
		t.Fatalf("Chunk into 0: %v", err)
	}
	if _, err := a.Triu(0); !errors.Is(err, StatusShape) {
		t.Fatalf("Triu of 1-D: %v", err)
	}
	zeros := must(FromFloat32([]float32{0, 0}, 2))(t)
	if _, err := zeros.Multinomial(1, true); !errors.Is(err, StatusInvalidArgument) {
		t.Fatalf("Multinomial of zeros: %v", err)
	}
}
