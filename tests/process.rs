//! How the binary sets up its own process, read back from the kernel: no transparent huge pages
//! unless `MIMALLOC_ALLOW_THP` asks for them (README, "Performance").

mod common;

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::BIN;

/// The sandbox server: a command of the binary that runs until it is stopped.
fn long_running(allow_thp: Option<&str>) -> Child {
    let mut command = Command::new(BIN);
    command
        .args(["sandbox", "serve", "--data-dir", "samples", "--port", "0"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env_remove("MIMALLOC_ALLOW_THP")
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    if let Some(value) = allow_thp {
        command.env("MIMALLOC_ALLOW_THP", value);
    }
    command.spawn().expect("start the binary")
}

/// `THP_enabled` of the process's `/proc/<pid>/status` once its `main` has begun: the binary
/// sets it first thing, before it starts the runtime's threads, so more than one thread means
/// it is set.
fn thp_enabled(child: &mut Child) -> String {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        assert!(
            child.try_wait().expect("poll the binary").is_none(),
            "the sandbox server exited"
        );
        assert!(
            Instant::now() < deadline,
            "the binary never started its threads"
        );
        let status = std::fs::read_to_string(format!("/proc/{}/status", child.id()))
            .expect("read the process status");
        let field = |name: &str| {
            status
                .lines()
                .find_map(|line| line.strip_prefix(name))
                .map(|v| v.trim().to_string())
        };
        let threads: u32 = field("Threads:")
            .and_then(|t| t.parse().ok())
            .expect("the kernel reports Threads");
        if threads > 1 {
            return field("THP_enabled:").expect("the kernel reports THP_enabled");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[cfg(target_os = "linux")]
#[test]
fn the_binary_runs_without_transparent_huge_pages_unless_told_to_keep_them() {
    for (allow, expected) in [(None, "0"), (Some("0"), "0"), (Some("1"), "1")] {
        let mut child = long_running(allow);
        let enabled = thp_enabled(&mut child);
        child.kill().expect("stop the binary");
        child.wait().expect("reap the binary");
        assert_eq!(enabled, expected, "MIMALLOC_ALLOW_THP={allow:?}");
    }
}
