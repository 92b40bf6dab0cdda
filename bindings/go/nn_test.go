package infer

import (
	"errors"
	"math"
	"slices"
	"testing"
)

// The nn functions reach their C functions with the arguments in order: small inputs with
// hand-computed results.
func TestNNFunctions(t *testing.T) {
	ln3 := float32(math.Log(3))
	logits := must(FromFloat32([]float32{0, ln3, ln3, 0}, 2, 2))(t)
	noErr(t, logits.SetRequiresGrad(true))
	near(t, floats(t, must(logits.Softmax(1))(t)), []float32{0.25, 0.75, 0.75, 0.25}, 1e-6)
	near(t, floats(t, must(logits.LogSoftmax(-1))(t)),
		[]float32{float32(math.Log(0.25)), float32(math.Log(0.75)), float32(math.Log(0.75)), float32(math.Log(0.25))}, 1e-6)

	// Cross-entropy of classes 1 and 1: (-log 0.75 - log 0.25) / 2; gradient (softmax - onehot) / N.
	ce := must(logits.CrossEntropy(must(FromInt64([]int64{1, 1}, 2))(t)))(t)
	want := (-math.Log(0.75) - math.Log(0.25)) / 2
	if v := ok(ce.Item())(t); math.Abs(v-want) > 1e-6 {
		t.Fatalf("cross-entropy %v, want %v", v, want)
	}
	noErr(t, ce.Backward(nil, false))
	near(t, floats(t, must(logits.Grad())(t)), []float32{0.125, -0.125, 0.375, -0.375}, 1e-6)
	if _, err := logits.CrossEntropy(must(FromInt64([]int64{1, 2}, 2))(t)); !errors.Is(err, StatusInvalidArgument) {
		t.Fatalf("class index 2 of 2: %v", err)
	}

	mse := must(must(FromFloat32([]float32{1, 2}, 2))(t).MSELoss(must(FromFloat32([]float32{3, 5}, 2))(t)))(t)
	if v := ok(mse.Item())(t); v != 6.5 {
		t.Fatalf("MSE %v, want 6.5", v)
	}

	// Conv2d of 1..9 (3x3) with a 2x2 kernel of ones and bias 0.5; then stride 2, padding 1,
	// where the windows at the borders see the zero padding.
	img := must(FromFloat32([]float32{1, 2, 3, 4, 5, 6, 7, 8, 9}, 1, 1, 3, 3))(t)
	ones := must(Ones(Float32, 1, 1, 2, 2))(t)
	bias := must(FromFloat32([]float32{0.5}, 1))(t)
	near(t, floats(t, must(img.Conv2d(ones, bias, 1, 0))(t)), []float32{12.5, 16.5, 24.5, 28.5}, 1e-5)
	near(t, floats(t, must(img.Conv2d(ones, bias, 2, 1))(t)), []float32{1.5, 5.5, 11.5, 28.5}, 1e-5)
	near(t, floats(t, must(img.Conv2d(ones, nil, 1, 0))(t)), []float32{12, 16, 24, 28}, 1e-5)
	if _, err := img.Conv2d(ones, nil, 0, 0); !errors.Is(err, StatusInvalidArgument) {
		t.Fatalf("stride 0: %v", err)
	}

	grid := must(FromFloat32([]float32{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15}, 1, 1, 4, 4))(t)
	near(t, floats(t, must(grid.MaxPool2d(2, 0))(t)), []float32{5, 7, 13, 15}, 0)
	near(t, floats(t, must(grid.MaxPool2d(2, 1))(t)), []float32{5, 6, 7, 9, 10, 11, 13, 14, 15}, 0)

	// LayerNorm of 1..4: mean 2.5, biased variance 1.25; then the affine 2y + 1.
	x := must(FromFloat32([]float32{1, 2, 3, 4}, 1, 4))(t)
	n := float32(1 / math.Sqrt(1.25+1e-5))
	near(t, floats(t, must(x.LayerNorm([]int64{4}, nil, nil, 1e-5))(t)), []float32{-1.5 * n, -0.5 * n, 0.5 * n, 1.5 * n}, 1e-5)
	w := must(Full(2, Float32, 4))(t)
	b := must(Ones(Float32, 4))(t)
	near(t, floats(t, must(x.LayerNorm([]int64{4}, w, b, 1e-5))(t)), []float32{1 - 3*n, 1 - n, 1 + n, 1 + 3*n}, 1e-5)
	if _, err := x.LayerNorm([]int64{3}, nil, nil, 1e-5); !errors.Is(err, StatusShape) {
		t.Fatalf("LayerNorm over [3] of [1, 4]: %v", err)
	}

	// BatchNorm in training over the batch 1..4 of one channel updates the running statistics
	// (momentum 0.1, unbiased variance 5/3); eval then uses them.
	col := must(x.Reshape(4, 1))(t)
	rm := must(Zeros(Float32, 1))(t)
	rv := must(Ones(Float32, 1))(t)
	near(t, floats(t, must(col.BatchNorm(rm, rv, nil, nil, true, 0.1, 1e-5))(t)), []float32{-1.5 * n, -0.5 * n, 0.5 * n, 1.5 * n}, 1e-5)
	near(t, floats(t, rm), []float32{0.25}, 1e-6)
	near(t, floats(t, rv), []float32{0.9 + 0.1*5.0/3}, 1e-6)
	e := float32(1 / math.Sqrt(0.9+0.1*5.0/3+1e-5))
	near(t, floats(t, must(col.BatchNorm(rm, rv, nil, nil, false, 0.1, 1e-5))(t)),
		[]float32{0.75 * e, 1.75 * e, 2.75 * e, 3.75 * e}, 1e-5)
	if _, err := col.BatchNorm(nil, nil, nil, nil, false, 0.1, 1e-5); !errors.Is(err, StatusNullArgument) {
		t.Fatalf("eval without running statistics: %v", err)
	}

	near(t, floats(t, must(x.Dropout(1, true))(t)), []float32{0, 0, 0, 0}, 0)
	near(t, floats(t, must(x.Dropout(0.5, false))(t)), []float32{1, 2, 3, 4}, 0)
	if _, err := x.Dropout(2, true); !errors.Is(err, StatusInvalidArgument) {
		t.Fatalf("Dropout(2): %v", err)
	}

	table := must(FromFloat32([]float32{0, 1, 2, 3, 4, 5}, 3, 2))(t)
	rows := must(must(FromInt64([]int64{2, 0, 2}, 3))(t).Embedding(table))(t)
	if s := ok(rows.Shape())(t); !slices.Equal(s, []int64{3, 2}) {
		t.Fatalf("embedding shape %v", s)
	}
	near(t, floats(t, rows), []float32{4, 5, 0, 1, 4, 5}, 0)
}

func TestLayers(t *testing.T) {
	ManualSeed(2)
	img := must(Randn(2, 3, 8, 8))(t)
	shape := func(m *Module, x *Tensor) []int64 { return ok(must(m.Forward(x))(t).Shape())(t) }
	names := func(m *Module) []string { return ok(m.StateDictNames())(t) }

	conv := must(Conv2d(3, 4, 3, 1, 1, true))(t)
	if s := shape(conv, img); !slices.Equal(s, []int64{2, 4, 8, 8}) {
		t.Fatalf("Conv2d output %v", s)
	}
	if n := names(conv); !slices.Equal(n, []string{"weight", "bias"}) {
		t.Fatalf("Conv2d state_dict %v", n)
	}
	if s := shape(must(Conv2d(3, 4, 3, 2, 0, false))(t), img); !slices.Equal(s, []int64{2, 4, 3, 3}) {
		t.Fatalf("Conv2d stride 2 output %v", s)
	}
	bnNames := []string{"weight", "bias", "running_mean", "running_var", "num_batches_tracked"}
	if n := names(must(BatchNorm2d(3, 1e-5, 0.1))(t)); !slices.Equal(n, bnNames) {
		t.Fatalf("BatchNorm2d state_dict %v", n)
	}
	bn1 := must(BatchNorm1d(5, 1e-5, 0.1))(t)
	if s := shape(bn1, must(Randn(4, 5))(t)); !slices.Equal(s, []int64{4, 5}) {
		t.Fatalf("BatchNorm1d output %v", s)
	}
	ln := must(LayerNorm([]int64{8, 8}, 1e-5))(t)
	if s := ok(must(ln.Tensor("weight"))(t).Shape())(t); !slices.Equal(s, []int64{8, 8}) {
		t.Fatalf("LayerNorm weight %v", s)
	}
	if s := shape(must(MaxPool2d(2, 0))(t), img); !slices.Equal(s, []int64{2, 3, 4, 4}) {
		t.Fatalf("MaxPool2d output %v", s)
	}
	if s := shape(must(Flatten(1, -1))(t), img); !slices.Equal(s, []int64{2, 192}) {
		t.Fatalf("Flatten output %v", s)
	}
	emb := must(Embedding(10, 6))(t)
	if s := shape(emb, must(FromInt64([]int64{1, 9, 3}, 3))(t)); !slices.Equal(s, []int64{3, 6}) {
		t.Fatalf("Embedding output %v", s)
	}
	logits := must(Randn(2, 5))(t)
	near(t, floats(t, must(must(Softmax(1))(t).Forward(logits))(t)), floats(t, must(logits.Softmax(1))(t)), 0)
	drop := must(Dropout(0.5))(t)
	noErr(t, drop.Eval())
	near(t, floats(t, must(drop.Forward(logits))(t)), floats(t, logits), 0)

	if _, err := Conv2d(0, 4, 3, 1, 0, true); !errors.Is(err, StatusInvalidArgument) {
		t.Fatalf("Conv2d(0, ...): %v", err)
	}
	if _, err := Dropout(-0.1); !errors.Is(err, StatusInvalidArgument) {
		t.Fatalf("Dropout(-0.1): %v", err)
	}
}

// A small CNN trained with Adam on a fixed batch: the loss falls and eval classifies the batch.
func TestSmallCNNLearns(t *testing.T) {
	ManualSeed(4)
	model := must(Sequential(must(Conv2d(1, 4, 3, 1, 1, true))(t), must(BatchNorm2d(4, 1e-5, 0.1))(t), must(ReLU())(t),
		must(MaxPool2d(2, 0))(t), must(Flatten(1, -1))(t), must(Linear(4*4*4, 3, true))(t)))(t)
	x := must(Randn(6, 1, 8, 8))(t)
	y := must(FromInt64([]int64{0, 1, 2, 0, 1, 2}, 6))(t)
	opt := must(Adam(model, 0.05, 0.9, 0.999, 1e-8, 0))(t)
	var first, last float64
	for step := range 40 {
		noErr(t, opt.ZeroGrad())
		out := must(model.Forward(x))(t)
		loss := must(out.CrossEntropy(y))(t)
		noErr(t, loss.Backward(nil, false))
		noErr(t, opt.Step())
		last = ok(loss.Item())(t)
		if step == 0 {
			first = last
		}
	}
	if last > first/4 {
		t.Fatalf("loss %v after 40 steps, %v at the first", last, first)
	}
	noErr(t, model.Eval())
	noErr(t, WithInferenceMode(func() error {
		pred := must(must(model.Forward(x))(t).Argmax(1, false))(t)
		if got := ok(pred.Int64s())(t); !slices.Equal(got, []int64{0, 1, 2, 0, 1, 2}) {
			t.Errorf("predictions %v", got)
		}
		return nil
	}))
}
