use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    warden::run(warden::Cli::parse())
}
