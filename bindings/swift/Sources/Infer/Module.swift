import CInfer

/// A layer or a container of layers. Owns one library handle, released in deinit; a container
/// keeps its own references to its children.
public final class Module {
    /// The `rt_module *` handle, owned by this object.
    public let handle: OpaquePointer

    public init(owning handle: OpaquePointer) { self.handle = handle }

    deinit { _ = rt_module_free(handle) }

    static func make(_ body: (UnsafeMutablePointer<OpaquePointer?>) -> rt_status) throws -> Module {
        var out: OpaquePointer? = nil
        try check(body(&out))
        return Module(owning: out!)
    }

    public static func linear(_ inFeatures: Int64, _ outFeatures: Int64, bias: Bool = true) throws -> Module {
        try make { rt_module_linear(inFeatures, outFeatures, bias, $0) }
    }

    public static func relu() throws -> Module { try make { rt_module_relu($0) } }
    public static func gelu() throws -> Module { try make { rt_module_gelu($0) } }
    public static func sigmoid() throws -> Module { try make { rt_module_sigmoid($0) } }
    public static func tanh() throws -> Module { try make { rt_module_tanh($0) } }

    /// Runs `children` in order (the caller's Module objects may be released afterwards).
    public static func sequential(_ children: [Module]) throws -> Module {
        let handles: [OpaquePointer?] = children.map { $0.handle }
        return try handles.withUnsafeBufferPointer { h in
            try make { rt_module_sequential(h.baseAddress, h.count, $0) }
        }
    }

    public func forward(_ input: Tensor) throws -> Tensor {
        try Tensor.make { rt_module_forward(handle, input.handle, $0) }
    }

    /// Training (true) or eval (false) mode, recursively.
    public func train(_ training: Bool = true) throws { try check(rt_module_train(handle, training)) }

    public func eval() throws { try train(false) }

    public func isTraining() throws -> Bool {
        var v = false
        try check(rt_module_is_training(handle, &v))
        return v
    }

    /// Names of the parameters and buffers, in PyTorch's state_dict order.
    public func stateDictNames() throws -> [String] {
        var count = 0
        try check(rt_module_num_tensors(handle, &count))
        return try (0..<count).map { try tensorName($0) }
    }

    func tensorName(_ index: Int) throws -> String {
        try readName { rt_module_tensor_name(handle, index, $0, $1, $2) }
    }

    /// A new handle to the module's own tensor `name` (same storage, grad and version).
    public func tensor(named name: String) throws -> Tensor {
        try Tensor.make { rt_module_get_tensor(handle, name, $0) }
    }

    /// Copies a safetensors file's tensors into the module's own, in place; everything is checked
    /// first, so a failed load changes nothing. `strict`: missing and unexpected keys are errors.
    public func loadSafetensors(_ path: String, strict: Bool = true) throws {
        try check(rt_module_load_safetensors(handle, path, strict))
    }

    /// Writes the state_dict (PyTorch's names) to `path`, atomically.
    public func saveSafetensors(_ path: String) throws { try check(rt_module_save_safetensors(handle, path)) }
}

/// SGD or Adam over a module's parameters. Owns one library handle, released in deinit.
public final class Optimizer {
    public let handle: OpaquePointer

    public init(owning handle: OpaquePointer) { self.handle = handle }

    deinit { _ = rt_optimizer_free(handle) }

    static func make(_ body: (UnsafeMutablePointer<OpaquePointer?>) -> rt_status) throws -> Optimizer {
        var out: OpaquePointer? = nil
        try check(body(&out))
        return Optimizer(owning: out!)
    }

    public static func sgd(_ module: Module, lr: Double, momentum: Double = 0, weightDecay: Double = 0) throws -> Optimizer {
        try make { rt_optimizer_sgd(module.handle, lr, momentum, weightDecay, $0) }
    }

    public static func adam(_ module: Module, lr: Double = 1e-3, beta1: Double = 0.9, beta2: Double = 0.999,
                            eps: Double = 1e-8, weightDecay: Double = 0) throws -> Optimizer {
        try make { rt_optimizer_adam(module.handle, lr, beta1, beta2, eps, weightDecay, $0) }
    }

    public func step() throws { try check(rt_optimizer_step(handle)) }
    public func zeroGrad() throws { try check(rt_optimizer_zero_grad(handle)) }
}
