#ifndef BATON_CLIBC_SHIM_H
#define BATON_CLIBC_SHIM_H
// libc declarations that Swift's Glibc module does not export, and one-line helpers.
#include <stdlib.h>   // defines __GLIBC__ on glibc systems
#if defined(__GLIBC__)
#include <malloc.h>   // malloc_trim: give freed heap back to the OS (glibc only)
#endif
#include <stdio.h>

// Line-buffers standard output (live output when it is a file or a pipe). Swift 6 sees
// the C global `stdout` as shared mutable state; touching it here keeps the CLI strict.
static inline void baton_line_buffer_stdout(void) { setvbuf(stdout, NULL, _IOLBF, 0); }
#endif
