package infer

import (
	"errors"
	"fmt"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// The seed workflow of issue 2: an MLP in eval mode, one forward pass in inference mode.
func TestSeedWorkflow(t *testing.T) {
	ManualSeed(7)
	l1 := must(Linear(784, 256, true))(t)
	relu := must(ReLU())(t)
	l2 := must(Linear(256, 10, true))(t)
	model := must(Sequential(l1, relu, l2))(t)
	noErr(t, model.Eval())
	if ok(model.IsTraining())(t) {
		t.Fatal("model is still training after Eval")
	}
	names := ok(model.StateDictNames())(t)
	if !slices.Equal(names, []string{"0.weight", "0.bias", "2.weight", "2.bias"}) {
		t.Fatalf("state_dict names %v", names)
	}
	x := must(Randn(4, 784))(t)
	var out, pred *Tensor
	noErr(t, WithInferenceMode(func() error {
		if !IsInferenceModeEnabled() || IsGradEnabled() {
			t.Error("inference mode is not on inside WithInferenceMode")
		}
		var err error
		if out, err = model.Forward(x); err != nil {
			return err
		}
		pred, err = out.Argmax(1, false)
		return err
	}))
	t.Cleanup(func() { out.Close(); pred.Close() })
	if s := ok(out.Shape())(t); !slices.Equal(s, []int64{4, 10}) {
		t.Fatalf("output shape %v", s)
	}
	if !ok(out.IsInference())(t) || ok(out.RequiresGrad())(t) {
		t.Fatal("the output of a forward pass in inference mode must be an inference tensor without grad")
	}
	logits := floats(t, out)
	classes := ok(pred.Int64s())(t)
	for row := range 4 {
		best := 0
		for c := 1; c < 10; c++ {
			if logits[row*10+c] > logits[row*10+best] {
				best = c
			}
		}
		if classes[row] != int64(best) {
			t.Fatalf("row %d: argmax %d, logits say %d", row, classes[row], best)
		}
	}
}

func TestErrorsCarryStatusAndMessage(t *testing.T) {
	a := must(Ones(Float32, 2, 3))(t)
	b := must(Ones(Float32, 4, 5))(t)
	_, err := a.Matmul(b)
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("error %v (%T) is not an *Error", err, err)
	}
	if e.Status != StatusShape || !errors.Is(err, StatusShape) || errors.Is(err, StatusDType) {
		t.Fatalf("status %d, want StatusShape", e.Status)
	}
	if !strings.Contains(e.Message, "rt_tensor_matmul") || !strings.Contains(e.Message, "[2, 3]") {
		t.Fatalf("message %q does not name the function and the shapes", e.Message)
	}
	if !strings.Contains(err.Error(), e.Message) {
		t.Fatalf("Error() %q lacks the message", err.Error())
	}

	_, err = a.Item()
	if !errors.Is(err, StatusShape) || !strings.Contains(err.Error(), "rt_tensor_item") {
		t.Fatalf("Item on 6 elements: %v", err)
	}
	idx := must(Zeros(Int64, 3))(t)
	if err := idx.SetRequiresGrad(true); !errors.Is(err, StatusDType) {
		t.Fatalf("requires_grad on int64: %v", err)
	}
	if _, err := idx.Float32s(); !errors.Is(err, StatusDType) {
		t.Fatalf("Float32s on int64: %v", err)
	}
	if _, err := Linear(0, 3, true); !errors.Is(err, StatusInvalidArgument) {
		t.Fatalf("Linear(0, 3): %v", err)
	}
	var nilTensor *Tensor
	if _, err := a.Add(nilTensor); !errors.Is(err, StatusNullArgument) {
		t.Fatalf("Add(nil): %v", err)
	}
}

// Each error's message is its own call's, also when goroutines fail at once on threads the
// scheduler shuffles: the shim reads the per-thread message inside the failing C call.
func TestErrorMessagesUnderConcurrency(t *testing.T) {
	a := must(Ones(Float32, 2, 3))(t)
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for g := range 64 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 50 {
				index := int64(1000 + g*100 + i)
				_, err := a.Select(1, index)
				want := fmt.Sprintf("index %d is out of range", index)
				if !errors.Is(err, StatusInvalidArgument) || !strings.Contains(err.Error(), want) {
					errs <- fmt.Errorf("goroutine %d: got %v, want a message with %q", g, err, want)
					return
				}
				runtime.Gosched()
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// 50 goroutines run forward passes on one eval-mode model at once, half of them inside
// WithInferenceMode and half in grad mode; every result is the same, and each goroutine sees its
// own mode however the scheduler moves goroutines between threads.
func TestManyGoroutinesMixedModes(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(8))
	ManualSeed(11)
	l1 := must(Linear(32, 64, true))(t)
	act := must(Tanh())(t)
	l2 := must(Linear(64, 8, true))(t)
	model := must(Sequential(l1, act, l2))(t)
	noErr(t, model.Eval())
	x := must(Randn(16, 32))(t)
	want := floats(t, must(model.Forward(x))(t))

	errs := make(chan error, 50)
	var wg sync.WaitGroup
	for g := range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			inference := g%2 == 0
			for range 20 {
				if err := forwardOnce(model, x, want, inference); err != nil {
					errs <- fmt.Errorf("goroutine %d (inference %v): %w", g, inference, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func forwardOnce(model *Module, x *Tensor, want []float32, inference bool) error {
	check := func() error {
		runtime.Gosched() // invite the scheduler to move this goroutine
		if IsInferenceModeEnabled() != inference {
			return fmt.Errorf("IsInferenceModeEnabled() = %v", !inference)
		}
		out, err := model.Forward(x)
		if err != nil {
			return err
		}
		defer out.Close()
		runtime.Gosched()
		isInf, _ := out.IsInference()
		reqGrad, _ := out.RequiresGrad()
		hasFn, _ := out.HasGradFn()
		if isInf != inference || reqGrad == inference || hasFn == inference {
			return fmt.Errorf("output: inference %v, requires_grad %v, grad_fn %v", isInf, reqGrad, hasFn)
		}
		got, err := out.Float32s()
		if err != nil {
			return err
		}
		if !slices.Equal(got, want) {
			return errors.New("the output differs from the reference")
		}
		return nil
	}
	if inference {
		return WithInferenceMode(check)
	}
	return check()
}

// I10: backward inside inference mode fails and changes no gradient; after the mode it works.
func TestBackwardInsideInferenceMode(t *testing.T) {
	w := must(FromFloat32([]float32{1, 2, 3}, 3))(t)
	noErr(t, w.SetRequiresGrad(true))
	sq := must(w.Mul(w))(t)
	loss := must(sq.Sum(false))(t)
	err := WithInferenceMode(func() error { return loss.Backward(nil, false) })
	if !errors.Is(err, StatusInferenceMode) {
		t.Fatalf("backward inside inference mode: %v, want StatusInferenceMode", err)
	}
	if !strings.Contains(err.Error(), "rt_tensor_backward") {
		t.Fatalf("message %q does not name rt_tensor_backward", err.Error())
	}
	if g := ok(w.Grad())(t); g != nil {
		t.Fatal("the refused backward wrote a gradient")
	}
	if IsInferenceModeEnabled() {
		t.Fatal("inference mode leaked out of WithInferenceMode")
	}
	noErr(t, loss.Backward(nil, false))
	near(t, floats(t, must(w.Grad())(t)), []float32{2, 4, 6}, 0)
}

func TestModesRestoreAfterErrorAndPanic(t *testing.T) {
	sentinel := errors.New("from fn")
	if err := WithNoGrad(func() error { return sentinel }); err != sentinel {
		t.Fatalf("WithNoGrad returned %v, want fn's error", err)
	}
	func() {
		defer func() {
			if recover() == nil {
				t.Fatal("the panic did not propagate")
			}
		}()
		_ = WithInferenceMode(func() error { panic("boom") })
	}()
	// This goroutine's thread was locked for the panicking call and is unlocked again; whatever
	// thread it is on now must be in the default state.
	if IsInferenceModeEnabled() || !IsGradEnabled() {
		t.Fatal("a panic inside WithInferenceMode left the mode on")
	}
	w := must(Ones(Float32, 2))(t)
	noErr(t, w.SetRequiresGrad(true))
	noErr(t, WithInferenceMode(func() error {
		return WithoutInferenceMode(func() error {
			return WithNoGrad(func() error {
				y := must(w.MulScalar(2))(t)
				if rg := ok(y.RequiresGrad())(t); rg || IsInferenceModeEnabled() || IsGradEnabled() {
					return errors.New("no_grad inside an escaped inference mode is wrong")
				}
				return nil
			})
		})
	}))
}

func TestCloseIsIdempotent(t *testing.T) {
	x := ok(Ones(Float32, 4))(t)
	noErr(t, x.Close())
	noErr(t, x.Close())
	if _, err := x.Relu(); !errors.Is(err, StatusInvalidHandle) || !strings.Contains(err.Error(), "after Close") {
		t.Fatalf("Relu on a closed tensor: %v", err)
	}
	other := must(Ones(Float32, 4))(t)
	if _, err := other.Add(x); !errors.Is(err, StatusInvalidHandle) {
		t.Fatalf("a closed operand: %v", err)
	}
	var nilTensor *Tensor
	noErr(t, nilTensor.Close())

	// Racing Closes free the handle once.
	y := ok(Zeros(Float32, 1024))(t)
	var wg sync.WaitGroup
	for range 16 {
		wg.Add(1)
		go func() { defer wg.Done(); noErr(t, y.Close()) }()
	}
	wg.Wait()

	m := ok(Linear(2, 2, true))(t)
	o := ok(SGD(m, 0.1, 0, 0))(t)
	noErr(t, m.Close())
	noErr(t, m.Close())
	noErr(t, o.Step()) // the optimizer holds its own references to the parameters
	noErr(t, o.Close())
	noErr(t, o.Close())
	if err := o.Step(); !errors.Is(err, StatusInvalidHandle) {
		t.Fatalf("Step on a closed optimizer: %v", err)
	}
	if _, err := m.Forward(other); !errors.Is(err, StatusInvalidHandle) {
		t.Fatalf("Forward on a closed module: %v", err)
	}
}

// Close returns the storage: live bytes go back to where they started.
func TestCloseFreesMemory(t *testing.T) {
	start := liveBytes(t)
	t.Run("work", func(t *testing.T) {
		m := must(Linear(64, 64, true))(t)
		o := must(Adam(m, 1e-3, 0.9, 0.999, 1e-8, 0))(t)
		x := must(Randn(8, 64))(t)
		y := must(m.Forward(x))(t)
		loss := must(y.Mean(false))(t)
		noErr(t, loss.Backward(nil, false))
		noErr(t, o.Step())
		if liveBytes(t) <= start {
			t.Fatal("no storage was accounted")
		}
	})
	if end := liveBytes(t); end != start {
		t.Fatalf("live bytes %d after closing everything, %d at the start", end, start)
	}
}

// The cleanup backstop frees a tensor nobody closed once it is unreachable.
func TestCleanupFreesUnclosedTensors(t *testing.T) {
	start := liveBytes(t)
	func() {
		for range 10 {
			_ = ok(Zeros(Float32, 1<<16))(t) // 256 KiB each, dropped without Close
		}
	}()
	if liveBytes(t) < start+10<<18 {
		t.Fatal("the tensors were not accounted")
	}
	deadline := time.Now().Add(10 * time.Second)
	for liveBytes(t) > start {
		if time.Now().After(deadline) {
			t.Fatalf("live bytes %d, %d at the start: cleanups did not free the tensors", liveBytes(t), start)
		}
		runtime.GC()
		time.Sleep(10 * time.Millisecond)
	}
}

// Linear regression y = 2 x0 - 3 x1 + 0.5 with SGD, through a Linear module.
func TestTrainLinearRegression(t *testing.T) {
	ManualSeed(3)
	var xs, ys []float32
	for i := range 4 {
		for j := range 4 {
			a, b := -1+2*float32(i)/3, -1+2*float32(j)/3
			xs = append(xs, a, b)
			ys = append(ys, 2*a-3*b+0.5)
		}
	}
	x := must(FromFloat32(xs, 16, 2))(t)
	y := must(FromFloat32(ys, 16, 1))(t)
	model := must(Linear(2, 1, true))(t)
	opt := must(SGD(model, 0.1, 0, 0))(t)
	step := func() float64 {
		noErr(t, opt.ZeroGrad())
		pred := ok(model.Forward(x))(t)
		defer pred.Close()
		diff := ok(pred.Sub(y))(t)
		defer diff.Close()
		sq := ok(diff.Pow(2))(t)
		defer sq.Close()
		loss := ok(sq.Mean(false))(t)
		defer loss.Close()
		noErr(t, loss.Backward(nil, false))
		noErr(t, opt.Step())
		return ok(loss.Item())(t)
	}
	var loss float64
	for range 400 {
		loss = step()
	}
	if loss > 1e-8 {
		t.Fatalf("final loss %g", loss)
	}
	near(t, floats(t, must(model.Tensor("weight"))(t)), []float32{2, -3}, 1e-4)
	near(t, floats(t, must(model.Tensor("bias"))(t)), []float32{0.5}, 1e-4)
}
