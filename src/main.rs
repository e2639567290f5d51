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
/// Freed memory is kept and reused instead, except while the inputs are read and keyed, which
/// free most of what they allocate (`src/memory.rs`). `MIMALLOC_PURGE_DELAY` in the environment
/// still wins, since this only sets the default.
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

/// Asks Linux for no transparent huge pages in this process (`prctl(PR_SET_THP_DISABLE)`).
/// mimalloc maps its memory for them, and the kernel zeroes each 2 MiB page as a whole on its
/// first touch: measured on the 1M-row reconciliation on a virtual machine, that took 0.7 to
/// 2.3 s of kernel time against 0.4 to 0.55 s with ordinary pages, and 0.15 to 1 s of wall time
/// (README, "Performance"). `MIMALLOC_ALLOW_THP=1` in the environment keeps them.
fn no_transparent_huge_pages() {
    let keep = std::env::var("MIMALLOC_ALLOW_THP").is_ok_and(|v| {
        ["1", "true", "on", "yes"]
            .iter()
            .any(|yes| v.trim().eq_ignore_ascii_case(yes))
    });
    if keep {
        return;
    }
    #[cfg(target_os = "linux")]
    // SAFETY: a plain prctl on this process with integer arguments; it touches no memory of
    // ours. Its failure (an old kernel) leaves the pages as they were, which is harmless.
    #[allow(unsafe_code)]
    unsafe {
        libc::prctl(libc::PR_SET_THP_DISABLE, 1, 0, 0, 0);
    }
}

fn main() -> ExitCode {
    no_transparent_huge_pages();
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
