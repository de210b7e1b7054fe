#ifndef BATON_SQLITE_SHIM_H
#define BATON_SQLITE_SHIM_H
// SQLite's process-wide settings. sqlite3_config is variadic, which Swift cannot call.
#include <sqlite3.h>

// SQLITE_CONFIG_MEMSTATUS: whether SQLite counts its memory (sqlite3_memory_used and
// the soft and hard heap limits). Only before SQLite is initialized: SQLITE_MISUSE after.
static inline int baton_sqlite_config_memstatus(int on) { return sqlite3_config(SQLITE_CONFIG_MEMSTATUS, on); }
#endif
