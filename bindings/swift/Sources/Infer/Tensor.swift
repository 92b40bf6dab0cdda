import CInfer

/// Element type of a tensor.
public enum DType: UInt32 {
    case f32 = 0 // RT_DTYPE_F32
    case i64 = 1 // RT_DTYPE_I64
}

typealias Out = UnsafeMutablePointer<OpaquePointer?>

/// An n-dimensional array of Float or Int64 values with autograd. Owns one library handle,
/// released in deinit.
public final class Tensor {
    /// The `rt_tensor *` handle, owned by this object.
    public let handle: OpaquePointer

    /// Takes ownership of a handle returned by the C API.
    public init(owning handle: OpaquePointer) { self.handle = handle }

    deinit { _ = rt_tensor_free(handle) }

    /// Runs a C function that writes a new tensor handle to its last argument.
    static func make(_ body: (Out) -> rt_status) throws -> Tensor {
        var out: OpaquePointer? = nil
        try check(body(&out))
        return Tensor(owning: out!)
    }

    /// Like make, for functions that may return no tensor (rt_tensor_grad).
    static func makeOptional(_ body: (Out) -> rt_status) throws -> Tensor? {
        var out: OpaquePointer? = nil
        try check(body(&out))
        return out.map { Tensor(owning: $0) }
    }

    // MARK: factories

    public static func zeros(_ shape: [Int64], dtype: DType = .f32) throws -> Tensor {
        try shape.withUnsafeBufferPointer { s in
            try make { rt_tensor_zeros(s.baseAddress, s.count, dtype.rawValue, $0) }
        }
    }

    public static func ones(_ shape: [Int64], dtype: DType = .f32) throws -> Tensor {
        try shape.withUnsafeBufferPointer { s in
            try make { rt_tensor_ones(s.baseAddress, s.count, dtype.rawValue, $0) }
        }
    }

    public static func full(_ shape: [Int64], value: Double, dtype: DType = .f32) throws -> Tensor {
        try shape.withUnsafeBufferPointer { s in
            try make { rt_tensor_full(s.baseAddress, s.count, value, dtype.rawValue, $0) }
        }
    }

    /// Samples of N(0, 1) from the process-wide generator.
    public static func randn(_ shape: [Int64]) throws -> Tensor {
        try shape.withUnsafeBufferPointer { s in try make { rt_tensor_randn(s.baseAddress, s.count, $0) } }
    }

    /// Copies `data` (row-major) into a new F32 tensor.
    public static func from(_ data: [Float], shape: [Int64]) throws -> Tensor {
        try fromData(data, dtype: .f32, shape: shape)
    }

    /// Copies `data` (row-major) into a new I64 tensor.
    public static func from(_ data: [Int64], shape: [Int64]) throws -> Tensor {
        try fromData(data, dtype: .i64, shape: shape)
    }

    static func fromData<T>(_ data: [T], dtype: DType, shape: [Int64]) throws -> Tensor {
        try data.withUnsafeBytes { bytes in
            try shape.withUnsafeBufferPointer { s in
                try make { rt_tensor_from_data(bytes.baseAddress, bytes.count, dtype.rawValue, s.baseAddress, s.count, $0) }
            }
        }
    }

    // MARK: inspection

    public func shape() throws -> [Int64] {
        var dims = [Int64](repeating: 0, count: Int(RT_MAX_DIMS))
        let capacity = dims.count
        var n = 0
        try check(rt_tensor_shape(handle, &dims, capacity, &n))
        return Array(dims[0..<n])
    }

    public func numel() throws -> Int {
        var n = 0
        try check(rt_tensor_numel(handle, &n))
        return n
    }

    public func dtype() throws -> DType {
        var d: rt_dtype = 0
        try check(rt_tensor_dtype(handle, &d))
        return DType(rawValue: d)!
    }

    public func item() throws -> Double {
        var v = 0.0
        try check(rt_tensor_item(handle, &v))
        return v
    }

    public func requiresGrad() throws -> Bool {
        var v = false
        try check(rt_tensor_requires_grad(handle, &v))
        return v
    }

    public func setRequiresGrad(_ requiresGrad: Bool = true) throws {
        try check(rt_tensor_set_requires_grad(handle, requiresGrad))
    }

    /// Whether the tensor was allocated in inference mode.
    public func isInference() throws -> Bool {
        var v = false
        try check(rt_tensor_is_inference(handle, &v))
        return v
    }

    /// The elements of an F32 tensor, row-major.
    public func floats() throws -> [Float] { try elements(Float.self, .f32) }

    /// The elements of an I64 tensor, row-major.
    public func int64s() throws -> [Int64] { try elements(Int64.self, .i64) }

    func elements<T: Numeric>(_: T.Type, _ want: DType) throws -> [T] {
        guard try dtype() == want else {
            throw InferError(status: .dtype, message: "the tensor's dtype is not \(want); convert it first")
        }
        let n = try numel()
        if n == 0 { return [] }
        var out = [T](repeating: 0, count: n)
        let nbytes = n * MemoryLayout<T>.stride
        try out.withUnsafeMutableBytes { raw in try check(rt_tensor_copy_to(handle, raw.baseAddress, nbytes)) }
        return out
    }

    // MARK: ops

    public func add(_ other: Tensor) throws -> Tensor { try Tensor.make { rt_tensor_add(handle, other.handle, $0) } }
    public func sub(_ other: Tensor) throws -> Tensor { try Tensor.make { rt_tensor_sub(handle, other.handle, $0) } }
    public func mul(_ other: Tensor) throws -> Tensor { try Tensor.make { rt_tensor_mul(handle, other.handle, $0) } }
    public func div(_ other: Tensor) throws -> Tensor { try Tensor.make { rt_tensor_div(handle, other.handle, $0) } }
    public func matmul(_ other: Tensor) throws -> Tensor { try Tensor.make { rt_tensor_matmul(handle, other.handle, $0) } }
    public func mul(_ s: Double) throws -> Tensor { try Tensor.make { rt_tensor_mul_scalar(handle, s, $0) } }
    public func pow(_ s: Double) throws -> Tensor { try Tensor.make { rt_tensor_pow_scalar(handle, s, $0) } }
    public func relu() throws -> Tensor { try Tensor.make { rt_tensor_relu(handle, $0) } }

    /// Softmax along `dim` (negative counts from the end).
    public func softmax(_ dim: Int64) throws -> Tensor { try Tensor.make { rt_tensor_softmax(handle, dim, $0) } }

    /// Mean cross-entropy of these logits (N, C) against I64 class indices (N); a 0-d tensor.
    public func crossEntropy(_ targets: Tensor) throws -> Tensor {
        try Tensor.make { rt_tensor_cross_entropy(handle, targets.handle, $0) }
    }

    /// Sum over `dims` (all dims, a 0-d result, when empty).
    public func sum(_ dims: [Int64] = [], keepdim: Bool = false) throws -> Tensor {
        try dims.withUnsafeBufferPointer { d in try Tensor.make { rt_tensor_sum(handle, d.baseAddress, d.count, keepdim, $0) } }
    }

    /// Mean over `dims` (all dims, a 0-d result, when empty).
    public func mean(_ dims: [Int64] = [], keepdim: Bool = false) throws -> Tensor {
        try dims.withUnsafeBufferPointer { d in try Tensor.make { rt_tensor_mean(handle, d.baseAddress, d.count, keepdim, $0) } }
    }

    /// Index of the first maximum along `dim`, as an I64 tensor.
    public func argmax(_ dim: Int64, keepdim: Bool = false) throws -> Tensor {
        try Tensor.make { rt_tensor_argmax(handle, dim, keepdim, $0) }
    }

    // MARK: autograd

    /// Backpropagates from this tensor; fails with `.inferenceMode` inside `withInferenceMode`.
    public func backward(_ grad: Tensor? = nil, retainGraph: Bool = false) throws {
        try check(rt_tensor_backward(handle, grad?.handle, retainGraph))
    }

    /// The accumulated gradient, or nil when there is none.
    public func grad() throws -> Tensor? { try Tensor.makeOptional { rt_tensor_grad(handle, $0) } }
}
