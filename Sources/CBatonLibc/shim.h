#ifndef BATON_CLIBC_SHIM_H
#define BATON_CLIBC_SHIM_H
// libc declarations that Swift's Glibc module does not export. Headers only: no code.
#include <stdlib.h>   // defines __GLIBC__ on glibc systems
#if defined(__GLIBC__)
#include <malloc.h>   // malloc_trim: give freed heap back to the OS (glibc only)
#endif
#endif
