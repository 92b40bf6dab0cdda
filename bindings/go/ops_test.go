package infer

import (
	"errors"
	"slices"
	"testing"
)

// Every Tensor method reaches the C function it names: small inputs, hand-computed values.
func TestOps(t *testing.T) {
	a := must(FromFloat32([]float32{1, 2, 3, 4, 5, 6}, 2, 3))(t)
	b := must(FromFloat32([]float32{1, 1, 1, 2, 2, 2}, 2, 3))(t)
	v := func(x *Tensor, err error) []float32 { return floats(t, must(x, err)(t)) }
	near(t, v(a.Add(b)), []float32{2, 3, 4, 6, 7, 8}, 0)
	near(t, v(a.Sub(b)), []float32{0, 1, 2, 2, 3, 4}, 0)
	near(t, v(a.Mul(b)), []float32{1, 2, 3, 8, 10, 12}, 0)
	near(t, v(a.Div(b)), []float32{1, 2, 3, 2, 2.5, 3}, 0)
	at := must(a.Transpose(0, 1))(t)
	near(t, v(a.Matmul(at)), []float32{14, 32, 32, 77}, 0)
	near(t, v(a.AddScalar(0.5)), []float32{1.5, 2.5, 3.5, 4.5, 5.5, 6.5}, 0)
	near(t, v(a.MulScalar(2)), []float32{2, 4, 6, 8, 10, 12}, 0)
	near(t, v(a.Pow(2)), []float32{1, 4, 9, 16, 25, 36}, 0)
	w := must(FromFloat32([]float32{1, 0, 0, 0, 1, 1}, 2, 3))(t)
	bias := must(FromFloat32([]float32{100, 200}, 2))(t)
	near(t, v(a.Linear(w, bias)), []float32{101, 205, 104, 211}, 0)
	near(t, v(a.Linear(w, nil)), []float32{1, 5, 4, 11}, 0)

	x := must(FromFloat32([]float32{-1, 0, 2}, 3))(t)
	near(t, v(x.Relu()), []float32{0, 0, 2}, 0)
	near(t, v(x.Neg()), []float32{1, 0, -2}, 0)
	near(t, v(x.Exp()), []float32{0.367879441, 1, 7.38905610}, 1e-6)
	near(t, v(must(x.Exp())(t).Log()), []float32{-1, 0, 2}, 1e-6)
	near(t, v(must(x.Pow(2))(t).Sqrt()), []float32{1, 0, 2}, 0)
	near(t, v(x.Sigmoid()), []float32{0.268941421, 0.5, 0.880797078}, 1e-6)
	near(t, v(x.Tanh()), []float32{-0.761594156, 0, 0.964027580}, 1e-6)
	near(t, v(x.Gelu()), []float32{-0.158655254, 0, 1.95449974}, 1e-6)

	near(t, v(a.Sum(false)), []float32{21}, 0)
	near(t, v(a.Sum(false, 0)), []float32{5, 7, 9}, 0)
	near(t, v(a.Mean(true, -1)), []float32{2, 5}, 0)
	am := must(a.Argmax(1, false))(t)
	if got := ok(am.Int64s())(t); !slices.Equal(got, []int64{2, 2}) {
		t.Fatalf("argmax %v", got)
	}
	conv := must(must(FromFloat32([]float32{1.7, -1.7}, 2))(t).To(Int64))(t)
	if got := ok(conv.Int64s())(t); !slices.Equal(got, []int64{1, -1}) {
		t.Fatalf("To(Int64) %v", got)
	}
	near(t, v(a.Clone()), floats(t, a), 0)
	near(t, v(at.Contiguous()), []float32{1, 4, 2, 5, 3, 6}, 0)
	near(t, v(Cat(0, a, b)), []float32{1, 2, 3, 4, 5, 6, 1, 1, 1, 2, 2, 2}, 0)
	near(t, v(a.Narrow(1, 1, 2)), []float32{2, 3, 5, 6}, 0)
	near(t, v(a.Select(0, 1)), []float32{4, 5, 6}, 0)
	near(t, v(a.Permute(1, 0)), []float32{1, 4, 2, 5, 3, 6}, 0)
	row := must(FromFloat32([]float32{1, 2, 3}, 1, 3))(t)
	near(t, v(row.Expand(2, -1)), []float32{1, 2, 3, 1, 2, 3}, 0)
	shapeOf := func(x *Tensor, err error) []int64 { return ok(must(x, err)(t).Shape())(t) }
	for _, c := range []struct {
		got, want []int64
	}{
		{shapeOf(a.View(3, -1)), []int64{3, 2}},
		{shapeOf(at.Reshape(-1)), []int64{6}},
		{shapeOf(a.Unsqueeze(0)), []int64{1, 2, 3}},
		{shapeOf(row.Squeeze(0)), []int64{3}},
		{shapeOf(must(a.Unsqueeze(0))(t).Flatten(1, -1)), []int64{1, 6}},
	} {
		if !slices.Equal(c.got, c.want) {
			t.Fatalf("shape %v, want %v", c.got, c.want)
		}
	}
	if _, err := at.View(6); !errors.Is(err, StatusShape) {
		t.Fatalf("View of a transposed tensor: %v", err)
	}
	if isView := ok(at.IsView())(t); !isView || ok(at.IsContiguous())(t) {
		t.Fatal("a transpose is a non-contiguous view")
	}
	if n, d := ok(a.Numel())(t), ok(a.Dim())(t); n != 6 || d != 2 {
		t.Fatalf("numel %d, dim %d", n, d)
	}
	if ok(a.DType())(t) != Float32 {
		t.Fatal("dtype")
	}
}

func TestInPlaceAndAutograd(t *testing.T) {
	a := must(FromFloat32([]float32{1, 2, 3}, 3))(t)
	b := must(FromFloat32([]float32{1, 1, 2}, 3))(t)
	noErr(t, a.AddInPlace(b))
	noErr(t, a.SubInPlace(b))
	noErr(t, a.MulInPlace(b))
	near(t, floats(t, a), []float32{1, 2, 6}, 0)
	noErr(t, a.AddScalarInPlace(1))
	noErr(t, a.MulScalarInPlace(0.5))
	near(t, floats(t, a), []float32{1, 1.5, 3.5}, 0)
	noErr(t, a.CopyFrom(must(Full(4, Float32, 1))(t)))
	near(t, floats(t, a), []float32{4, 4, 4}, 0)
	noErr(t, a.Fill(-2))
	noErr(t, a.Zero())
	near(t, floats(t, a), []float32{0, 0, 0}, 0)
	if ver := ok(a.Version())(t); ver != 8 {
		t.Fatalf("version %d after 8 in-place ops", ver)
	}

	x := must(FromFloat32([]float32{1, 2, 3}, 3))(t)
	noErr(t, x.SetRequiresGrad(true))
	y := must(x.MulScalar(2))(t)
	if ok(y.IsLeaf())(t) || !ok(y.HasGradFn())(t) {
		t.Fatal("y = 2x is not a leaf and has a grad_fn")
	}
	noErr(t, y.RetainGrad())
	noErr(t, y.Backward(must(FromFloat32([]float32{1, 10, 100}, 3))(t), false))
	near(t, floats(t, must(x.Grad())(t)), []float32{2, 20, 200}, 0)
	near(t, floats(t, must(y.Grad())(t)), []float32{1, 10, 100}, 0)
	noErr(t, x.SetGrad(nil))
	if g := ok(x.Grad())(t); g != nil {
		t.Fatal("SetGrad(nil) did not clear the gradient")
	}
	if err := x.AddScalarInPlace(1); !errors.Is(err, StatusAutograd) {
		t.Fatalf("in-place on a leaf that requires grad: %v", err)
	}
	noErr(t, WithNoGrad(func() error { return x.AddScalarInPlace(1) }))
	d := must(x.Detach())(t)
	if ok(d.RequiresGrad())(t) {
		t.Fatal("detach requires grad")
	}
	s := must(x.Share())(t)
	near(t, floats(t, s), []float32{2, 3, 4}, 0)

	inf := must(func() (*Tensor, error) {
		var r *Tensor
		err := WithInferenceMode(func() (err error) { r, err = Ones(Float32, 2); return })
		return r, err
	}())(t)
	if err := inf.AddScalarInPlace(1); !errors.Is(err, StatusInferenceMode) {
		t.Fatalf("I6: %v", err)
	}
	if _, err := inf.Version(); !errors.Is(err, StatusInferenceMode) {
		t.Fatalf("I3: %v", err)
	}
}

func TestModulesAndOptimizers(t *testing.T) {
	l1 := must(Linear(3, 2, true))(t)
	model := must(Sequential(l1, must(Tanh())(t), must(Linear(2, 1, false))(t), must(Sigmoid())(t)))(t)
	if n := ok(model.NumTensors())(t); n != 3 {
		t.Fatalf("%d tensors", n)
	}
	if name := ok(model.TensorName(2))(t); name != "2.weight" {
		t.Fatalf("name %q", name)
	}
	if _, err := model.TensorName(3); !errors.Is(err, StatusInvalidArgument) {
		t.Fatalf("TensorName(3): %v", err)
	}
	if _, err := model.Tensor("9.bias"); !errors.Is(err, StatusInvalidArgument) {
		t.Fatalf("unknown tensor: %v", err)
	}
	out := must(model.Forward(must(Ones(Float32, 5, 3))(t)))(t)
	noErr(t, must(out.Sum(false))(t).Backward(nil, false))
	w := must(model.Tensor("0.weight"))(t)
	if g := must(w.Grad())(t); g == nil {
		t.Fatal("no gradient after backward")
	}
	noErr(t, model.ZeroGrad())
	if g := ok(w.Grad())(t); g != nil {
		t.Fatal("ZeroGrad left a gradient")
	}
	gelu := must(GELU())(t)
	near(t, floats(t, must(gelu.Forward(must(Full(1, Float32, 1))(t)))(t)), []float32{0.841344746}, 1e-6)
	noErr(t, must(ReLU())(t).Train(true))

	p := must(Ones(Float32, 2))(t)
	noErr(t, p.SetRequiresGrad(true))
	adam := must(AdamTensors([]*Tensor{p}, 0.5, 0.9, 0.999, 1e-8, 0))(t)
	noErr(t, must(must(p.Mul(p))(t).Sum(false))(t).Backward(nil, false))
	noErr(t, adam.Step())
	near(t, floats(t, p), []float32{0.5, 0.5}, 1e-5) // Adam's first step is lr against the gradient's sign
	sgd := must(SGDTensors([]*Tensor{p}, 0.1, 0, 0))(t)
	noErr(t, sgd.SetLR(0))
	noErr(t, sgd.Step())
	noErr(t, sgd.ZeroGrad())
	near(t, floats(t, p), []float32{0.5, 0.5}, 1e-5)
	moduleAdam := must(Adam(l1, 0.1, 0.9, 0.999, 1e-8, 0))(t)
	noErr(t, moduleAdam.ZeroGrad())

	if ABIVersion() != 1 || Version() == "" {
		t.Fatal("version")
	}
	noErr(t, SetNumThreads(1))
	if NumThreads() != 1 {
		t.Fatal("SetNumThreads(1)")
	}
	noErr(t, SetNumThreads(0))
	if err := SetNumThreads(-1); !errors.Is(err, StatusInvalidArgument) {
		t.Fatalf("SetNumThreads(-1): %v", err)
	}
	r := floats(t, must(Rand(64))(t))
	for _, x := range r {
		if x < 0 || x >= 1 {
			t.Fatalf("Rand gave %v", x)
		}
	}
	ResetPeakMemory()
	if s := ok(GetMemoryStats())(t); s.PeakBytes != s.LiveBytes {
		t.Fatal("ResetPeakMemory")
	}
}
