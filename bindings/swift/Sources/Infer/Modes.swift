import CInfer

// Grad mode and inference mode are per OS thread in the library. `body` is synchronous, so it runs
// entirely on the calling thread, between the enter and the exit; the exit also runs when body
// throws. (An async function may hop threads at each `await`, which is why no async variant is
// offered: enter and exit must happen on the same thread.)

/// Runs `body` with inference mode on: nothing is recorded and new tensors are inference tensors.
public func withInferenceMode<R>(_ body: () throws -> R) throws -> R {
    try check(rt_inference_mode_enter(true))
    defer { _ = rt_inference_mode_exit() }
    return try body()
}

/// Runs `body` with grad mode off (torch.no_grad).
public func withNoGrad<R>(_ body: () throws -> R) throws -> R {
    try check(rt_grad_mode_enter(false))
    defer { _ = rt_grad_mode_exit() }
    return try body()
}

public func isGradEnabled() -> Bool { rt_is_grad_enabled() }
public func isInferenceModeEnabled() -> Bool { rt_is_inference_mode_enabled() }

/// Seeds the process-wide generator.
public func manualSeed(_ seed: UInt64) { rt_manual_seed(seed) }

/// Bytes of tensor storage the library currently holds.
public func liveBytes() throws -> UInt64 {
    var stats = rt_memory_stats()
    try check(rt_memory_stats_get(&stats))
    return stats.live_bytes
}
