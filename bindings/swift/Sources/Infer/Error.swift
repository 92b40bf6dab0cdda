import CInfer

/// A library status code (`rt_status`).
public struct Status: RawRepresentable, Hashable, CustomStringConvertible {
    public let rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }

    public static let ok = Status(rawValue: UInt32(RT_OK))
    public static let nullArgument = Status(rawValue: UInt32(RT_ERR_NULL_ARGUMENT))
    public static let invalidArgument = Status(rawValue: UInt32(RT_ERR_INVALID_ARGUMENT))
    public static let invalidHandle = Status(rawValue: UInt32(RT_ERR_INVALID_HANDLE))
    public static let shape = Status(rawValue: UInt32(RT_ERR_SHAPE))
    public static let dtype = Status(rawValue: UInt32(RT_ERR_DTYPE))
    public static let autograd = Status(rawValue: UInt32(RT_ERR_AUTOGRAD))
    public static let inferenceMode = Status(rawValue: UInt32(RT_ERR_INFERENCE_MODE))
    public static let invalidState = Status(rawValue: UInt32(RT_ERR_INVALID_STATE))
    public static let io = Status(rawValue: UInt32(RT_ERR_IO))
    public static let format = Status(rawValue: UInt32(RT_ERR_FORMAT))
    public static let outOfMemory = Status(rawValue: UInt32(RT_ERR_OUT_OF_MEMORY))
    public static let unsupported = Status(rawValue: UInt32(RT_ERR_UNSUPPORTED))
    public static let bufferTooSmall = Status(rawValue: UInt32(RT_ERR_BUFFER_TOO_SMALL))
    public static let `internal` = Status(rawValue: UInt32(RT_ERR_INTERNAL))

    /// The library's static description of the status.
    public var description: String { String(cString: rt_status_str(rawValue)) }
}

/// A failed library call: its status and the library's message (naming the function, the
/// argument and the fix where there is one).
public struct InferError: Error, CustomStringConvertible {
    public let status: Status
    public let message: String
    public var description: String { "infer: \(message) (\(status))" }
}

/// This thread's last error message, whatever its length.
func lastErrorMessage() -> String {
    let length = rt_last_error_message(nil, 0)
    var buffer = [CChar](repeating: 0, count: length + 1)
    let capacity = buffer.count
    _ = rt_last_error_message(&buffer, capacity)
    return buffer.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
}

/// Throws unless `status` is RT_OK. The message is per thread; synchronous Swift code stays on
/// one thread, so reading it right after the failing call reads that call's message.
func check(_ status: rt_status) throws {
    guard status != 0 else { return }
    let message = lastErrorMessage()
    throw InferError(status: Status(rawValue: status),
                     message: message.isEmpty ? Status(rawValue: status).description : message)
}
