//! Thin main: parse the command line, start logging, run the command, map the outcome to an
//! exit code.

use std::io::IsTerminal;
use std::process::ExitCode;

use clap::Parser;
use flexiti_recon::cli::{Cli, LogFormat};
use flexiti_recon::{app, exit::Exit, telemetry};

// A run allocates and frees millions of small strings: with the system allocator, freeing them
// (consolidating freed chunks) cost a fifth of a large reconciliation; mimalloc far less.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// mimalloc hands freed memory back to the kernel after a short delay. A reconciliation frees
/// and allocates gigabytes in bursts, and every page handed back is faulted in and zeroed again
/// when reused: measured at 1M rows, a third of the wall time went to the kernel zeroing pages.
/// Freed memory is kept and reused instead (peak RSS moved by a few percent). `MIMALLOC_PURGE_DELAY`
/// in the environment still wins, since this only sets the default.
fn keep_freed_memory() {
    // `mi_option_purge_delay` in mimalloc.h (v2 and v3); the binding does not name it.
    const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;
    // SAFETY: sets one integer option at start-up, before any other thread exists; mimalloc
    // allows options to be set at any time and reads them with atomics.
    #[allow(unsafe_code)]
    unsafe {
        libmimalloc_sys::mi_option_set_default(MI_OPTION_PURGE_DELAY, -1);
    }
}

fn main() -> ExitCode {
    keep_freed_memory();
    let cli = Cli::parse();
    telemetry::init(cli.log_format, cli.verbose);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(Exit::Fatal.code());
        }
    };
    let log_format = cli.log_format;
    let interactive = log_format == LogFormat::Human && std::io::stderr().is_terminal();
    match runtime.block_on(app::dispatch(cli.command, interactive)) {
        Ok(exit) => ExitCode::from(exit.code()),
        Err(e) => {
            // Said once: as a JSON log event for log pipelines, else as one `error:` line.
            match log_format {
                LogFormat::Json => tracing::error!(exit = e.exit.code(), "{e}"),
                LogFormat::Human => {
                    eprintln!("error: {}", flexiti_recon::redact::text(&e.to_string()))
                }
            }
            ExitCode::from(e.exit.code())
        }
    }
}
