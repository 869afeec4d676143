//! The `shulian` command.

use std::process::ExitCode;

use clap::Parser as _;

#[tokio::main]
async fn main() -> ExitCode {
    let cli = shulian::cli::Cli::parse();
    shulian::cli::run(cli).await
}
