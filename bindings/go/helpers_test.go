package infer

import (
	"math"
	"testing"
)

// must(f())(t) fails the test when f fails, and otherwise closes f's object when the test (or
// subtest) ends. (Go cannot spread f's two results after a leading t argument.)
func must[T interface{ Close() error }](v T, err error) func(testing.TB) T {
	return func(tb testing.TB) T {
		tb.Helper()
		if err != nil {
			tb.Fatal(err)
		}
		tb.Cleanup(func() {
			if err := v.Close(); err != nil {
				tb.Errorf("Close: %v", err)
			}
		})
		return v
	}
}

// ok(f())(t) fails the test when f fails and otherwise returns f's value.
func ok[T any](v T, err error) func(testing.TB) T {
	return func(tb testing.TB) T {
		tb.Helper()
		if err != nil {
			tb.Fatal(err)
		}
		return v
	}
}

func noErr(tb testing.TB, err error) {
	tb.Helper()
	if err != nil {
		tb.Fatal(err)
	}
}

func floats(tb testing.TB, t *Tensor) []float32 {
	tb.Helper()
	return ok(t.Float32s())(tb)
}

func near(tb testing.TB, got, want []float32, tol float64) {
	tb.Helper()
	if len(got) != len(want) {
		tb.Fatalf("got %d values %v, want %d %v", len(got), got, len(want), want)
	}
	for i := range got {
		if !(math.Abs(float64(got[i])-float64(want[i])) <= tol) {
			tb.Fatalf("element %d is %v, want %v (tolerance %g); got %v", i, got[i], want[i], tol, got)
		}
	}
}

func liveBytes(tb testing.TB) uint64 {
	tb.Helper()
	return ok(GetMemoryStats())(tb).LiveBytes
}
