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
    ///
    /// The `baton` executable runs on mimalloc (`CMimalloc`), which returns freed pages
    /// itself, so there this gives back next to nothing. Measured (three bursts of 300
    /// workflows with 100 KB args each, RSS 3 s after each): mimalloc 57, 59, 58 MiB;
    /// glibc with this trim 47, 47, 47 MiB. Flat on both; mimalloc's ~10 MiB more is its
    /// per-thread segments. Its `mi_collect(true)` here changed nothing measurable, so it
    /// is not called. The tests' processes (in-process brokers) run on glibc.
    static func returnFreeMemory() {
        #if canImport(Glibc)
        _ = malloc_trim(0)
        #endif
    }
}
