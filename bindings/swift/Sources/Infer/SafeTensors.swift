import CInfer
import Foundation

/// An opened safetensors file: read and validated whole when opened, held in memory until deinit.
/// Tensors returned by `tensor(named:)` are independent of it and outlive it.
public final class SafeTensors {
    /// The `rt_safetensors *` handle, owned by this object.
    public let handle: OpaquePointer

    /// Reads the file at `path` (`.io` when it cannot be read, `.format` when it is malformed).
    public init(path: String) throws {
        var out: OpaquePointer? = nil
        try check(rt_safetensors_open(path, &out))
        handle = out!
    }

    deinit { _ = rt_safetensors_free(handle) }

    /// The names of the tensors in the file, sorted byte-wise.
    public func names() throws -> [String] {
        var count = 0
        try check(rt_safetensors_count(handle, &count))
        return try (0..<count).map { index in
            try readName { rt_safetensors_name(handle, index, $0, $1, $2) }
        }
    }

    /// A new tensor with the values stored under `name` (F32 and I64 as such, other integer types
    /// as I64, other float types as F32).
    public func tensor(named name: String) throws -> Tensor {
        try Tensor.make { rt_safetensors_get(handle, name, $0) }
    }

    /// Writes `tensors` under their keys to `path`, atomically (a temporary file renamed into place).
    public static func save(_ tensors: [String: Tensor], to path: String) throws {
        let keys = tensors.keys.sorted()
        let names = keys.map { strdup($0) }
        defer { names.forEach { free($0) } }
        let cNames: [UnsafePointer<CChar>?] = names.map { UnsafePointer($0) }
        let handles: [OpaquePointer?] = keys.map { tensors[$0]!.handle }
        try cNames.withUnsafeBufferPointer { n in
            try handles.withUnsafeBufferPointer { h in
                try check(rt_safetensors_save(path, n.baseAddress, h.baseAddress, h.count))
            }
        }
    }
}

/// A name read through an `rt_*_name` function: the length first, then the whole name.
func readName(_ body: (UnsafeMutablePointer<CChar>?, Int, UnsafeMutablePointer<Int>) -> rt_status) throws -> String {
    var length = 0
    let first = body(nil, 0, &length)
    if first != rt_status(RT_ERR_BUFFER_TOO_SMALL) { try check(first) }
    var buffer = [CChar](repeating: 0, count: length + 1)
    let capacity = buffer.count
    try buffer.withUnsafeMutableBufferPointer { b in try check(body(b.baseAddress, capacity, &length)) }
    return buffer.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
}
