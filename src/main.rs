//! The `tp` command line: argument parsing and output only; the work is in the library.

use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;

/// tp — a Tensor Program engine and simulator.
///
/// Describe a network and its SGD steps in a `.tp` file; tp elaborates it into a
/// Tensor Program (forward pass, backward pass, unrolled updates as outer products).
#[derive(Parser)]
#[command(name = "tp", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Print the elaborated Tensor Program: one instruction per line with its width factor.
    Show(ShowArgs),
}

/// Options shared by every subcommand.
#[derive(Args)]
struct Common {
    /// The `.tp` program to analyse.
    file: PathBuf,
    /// Override a parameter or activation, e.g. `--set L=5 --set act=relu` (repeatable).
    #[arg(long = "set", value_name = "NAME=VALUE")]
    set: Vec<String>,
    /// Print JSON instead of text.
    #[arg(long)]
    json: bool,
}

#[derive(Args)]
struct ShowArgs {
    #[command(flatten)]
    common: Common,
}

fn run(cli: Cli) -> Result<(), tp::TpError> {
    match cli.command {
        Command::Show(args) => {
            let overrides = tp::parse_overrides(&args.common.set)?;
            let program = tp::load(&args.common.file, &overrides)?;
            if args.common.json {
                let value = tp::ir::program_to_json(&program);
                println!(
                    "{}",
                    serde_json::to_string_pretty(&value).unwrap_or_default()
                );
            } else {
                print!("{}", tp::ir::render_program(&program));
            }
            Ok(())
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("{e}");
            ExitCode::from(e.exit_code() as u8)
        }
    }
}
