//! What the program prints: messages for people (French), JSON for scripts, logs on stderr.

use indicatif::{ProgressBar, ProgressStyle};
use serde::Serialize;

/// How log lines are written (`--log-format`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

/// Logs on stderr. A server (`serve`, `demo`) also logs the use cases' info lines and
/// spans (commune, actor), so that each warning says which request and which use case it
/// came from; the other commands stay quiet but for warnings.
/// `--log-format json` writes one JSON object per line (time, level, target, fields, the
/// request's span), for a log collector.
pub fn init_tracing(verbose: bool, server: bool, format: LogFormat) {
    let default = if verbose {
        "info,parapheur=debug"
    } else if server {
        "warn,parapheur_web=info,parapheur_app=info"
    } else {
        "warn,parapheur_web=info"
    };
    let mut filter = tracing_subscriber::EnvFilter::try_from_env("PARAPHEUR_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    // async-imap writes the raw LOGIN command, password included, at trace level: never
    // let it below info, whatever PARAPHEUR_LOG says (secrets are never logged).
    for quiet in ["async_imap=info", "imap_proto=info"] {
        if let Ok(directive) = quiet.parse() {
            filter = filter.add_directive(directive);
        }
    }
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().with_current_span(true).init(),
    }
}

/// Prints an error and its causes, one per line.
pub fn print_error(err: &anyhow::Error) {
    eprintln!("erreur : {err}");
    if let Some(parapheur_app::AppError::UnknownDoctype(_)) = err.downcast_ref() {
        eprintln!("  « parapheur doctype list » donne les codes");
    }
    for cause in err.chain().skip(1) {
        let text = cause.to_string();
        if !err.to_string().contains(&text) {
            eprintln!("  cause : {text}");
        }
    }
}

/// The exit code of a failed command, from the kind of its error: 1 for what the person
/// can correct (and every refusal of the command line itself), 75 for a service or resource
/// not available now (try again later), 70 for a fault.
pub fn exit_code(err: &anyhow::Error) -> u8 {
    err.chain()
        .find_map(|cause| cause.downcast_ref::<parapheur_app::AppError>())
        .map_or(1, |e| e.kind().exit_code())
}

pub fn json<T: Serialize>(value: &T) -> anyhow::Result<()> {
    println!("{}", serde_json::to_string_pretty(value)?);
    Ok(())
}

/// A progress bar on stderr, hidden when `quiet` or when stderr is not a terminal.
pub fn progress(len: u64, message: &'static str, quiet: bool) -> ProgressBar {
    if quiet {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(len);
    if let Ok(style) = ProgressStyle::with_template("{msg} [{bar:30}] {pos}/{len} ({eta})") {
        bar.set_style(style.progress_chars("=> "));
    }
    bar.set_message(message);
    bar
}
