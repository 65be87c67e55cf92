//! `parapheur`: the one binary. Parses the command line and hands over to the commands.

mod archives;
mod backup;
mod bench;
mod capture;
mod cli;
mod commands;
mod contacts;
mod memory;
mod output;
mod portability;
mod signing;
mod target;
mod tokens;
mod webhooks;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    let server = matches!(
        cli.command,
        cli::Command::Serve { .. } | cli::Command::Demo { .. }
    );
    if server {
        memory::fix_allocator_thresholds();
    }
    output::init_tracing(cli.verbose, server, cli.log_format);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("erreur : démarrage impossible : {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(commands::run(cli)) {
        Ok(code) => code,
        Err(e) => {
            output::print_error(&e);
            ExitCode::from(output::exit_code(&e))
        }
    }
}
