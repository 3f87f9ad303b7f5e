//! Thin entry point: no arguments opens the app, anything else goes to the command line.

use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.is_empty() {
        return match kdviz::ui::run_app(kdviz::ui::AppOptions::default()) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("kdviz: error: {e}");
                ExitCode::from(1)
            }
        };
    }
    kdviz::cli::main(args)
}
