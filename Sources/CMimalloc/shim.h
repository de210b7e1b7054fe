#ifndef BATON_MIMALLOC_SHIM_H
#define BATON_MIMALLOC_SHIM_H
// mimalloc (libmimalloc-dev), the `baton` executable's allocator. Linking it is what
// makes it the process's malloc: libmimalloc.so defines malloc, free and the rest, and
// comes before libc in the executable's needed libraries, so every library's calls
// (the Swift runtime's, SQLite's, libzmq's) bind to it. `ProcessAllocator` checks that.
#include <mimalloc.h>
#endif
