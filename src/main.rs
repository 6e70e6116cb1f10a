//! The `lagwatch` binary: parse the command line and run.

// jemalloc instead of glibc malloc: each poll frees and rebuilds a snapshot and a view on
// whichever tokio worker or blocking-pool thread runs it, and glibc keeps those freed pages
// in every thread's arena, which held steady RSS at the large size (10,000 partitions, 1,000
// groups) far above the 40 MiB target. mimalloc (v3) measured worse than glibc.
#[global_allocator]
static GLOBAL: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

// A background thread returns freed pages to the OS about a second after they go dirty,
// whether or not the arena that freed them allocates again. One arena instead of 4 per CPU:
// lagwatch allocates from a handful of threads, and every extra arena keeps its own partly
// used pages (steady RSS at the large size 45 -> 41 MiB; CPU within run-to-run noise).
// Thread caches stay on: without them steady RSS was 2 MiB lower but rendering the large
// /metrics body took twice as long (p50 11 -> 21 ms, p99 21 -> 58 ms).
// jemalloc reads this symbol at start; it is a plain C string, nothing runs.
#[allow(unsafe_code)]
#[export_name = "_rjem_malloc_conf"]
pub static MALLOC_CONF: &[u8] =
    b"narenas:1,background_thread:true,dirty_decay_ms:1000,muzzy_decay_ms:0\0";

fn main() -> std::process::ExitCode {
    lagwatch::cli::main()
}
