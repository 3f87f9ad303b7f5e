//! The command line: subcommands that print JSON, CSV or text and never draw.

pub mod args;
pub mod bench;
pub mod catalog;
pub mod eval;
pub mod figure;
pub mod fit;
pub mod gpu;
pub mod json;
pub mod output;
pub mod real;

use args::{Args, Schema};
use std::process::ExitCode;

pub const HELP: &str = "\
kdviz: watch knowledge-distillation divergences fit a student to a teacher

USAGE:
  kdviz                                   open the app
  kdviz app [--tab toy|real] [--run]      open the app on a tab (--run starts a real-model run)
  kdviz presets                           list the built-in presets
  kdviz divergences                       list every divergence family, its default spec and formula
  kdviz eval --div SPEC (--teacher-logits V | --teacher-probs V) --student-logits V [--json] [--out FILE]
        V = comma-separated numbers (\"-1,0.5,-inf\") or a path to a .npy / .csv file
  kdviz fit (--preset NAME | --config FILE.toml) [--div SPEC]... [--epochs N] [--snapshots 1,5,10]
            [--json | --csv] [--out FILE]
  kdviz bench [--json] [--repeats N] [--epochs N] [--classes V] [--out FILE]
  kdviz figure (--preset NAME | --config FILE.toml) --out FILE.{png,svg,gif,csv} [--div SPEC]...
               [--view distributions|headtail|loss|gradient|landscape|abplane|assistant]
               [--layout view|epochs|rows] [--epochs 1,5,10,300] [--scale 3] [--theme light|dark]
               [--width W --height H] [--title TEXT] [--transparent] [--frames FROM:TO[:STEP]] [--fps 6]
  kdviz real (--builtin [--positions N] | --input FILE [--student-input FILE] [--tokens FILE])
             --div SPEC... [--student free|lowrank:d=64] [--epochs N] [--lr X] [--mu M] [--seed S]
             [--backend auto|gpu|cpu] [--every K] [--json | --csv] [--out FILE]
             [--figure FILE.{png,svg,csv} [--position R] [--scale S] [--theme light|dark]]
  kdviz gpu info [--json] [--out FILE]
  kdviz gpu bench [--rows N] [--vocab V] [--dtype f32|f16] [--div SPEC]... [--repeats R] [--json] [--out FILE]
  kdviz help | --help | --version

SPEC is name:key=value,...  e.g. fkl  rkl  akl:mu=0.5  jsd:beta=0.5  tvd  skl:alpha=0.1
  srkl:alpha=0.1,detach=true  ab:alpha=0.2,beta=0.7  alpha:alpha=0.5  taid:t=0.4
  taid:t_start=0.4,t_end=1,rate=5e-4,momentum=0.99  amid:alpha=0.5,lambda=0.5,div=fkl,order=pr
  hinton:T=2,a=0.5,label=0

Exit status: 0 on success, 2 on bad input (the reason is printed on one line).";

const NO_OPTIONS: Schema = Schema {
    valued: &[],
    switches: &[],
};

const APP_SCHEMA: Schema = Schema {
    valued: &["tab"],
    switches: &["run"],
};

/// `kdviz app [--tab toy|real] [--run]`: the window, opened on a chosen tab.
fn app(args: &Args) -> Result<(), String> {
    args.no_positional("app")?;
    let mode = match args.one("tab")? {
        None | Some("toy") => crate::app::Mode::Toy,
        Some("real") => crate::app::Mode::Real,
        Some(o) => return Err(format!("--tab {o:?}; expected toy or real")),
    };
    crate::app::run_app(crate::app::AppOptions {
        mode,
        run: args.switch("run"),
    })
}

/// Runs the command line; returns the process exit code.
pub fn main(argv: Vec<String>) -> ExitCode {
    match dispatch(&argv) {
        Ok(()) => ExitCode::SUCCESS,
        Err(msg) => {
            eprintln!("kdviz: error: {msg}");
            ExitCode::from(2)
        }
    }
}

fn dispatch(argv: &[String]) -> Result<(), String> {
    let Some(command) = argv.first() else {
        return print_help();
    };
    let rest = &argv[1..];
    match command.as_str() {
        "help" | "--help" | "-h" => print_help(),
        "--version" | "-V" => {
            let mut out = output::Output::open(None)?;
            out.line(&format!("kdviz {}", env!("CARGO_PKG_VERSION")))?;
            out.finish()
        }
        "presets" => catalog::presets(&Args::parse(rest, &NO_OPTIONS)?),
        "divergences" => catalog::divergences(&Args::parse(rest, &NO_OPTIONS)?),
        "eval" => eval::run(&Args::parse(rest, &eval::SCHEMA)?),
        "fit" => fit::run(&Args::parse(rest, &fit::SCHEMA)?),
        "bench" => bench::run(&Args::parse(rest, &bench::SCHEMA)?),
        "figure" => figure::run(&Args::parse(rest, &figure::SCHEMA)?),
        "gpu" => gpu::run(rest),
        "app" => app(&Args::parse(rest, &APP_SCHEMA)?),
        "real" => real::run(&Args::parse(rest, &real::SCHEMA)?),
        other => Err(format!(
            "unknown command {other:?}; expected app, presets, divergences, eval, fit, bench, figure, gpu, real or help"
        )),
    }
}

fn print_help() -> Result<(), String> {
    let mut out = output::Output::open(None)?;
    out.line(HELP)?;
    out.finish()
}
