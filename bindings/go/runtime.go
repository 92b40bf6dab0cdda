package infer

// #include "shim.h"
import "C"

// MemoryStats is the process-wide accounting of tensor storage the library owns.
type MemoryStats struct {
	LiveBytes  uint64 // storage of live tensors (not caches or kernel scratch)
	PeakBytes  uint64 // max of LiveBytes since the last ResetPeakMemory
	AllocCount uint64 // storage allocations since start
}

// GetMemoryStats reads the library's memory accounting.
func GetMemoryStats() (MemoryStats, error) {
	var s C.rt_memory_stats
	err := call(func(m cmsg) C.rt_status { return C.go_rt_memory_stats_get(&s, m) })
	return MemoryStats{uint64(s.live_bytes), uint64(s.peak_bytes), uint64(s.alloc_count)}, err
}

// ResetPeakMemory sets PeakBytes to LiveBytes.
func ResetPeakMemory() { C.rt_memory_reset_peak() }

// SetNumThreads sets the library's worker thread count (0 = one per core).
func SetNumThreads(n int) error {
	if n < 0 {
		return &Error{Status: StatusInvalidArgument, Message: "SetNumThreads: n is negative; pass 0 for one thread per core"}
	}
	return call(func(m cmsg) C.rt_status { return C.go_rt_set_num_threads(C.size_t(n), m) })
}

// NumThreads is the library's worker thread count.
func NumThreads() int { return int(C.rt_get_num_threads()) }

// Version is the library version string.
func Version() string { return C.GoString(C.rt_version_string()) }

// ABIVersion is the C ABI version the loaded library implements.
func ABIVersion() uint32 { return uint32(C.rt_abi_version()) }
