//! The `ovlt` binary: parse the command line and hand over to `ovlt::cli`.

use clap::Parser;

// Argon2id allocates 19 MiB per hash; glibc's allocator keeps those pages and the resident set
// balloons (177 MB after ten hashes, measured), mimalloc returns them (27 MB).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    ovlt::cli::Cli::parse().run()
}
