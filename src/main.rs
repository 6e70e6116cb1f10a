//! The `lagwatch` binary: the allocator, then the command line.

// jemalloc instead of glibc malloc: each poll frees and rebuilds a snapshot and a view on
// whichever thread runs it, and glibc keeps freed pages in every thread's arena. Its options
// are compiled in (.cargo/config.toml); BENCHMARKS.md has the measurements.
#[global_allocator]
static GLOBAL: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

fn main() -> std::process::ExitCode {
    lagwatch::cli::main()
}
