package infer

import (
	"errors"
	"math"
	"slices"
	"testing"
)

func bools(tb testing.TB, t *Tensor) []bool {
	tb.Helper()
	return ok(t.Bools())(tb)
}

func TestBoolTensorsAndConversions(t *testing.T) {
	b := must(FromBool([]bool{true, false, true}, 3))(t)
	if d := ok(b.DType())(t); d != Bool || d.String() != "bool" {
		t.Fatalf("dtype %v", d)
	}
	if got := bools(t, b); !slices.Equal(got, []bool{true, false, true}) {
		t.Fatalf("Bools %v", got)
	}
	f := must(b.To(Float32))(t)
	near(t, floats(t, f), []float32{1, 0, 1}, 0)
	nan := must(FromFloat32([]float32{0, float32(math.NaN()), -2}, 3))(t)
	if got := bools(t, must(nan.To(Bool))(t)); !slices.Equal(got, []bool{false, true, true}) {
		t.Fatalf("to bool: %v", got)
	}
	if err := b.SetRequiresGrad(true); !errors.Is(err, StatusDType) {
		t.Fatalf("requires_grad on bool: %v", err)
	}
	if _, err := b.Float32s(); !errors.Is(err, StatusDType) {
		t.Fatalf("Float32s of bool: %v", err)
	}
	if _, err := b.Relu(); !errors.Is(err, StatusDType) {
		t.Fatalf("relu of bool: %v", err)
	}
}

func TestCompareAndLogicalOps(t *testing.T) {
	a := must(FromFloat32([]float32{1, float32(math.NaN()), 3}, 3))(t)
	b := must(FromFloat32([]float32{1, 1, 2}, 3))(t)
	for _, c := range []struct {
		op   Compare
		want []bool
	}{
		{Eq, []bool{true, false, false}},
		{Ne, []bool{false, true, true}},
		{Lt, []bool{false, false, false}},
		{Le, []bool{true, false, false}},
		{Gt, []bool{false, false, true}},
		{Ge, []bool{true, false, true}},
	} {
		if got := bools(t, must(a.Compare(b, c.op))(t)); !slices.Equal(got, c.want) {
			t.Fatalf("op %d: %v, want %v", c.op, got, c.want)
		}
	}
	gt := must(a.CompareScalar(1.5, Gt))(t)
	if got := bools(t, gt); !slices.Equal(got, []bool{false, false, true}) {
		t.Fatalf("> 1.5: %v", got)
	}
	if _, err := a.Compare(b, Compare(6)); !errors.Is(err, StatusInvalidArgument) {
		t.Fatalf("op 6: %v", err)
	}
	i := must(FromInt64([]int64{1, 2, 3}, 3))(t)
	if _, err := a.Compare(i, Eq); !errors.Is(err, StatusDType) {
		t.Fatalf("mixed dtypes: %v", err)
	}
	m := must(FromBool([]bool{true, true, false}, 3))(t)
	if got := bools(t, must(gt.LogicalAnd(m))(t)); !slices.Equal(got, []bool{false, false, false}) {
		t.Fatalf("and: %v", got)
	}
	if got := bools(t, must(gt.LogicalOr(m))(t)); !slices.Equal(got, []bool{true, true, true}) {
		t.Fatalf("or: %v", got)
	}
	if got := bools(t, must(m.LogicalNot())(t)); !slices.Equal(got, []bool{false, false, true}) {
		t.Fatalf("not: %v", got)
	}
	if _, err := a.LogicalNot(); !errors.Is(err, StatusDType) {
		t.Fatalf("not of float32: %v", err)
	}
}

func TestWhereAndMaskedFillWithGradients(t *testing.T) {
	cond := must(FromBool([]bool{true, false, true, false}, 2, 2))(t)
	a := must(FromFloat32([]float32{1, 2}, 2))(t)
	b := must(FromFloat32([]float32{10, 20, 30, 40}, 2, 2))(t)
	noErr(t, a.SetRequiresGrad(true))
	y := must(Where(cond, a, b))(t)
	near(t, floats(t, y), []float32{1, 20, 1, 40}, 0)
	noErr(t, y.Backward(must(Ones(Float32, 2, 2))(t), false))
	near(t, floats(t, must(a.Grad())(t)), []float32{2, 0}, 0)

	mask := must(FromBool([]bool{false, true}, 2))(t)
	x := must(FromFloat32([]float32{1, 2, 3, 4}, 2, 2))(t)
	noErr(t, x.SetRequiresGrad(true))
	z := must(x.MaskedFill(mask, math.Inf(-1)))(t)
	got := floats(t, z)
	if got[0] != 1 || !math.IsInf(float64(got[1]), -1) || got[2] != 3 || !math.IsInf(float64(got[3]), -1) {
		t.Fatalf("masked_fill: %v", got)
	}
	noErr(t, z.Backward(must(Ones(Float32, 2, 2))(t), false))
	near(t, floats(t, must(x.Grad())(t)), []float32{1, 0, 1, 0}, 0)
	if _, err := Where(a, a, b); !errors.Is(err, StatusDType) {
		t.Fatalf("float32 condition: %v", err)
	}
	if _, err := x.MaskedFill(must(FromBool([]bool{true, false, true}, 3))(t), 0); !errors.Is(err, StatusShape) {
		t.Fatalf("mask of the wrong shape: %v", err)
	}
}
