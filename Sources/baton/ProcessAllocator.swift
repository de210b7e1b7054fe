import CMimalloc
import Foundation

/// The process's allocator: mimalloc, which this executable links (`CMimalloc`), when it
/// is the one that serves `malloc`.
///
/// Why a check: linking libmimalloc makes it the process's malloc only while it comes
/// before libc in the executable's needed libraries (ELF symbol interposition: the first
/// library that defines `malloc` serves every library's calls). A link that put libc
/// first would run on glibc's malloc without a word, ~20k instructions per one-job
/// workflow slower; the broker says at start which allocator it runs on.
enum ProcessAllocator {
    /// mimalloc's version ("2.0.9") when a block from `malloc` lies in mimalloc's heap;
    /// nil when another allocator serves `malloc`.
    static var mimallocVersion: String? {
        guard let block = malloc(64) else { return nil }
        defer { free(block) }
        guard mi_is_in_heap_region(block) else { return nil }
        let v = Int(mi_version())  // MI_MALLOC_VERSION: 209 for 2.0.9
        return "\(v / 100).\(v / 10 % 10).\(v % 10)"
    }

    /// The broker's warning when `mimallocVersion` is nil.
    static let glibcDescription = "the C library's malloc (mimalloc is linked but does not serve malloc: the link put libc first)"
}
