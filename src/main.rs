//! Thin entry point: no arguments opens the app; anything else is parsed by `cli` and handed off.

use std::process::ExitCode;

fn main() -> ExitCode {
    return_large_blocks();
    if std::env::args_os().len() <= 1 {
        return match kdviz::app::run_app(kdviz::app::AppOptions::default()) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                // The same status as `kdviz app` and every other refusal of the command line.
                eprintln!("kdviz: error: {e}");
                ExitCode::from(2)
            }
        };
    }
    let cli = match kdviz::cli::parse() {
        Ok(cli) => cli,
        Err(code) => return code,
    };
    if !cli.opens_app() {
        quiet_headless_vulkan();
    }
    kdviz::cli::run(cli)
}

/// On a headless machine (an SSH session to a GPU box) `XDG_RUNTIME_DIR` is often unset, and the
/// Vulkan loader's Wayland probe then prints "XDG_RUNTIME_DIR is invalid" twice on stderr although
/// compute works. The command line needs no display: give the probe a private empty directory.
fn quiet_headless_vulkan() {
    #[cfg(target_os = "linux")]
    {
        use std::os::unix::fs::{MetadataExt, PermissionsExt};
        if std::env::var_os("XDG_RUNTIME_DIR").is_some() {
            return;
        }
        let uid = std::fs::metadata("/proc/self").map_or(0, |m| m.uid());
        let dir = std::env::temp_dir().join(format!("kdviz-runtime-{uid}"));
        let ready = std::fs::create_dir_all(&dir).is_ok()
            && std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700)).is_ok();
        if ready {
            // SAFETY: called from `main` after parsing the command line, before any thread exists.
            unsafe { std::env::set_var("XDG_RUNTIME_DIR", &dir) };
        }
    }
}

/// Large blocks go back to the system when they are freed. glibc raises its mmap threshold after the
/// first large block is freed and keeps later ones in its per-thread arenas, which stay that big:
/// the per-class vectors a view computes each frame grew the app by 50 to 80 MB on a 100,000-class
/// fit (BENCHMARKS.md, "Memory"). A fixed threshold keeps blocks of 256 KiB and more mapped on
/// their own; smaller ones (any fit of fewer than 32,768 classes) are served as before.
fn return_large_blocks() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        const M_MMAP_THRESHOLD: std::ffi::c_int = -3;
        unsafe extern "C" {
            fn mallopt(param: std::ffi::c_int, value: std::ffi::c_int) -> std::ffi::c_int;
        }
        // SAFETY: glibc's `mallopt` sets an allocator parameter; called first thing in `main`,
        // before any other thread exists.
        unsafe {
            mallopt(M_MMAP_THRESHOLD, 256 << 10);
        }
    }
}
