//! Running the `kdviz` binary from the integration tests: one place for the process plumbing.
#![allow(dead_code)] // each test file uses a different subset

use std::process::Command;

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

/// Exit status 2, nothing on stdout, one line on stderr containing `needle`, and no panic.
pub fn fails(args: &[&str], needle: &str) {
    let (code, stdout, stderr) = kdviz(args);
    assert_eq!(code, 2, "{args:?}: stdout {stdout} stderr {stderr}");
    assert!(stdout.is_empty(), "{args:?}: {stdout}");
    assert_eq!(stderr.trim_end().lines().count(), 1, "{args:?}: {stderr}");
    assert!(
        stderr.contains(needle),
        "{args:?}: {stderr:?} lacks {needle:?}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
}
