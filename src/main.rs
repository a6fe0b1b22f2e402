//! The `ovlt` binary: parse the command line and hand over to `ovlt::cli`.

use clap::Parser;

// Argon2id allocates 19 MiB per hash; glibc's allocator keeps those pages and the resident set
// balloons (177 MB after ten hashes, measured), mimalloc returns them (27 MB).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    without_transparent_huge_pages();
    ovlt::cli::Cli::parse().run()
}

/// Linux backs large aligned regions with 2 MiB transparent huge pages, and mimalloc's arenas
/// are such regions: an idle server held 40–44 MB resident with them and 31 MB without
/// (README "Configuration"; throughput the same within this machine's noise). Turned off for
/// this process before it maps much: the kernel checks the flag at each page fault, so what
/// mimalloc reserved before `main` is covered too. `MIMALLOC_ALLOW_THP=1` keeps them.
fn without_transparent_huge_pages() {
    #[cfg(target_os = "linux")]
    if std::env::var_os("MIMALLOC_ALLOW_THP").is_none() {
        // SAFETY: a plain syscall that sets a flag of this process; no memory is passed.
        unsafe {
            libc::prctl(libc::PR_SET_THP_DISABLE, 1, 0, 0, 0);
        }
    }
}
