package infer

// #include "shim.h"
import "C"

// Layers beyond Linear and the activations, with PyTorch's initialisation and state_dict names.

// Conv2d is a 2-D convolution layer (weight (out, in, k, k), bias (out) when bias is set).
func Conv2d(inChannels, outChannels, kernelSize, stride, padding int64, bias bool) (*Module, error) {
	return newModule(func(out **C.rt_module, m cmsg) C.rt_status {
		return C.go_rt_module_conv2d(C.int64_t(inChannels), C.int64_t(outChannels), C.int64_t(kernelSize),
			C.int64_t(stride), C.int64_t(padding), C.bool(bias), out, m)
	})
}

// BatchNorm1d normalises (N, C) or (N, C, L) inputs (PyTorch's defaults: eps 1e-5, momentum 0.1).
func BatchNorm1d(numFeatures int64, eps, momentum float64) (*Module, error) {
	return newModule(func(out **C.rt_module, m cmsg) C.rt_status {
		return C.go_rt_module_batch_norm1d(C.int64_t(numFeatures), C.double(eps), C.double(momentum), out, m)
	})
}

// BatchNorm2d normalises (N, C, H, W) inputs.
func BatchNorm2d(numFeatures int64, eps, momentum float64) (*Module, error) {
	return newModule(func(out **C.rt_module, m cmsg) C.rt_status {
		return C.go_rt_module_batch_norm2d(C.int64_t(numFeatures), C.double(eps), C.double(momentum), out, m)
	})
}

// LayerNorm normalises over the trailing dims normalizedShape, with an affine weight and bias.
func LayerNorm(normalizedShape []int64, eps float64) (*Module, error) {
	s, n := dims(normalizedShape)
	return newModule(func(out **C.rt_module, m cmsg) C.rt_status {
		return C.go_rt_module_layer_norm(s, n, C.double(eps), out, m)
	})
}

// Dropout zeroes with probability p in training mode and is the identity in eval mode.
func Dropout(p float64) (*Module, error) {
	return newModule(func(out **C.rt_module, m cmsg) C.rt_status { return C.go_rt_module_dropout(C.double(p), out, m) })
}

// MaxPool2d pools with a square window; stride 0 means kernelSize.
func MaxPool2d(kernelSize, stride int64) (*Module, error) {
	return newModule(func(out **C.rt_module, m cmsg) C.rt_status {
		return C.go_rt_module_max_pool2d(C.int64_t(kernelSize), C.int64_t(stride), out, m)
	})
}

// Flatten flattens dims startDim..endDim (nn.Flatten's defaults are 1, -1).
func Flatten(startDim, endDim int64) (*Module, error) {
	return newModule(func(out **C.rt_module, m cmsg) C.rt_status {
		return C.go_rt_module_flatten(C.int64_t(startDim), C.int64_t(endDim), out, m)
	})
}

// Embedding maps int64 indices to rows of a (numEmbeddings, dim) weight drawn from N(0, 1).
func Embedding(numEmbeddings, dim int64) (*Module, error) {
	return newModule(func(out **C.rt_module, m cmsg) C.rt_status {
		return C.go_rt_module_embedding(C.int64_t(numEmbeddings), C.int64_t(dim), out, m)
	})
}

// Softmax is a softmax layer over dim.
func Softmax(dim int64) (*Module, error) {
	return newModule(func(out **C.rt_module, m cmsg) C.rt_status { return C.go_rt_module_softmax(C.int64_t(dim), out, m) })
}
