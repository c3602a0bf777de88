//! The allocator every srs process uses.
//!
//! glibc's malloc cost a fifth of a cached read's CPU in the servers
//! (`perf`: malloc, free and the consolidation of its bins on every
//! request of the signed-in list), and kept an arena of freed memory per
//! busy thread unless MALLOC_ARENA_MAX bounded it, which made allocation
//! contend on a lock. mimalloc keeps a heap per thread and hands freed
//! pages back to the system on its own.

/// The global allocator.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;
