//! Thin entry point: no arguments opens the app, anything else goes to the command line.

use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let app = args.is_empty() || args.first().is_some_and(|a| a == "app");
    if !app {
        quiet_headless_vulkan();
    }
    if args.is_empty() {
        return match kdviz::app::run_app(kdviz::app::AppOptions::default()) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("kdviz: error: {e}");
                ExitCode::from(1)
            }
        };
    }
    kdviz::cli::main(args)
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
            // SAFETY: called first thing in `main`, before any thread exists.
            unsafe { std::env::set_var("XDG_RUNTIME_DIR", &dir) };
        }
    }
}
