//! Thin entry point: hand the command line to `kdviz::cli`.

fn main() -> std::process::ExitCode {
    kdviz::cli::main(std::env::args().skip(1).collect())
}
