package infer

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// tests/fixtures/ of the repository (made by tests/reference/make_safetensors_fixtures.py).
func fixture(name string) string { return filepath.Join("..", "..", "tests", "fixtures", name) }

func TestSafetensorsRoundTrip(t *testing.T) {
	path := filepath.Join(t.TempDir(), "t.safetensors")
	a := must(must(FromFloat32([]float32{1, 2, 3, 4, 5, 6}, 2, 3))(t).Transpose(0, 1))(t) // strided: saved row-major
	b := must(FromInt64([]int64{7, -8}, 2))(t)
	noErr(t, SaveSafetensors(path, map[string]*Tensor{"b": b, "a": a}))

	f := ok(OpenSafetensors(path))(t)
	if n := ok(f.Count())(t); n != 2 {
		t.Fatalf("Count %d", n)
	}
	if names := ok(f.Names())(t); !slices.Equal(names, []string{"a", "b"}) {
		t.Fatalf("Names %v", names)
	}
	a2 := must(f.Get("a"))(t)
	b2 := must(f.Get("b"))(t)
	if _, err := f.Get("c"); !errors.Is(err, StatusInvalidArgument) {
		t.Fatalf("Get of a missing name: %v", err)
	}
	if _, err := f.Name(2); !errors.Is(err, StatusInvalidArgument) {
		t.Fatalf("Name(2): %v", err)
	}
	noErr(t, f.Close())
	noErr(t, f.Close())
	if _, err := f.Count(); !errors.Is(err, StatusInvalidHandle) {
		t.Fatalf("Count after Close: %v", err)
	}
	// The tensors outlive the file.
	if s := ok(a2.Shape())(t); !slices.Equal(s, []int64{3, 2}) {
		t.Fatalf("shape %v", s)
	}
	near(t, floats(t, a2), []float32{1, 4, 2, 5, 3, 6}, 0)
	if v := ok(b2.Int64s())(t); !slices.Equal(v, []int64{7, -8}) {
		t.Fatalf("int64 values %v", v)
	}

	noErr(t, WithInferenceMode(func() error {
		f := must(OpenSafetensors(path))(t)
		if !ok(must(f.Get("a"))(t).IsInference())(t) {
			t.Error("Get inside inference mode must give an inference tensor")
		}
		return nil
	}))
}

func TestSafetensorsErrors(t *testing.T) {
	dir := t.TempDir()
	_, err := OpenSafetensors(filepath.Join(dir, "missing.safetensors"))
	if !errors.Is(err, StatusIO) || !strings.Contains(err.Error(), "missing.safetensors") {
		t.Fatalf("open of a missing file: %v", err)
	}
	junk := filepath.Join(dir, "junk.safetensors")
	noErr(t, os.WriteFile(junk, []byte("not a safetensors file"), 0o644))
	if _, err := OpenSafetensors(junk); !errors.Is(err, StatusFormat) {
		t.Fatalf("open of a malformed file: %v", err)
	}
	x := must(Zeros(Float32, 1))(t)
	if err := SaveSafetensors(filepath.Join(dir, "nil.safetensors"), map[string]*Tensor{"x": nil}); !errors.Is(err, StatusNullArgument) {
		t.Fatalf("save of a nil tensor: %v", err)
	}
	closed := ok(Zeros(Float32, 1))(t)
	noErr(t, closed.Close())
	if err := SaveSafetensors(filepath.Join(dir, "closed.safetensors"), map[string]*Tensor{"x": x, "y": closed}); !errors.Is(err, StatusInvalidHandle) {
		t.Fatalf("save of a closed tensor: %v", err)
	}
	if entries := ok(os.ReadDir(dir))(t); len(entries) != 1 {
		t.Fatalf("failed saves left files behind: %v", entries)
	}
}

// PyTorch's state_dict (tests/fixtures) gives PyTorch's output for the same input, in F32 and
// from F16 weights.
func TestModuleLoadsPyTorchStateDict(t *testing.T) {
	io := must(OpenSafetensors(fixture("mlp_io.safetensors")))(t)
	if names := ok(io.Names())(t); !slices.Equal(names, []string{"input", "output", "output_f16"}) {
		t.Fatalf("fixture names %v", names)
	}
	x := must(io.Get("input"))(t)
	for weights, output := range map[string]string{"mlp.safetensors": "output", "mlp_f16.safetensors": "output_f16"} {
		m := must(Sequential(must(Linear(4, 8, true))(t), must(ReLU())(t), must(Linear(8, 3, true))(t)))(t)
		noErr(t, m.LoadSafetensors(fixture(weights), true))
		near(t, floats(t, must(m.Forward(x))(t)), floats(t, must(io.Get(output))(t)), 1e-5)
	}
}

func TestModuleSaveAndLoad(t *testing.T) {
	dir := t.TempDir()
	mlp := func() *Module {
		return must(Sequential(must(Linear(4, 8, true))(t), must(ReLU())(t), must(Linear(8, 3, true))(t)))(t)
	}
	from, to := mlp(), mlp()
	path := filepath.Join(dir, "m.safetensors")
	noErr(t, from.SaveSafetensors(path))
	w := must(to.Tensor("0.weight"))(t)
	version := ok(w.Version())(t)
	noErr(t, to.LoadSafetensors(path, true))
	if v := ok(w.Version())(t); v != version+1 {
		t.Fatalf("version %d after load, %d before", v, version)
	}
	x := must(Randn(5, 4))(t)
	near(t, floats(t, must(to.Forward(x))(t)), floats(t, must(from.Forward(x))(t)), 0)

	// Strict refuses a partial file and changes nothing; non-strict loads the keys both have.
	part := filepath.Join(dir, "part.safetensors")
	noErr(t, SaveSafetensors(part, map[string]*Tensor{"0.weight": must(Ones(Float32, 8, 4))(t)}))
	before := floats(t, w)
	if err := to.LoadSafetensors(part, true); !errors.Is(err, StatusInvalidArgument) || !strings.Contains(err.Error(), "0.bias") {
		t.Fatalf("strict load of a partial file: %v", err)
	}
	near(t, floats(t, w), before, 0) // a failed load changes nothing
	noErr(t, to.LoadSafetensors(part, false))
	near(t, floats(t, w), slices.Repeat([]float32{1}, 32), 0)
	if err := to.LoadSafetensors(filepath.Join(dir, "missing"), false); !errors.Is(err, StatusIO) {
		t.Fatalf("load of a missing file: %v", err)
	}
}
