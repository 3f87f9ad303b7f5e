//! Running the `kdviz` binary from the integration tests: one place for the process plumbing.
#![allow(dead_code)] // each test file uses a different subset

use kdviz::gpu::{GpuContext, GpuError};
use std::io::Write as _;
use std::process::Command;
use std::sync::OnceLock;

/// Exit code, stdout and stderr of `kdviz args…` (a valid XDG_RUNTIME_DIR keeps the Vulkan
/// loader quiet on headless machines).
pub fn kdviz(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_kdviz"))
        .args(args)
        .env("XDG_RUNTIME_DIR", std::env::temp_dir())
        .output()
        .expect("run kdviz");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Stdout parsed as JSON, after asserting exit status 0.
pub fn json(args: &[&str]) -> serde_json::Value {
    let (code, stdout, stderr) = kdviz(args);
    assert_eq!(code, 0, "{args:?}: {stderr}");
    serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{args:?}: not JSON ({e}): {stdout}"))
}

/// Exit status 2, nothing on stdout, one line on stderr containing `needle`, and no panic; returns
/// that line for further checks.
pub fn fails(args: &[&str], needle: &str) -> String {
    let (code, stdout, stderr) = kdviz(args);
    assert_eq!(code, 2, "{args:?}: stdout {stdout} stderr {stderr}");
    assert!(stdout.is_empty(), "{args:?}: {stdout}");
    assert_eq!(stderr.trim_end().lines().count(), 1, "{args:?}: {stderr}");
    assert!(
        stderr.contains(needle),
        "{args:?}: {stderr:?} lacks {needle:?}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
    stderr
}

/// The GPU shared by a test binary's tests, or `None` after a visible SKIP line; with
/// `KDVIZ_REQUIRE_GPU=1` (set by `.ci/run`) a missing adapter fails the test instead.
pub fn gpu() -> Option<&'static GpuContext> {
    static CTX: OnceLock<Result<GpuContext, GpuError>> = OnceLock::new();
    match CTX.get_or_init(GpuContext::new) {
        Ok(c) => Some(c),
        Err(e) => {
            if std::env::var("KDVIZ_REQUIRE_GPU").as_deref() == Ok("1") {
                panic!("KDVIZ_REQUIRE_GPU=1 but no GPU device: {e}");
            }
            // Straight to stderr: the test harness captures println!, and this must be seen.
            let _ = writeln!(
                std::io::stderr(),
                "SKIP: no GPU adapter (set KDVIZ_REQUIRE_GPU=1 to fail instead) [{e}]"
            );
            None
        }
    }
}
