package infer

import (
	"errors"
	"runtime"
	"strings"
	"testing"
)

// residual is y = x + fc2(relu(fc1(x))) with its forward in Go.
func residual(t *testing.T) *Module {
	m := must(Custom("Residual", func(self *Module, in []*Tensor) (*Tensor, error) {
		fc1, err := self.Module("fc1")
		if err != nil {
			return nil, err
		}
		defer fc1.Close()
		fc2, err := self.Module("fc2")
		if err != nil {
			return nil, err
		}
		defer fc2.Close()
		h, err := fc1.Forward(in[0])
		if err != nil {
			return nil, err
		}
		defer h.Close()
		r, err := h.Relu()
		if err != nil {
			return nil, err
		}
		defer r.Close()
		z, err := fc2.Forward(r)
		if err != nil {
			return nil, err
		}
		defer z.Close()
		return in[0].Add(z)
	}))(t)
	fc1 := must(Linear(4, 8, true))(t)
	fc2 := must(Linear(8, 4, true))(t)
	noErr(t, m.RegisterModule("fc1", fc1))
	noErr(t, m.RegisterModule("fc2", fc2))
	return m
}

func TestGoDefinedModuleMatchesTheSameMathByHand(t *testing.T) {
	ManualSeed(3)
	m := residual(t)
	x := must(Randn(3, 4))(t)
	y := must(m.Forward(x))(t)
	fc1 := must(m.Module("fc1"))(t)
	fc2 := must(m.Module("fc2"))(t)
	h := must(fc1.Forward(x))(t)
	r := must(h.Relu())(t)
	z := must(fc2.Forward(r))(t)
	want := must(x.Add(z))(t)
	near(t, floats(t, y), floats(t, want), 1e-6)
	yn := must(m.ForwardN(x))(t)
	near(t, floats(t, yn), floats(t, want), 1e-6)

	names := ok(m.StateDictNames())(t)
	if strings.Join(names, ",") != "fc1.weight,fc1.bias,fc2.weight,fc2.bias" {
		t.Fatalf("names %v", names)
	}
	if tn := ok(m.TypeName())(t); tn != "Residual" {
		t.Fatalf("type name %q", tn)
	}
	if tn := ok(fc1.TypeName())(t); tn != "Linear" {
		t.Fatalf("type name %q", tn)
	}
}

func TestGoForwardErrorsComeBackWithTheirStatusAndMessage(t *testing.T) {
	m := must(Custom("Broken", func(self *Module, in []*Tensor) (*Tensor, error) { return in[0].Matmul(in[0]) }))(t)
	x := must(Randn(3, 4))(t)
	_, err := m.Forward(x)
	var e *Error
	if !errors.As(err, &e) || e.Status != StatusShape || !strings.Contains(e.Message, "the forward of Broken: rt_tensor_matmul") {
		t.Fatalf("got %v", err)
	}
	other := must(Custom("Other", func(*Module, []*Tensor) (*Tensor, error) { return nil, errors.New("not the library's") }))(t)
	if _, err := other.Forward(x); !errors.Is(err, StatusInternal) {
		t.Fatalf("got %v", err)
	}
	list := must(Container("ModuleList"))(t)
	if _, err := list.Forward(x); !errors.Is(err, StatusUnsupported) {
		t.Fatalf("got %v", err)
	}
	lin := must(Linear(2, 2, true))(t)
	if err := lin.RegisterModule("x", list); !errors.Is(err, StatusUnsupported) {
		t.Fatalf("got %v", err)
	}
	if err := list.RegisterModule("a.b", lin); !errors.Is(err, StatusInvalidArgument) {
		t.Fatalf("got %v", err)
	}
}

func TestGoForwardIsReleasedWithTheModule(t *testing.T) {
	before := liveForwards.Load()
	parent := ok(Container("Parent"))(t)
	m := ok(Custom("Identity", func(self *Module, in []*Tensor) (*Tensor, error) { return in[0], nil }))(t)
	noErr(t, parent.RegisterModule("m", m))
	x := must(Randn(2))(t)
	noErr(t, m.Close())
	if liveForwards.Load() != before+2 {
		t.Fatalf("live forwards %d, want %d", liveForwards.Load(), before+2)
	}
	child := must(parent.Module("m"))(t)
	out := must(child.Forward(x))(t)
	near(t, floats(t, out), floats(t, x), 0)
	noErr(t, parent.Close())
	runtime.GC()
	if _, err := Custom("", nil); !errors.Is(err, StatusInvalidArgument) {
		t.Fatalf("got %v", err)
	}
	// child's handle still holds the Identity module
	if liveForwards.Load() != before+1 {
		t.Fatalf("live forwards %d, want %d", liveForwards.Load(), before+1)
	}
}
