package llama

import (
	"io"

	infer "github.com/libinfer/infer-go"
)

// chain runs a function's library calls one after the other in the manner of bufio.Scanner: the
// first error is kept and later calls, handed nil objects, fail harmlessly without being looked
// at. close releases every tensor and module the chain kept, so their memory returns to the
// library at once rather than when Go's collector finds them.
type chain struct {
	err  error
	kept []io.Closer
}

func (c *chain) check(err error) {
	if c.err == nil {
		c.err = err
	}
}

// t keeps a new tensor (to close with the chain) and returns it (nil after an error).
func (c *chain) t(x *infer.Tensor, err error) *infer.Tensor {
	c.check(err)
	if x != nil {
		c.kept = append(c.kept, x)
	}
	return x
}

// m keeps a new module handle and returns it.
func (c *chain) m(x *infer.Module, err error) *infer.Module {
	c.check(err)
	if x != nil {
		c.kept = append(c.kept, x)
	}
	return x
}

func (c *chain) close() {
	for i := len(c.kept) - 1; i >= 0; i-- {
		c.kept[i].Close()
	}
	c.kept = nil
}

// result is a forward's return: the tensor x (not kept) or the chain's first error.
func (c *chain) result(x *infer.Tensor, err error) (*infer.Tensor, error) {
	c.check(err)
	if c.err != nil {
		x.Close()
		return nil, c.err
	}
	return x, nil
}

// module is a constructor's return: m, or the chain's first error (m closed).
func (c *chain) module(m *infer.Module) (*infer.Module, error) {
	if c.err != nil {
		m.Close()
		return nil, c.err
	}
	return m, nil
}
