#if canImport(Glibc)
import CBatonLibc
#endif

/// The process heap.
enum ProcessHeap {
    /// Gives freed heap memory back to the OS.
    ///
    /// Why: glibc keeps what a burst freed (in the main arena and in the committer
    /// thread's) and reuses it only for allocations that fit the holes, so after each
    /// burst of workflows the broker's RSS stayed a few MiB higher than after the last
    /// one, though nothing was still allocated. The broker calls this when it goes idle.
    /// A few milliseconds on a large heap; a no-op where glibc is not the allocator.
    static func returnFreeMemory() {
        #if canImport(Glibc)
        _ = malloc_trim(0)
        #endif
    }
}
