//! The `ovlt` binary: parse the command line and hand over to `ovlt::cli`.

use clap::Parser;

fn main() -> std::process::ExitCode {
    ovlt::cli::Cli::parse().run()
}
