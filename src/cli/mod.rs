//! The command line (clap): subcommands that print JSON, CSV or text and never draw.

pub mod bench;
pub mod catalog;
pub mod errors;
pub mod eval;
pub mod figure;
pub mod fit;
pub mod gpu;
pub mod json;
pub mod lessons;
pub mod output;
pub mod progress;
pub mod real;
pub mod values;

use clap::error::ErrorKind;
use clap::{Arg, Args, CommandFactory, FromArgMatches, Parser, Subcommand, ValueEnum};
use clap_complete::Shell;
use std::ffi::OsString;
use std::process::ExitCode;

const EXAMPLES: &str = "\
Examples:
  kdviz                                # open the app
  kdviz app --tab real --run           # the app on the real-model tab, training at once
  kdviz presets
  kdviz lessons mode-seeking           # a guided lesson's steps (the app's Lessons menu)
  kdviz eval --div rkl --teacher-logits 1,0.9,0.8,0.7,0,-1 --student-logits 0.2,1,-0.5,0.9,0.3,0
  kdviz fit --preset akl-fig3-longtail --json
  kdviz figure --preset akl-fig3-longtail --out fig3.png --scale 3
  kdviz real --builtin --div fkl --div rkl --div akl --student lowrank:d=16
  kdviz gpu bench --rows 512 --vocab 32000
  kdviz completions bash > ~/.local/share/bash-completion/completions/kdviz

A divergence SPEC is name:key=value,...  e.g. fkl  rkl  akl:mu=0.5  jsd:beta=0.5  tvd  skl:alpha=0.1
  srkl:alpha=0.1,detach=true  ab:alpha=0.2,beta=0.7  alpha:alpha=0.5  taid:t=0.4
  taid:t_start=0.4,t_end=1,rate=5e-4,momentum=0.99  amid:alpha=0.5,lambda=0.5,div=fkl,order=pr
  hinton:T=2,a=0.5,label=0   (kdviz divergences lists every family)

Exit status: 0 on success, 2 on bad input (the reason is printed on one line).
kdviz COMMAND --help shows a command's options, their defaults and examples.";

/// kdviz: watch knowledge-distillation divergences fit a student to a teacher.
#[derive(Debug, Parser)]
#[command(name = "kdviz", version, after_help = EXAMPLES)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Open the app on a tab (kdviz without arguments opens it on the toy tab)
    #[command(after_help = "\
Examples:
  kdviz app                            # the toy tab
  kdviz app --tab real --run           # the real-model tab, training at once
  kdviz app --lesson mode-seeking --present   # a lesson, projected (F1 lists the keys)
  kdviz app --preset akl-fig3-longtail  # the toy tab on a preset (kdviz presets lists them)
  kdviz app --config my-setup.toml      # the toy tab on a saved config, views included")]
    App(AppArgs),
    /// List the built-in presets
    #[command(after_help = "\
Examples:
  kdviz presets
  kdviz fit --preset akl-fig3-longtail      # run one of them")]
    Presets,
    /// List the built-in lessons, or one lesson's steps with their captions
    #[command(after_help = lessons::EXAMPLES)]
    Lessons(lessons::LessonsArgs),
    /// List every divergence family with its default spec and formula
    #[command(after_help = "\
Examples:
  kdviz divergences
  kdviz eval --div ab:alpha=0.2,beta=0.7 --teacher-probs 0.5,0.5,0 --student-logits -1,0,1")]
    Divergences,
    /// Value and gradient (w.r.t. the student logits) of one divergence
    #[command(after_help = eval::EXAMPLES)]
    Eval(eval::EvalArgs),
    /// Fit a student under every divergence of a preset or config; print the per-epoch history
    #[command(after_help = fit::EXAMPLES)]
    Fit(fit::FitArgs),
    /// Time a whole refit the way the app runs it
    #[command(after_help = bench::EXAMPLES)]
    Bench(bench::BenchArgs),
    /// Render a view or a paper-style layout to PNG, SVG, GIF, APNG or CSV (no display needed)
    #[command(after_help = figure::EXAMPLES)]
    Figure(figure::FigureArgs),
    /// Train a student on real-model-sized logits under each divergence, on the GPU when there is one
    #[command(after_help = real::EXAMPLES)]
    Real(real::RealArgs),
    /// The GPU: which adapter kdviz uses, and how fast its loss kernels run
    #[command(
        subcommand,
        arg_required_else_help = false,
        after_help = "\
Examples:
  kdviz gpu info
  kdviz gpu bench --rows 4096 --vocab 131072 --dtype f16 --json"
    )]
    Gpu(gpu::GpuCommand),
    /// Print a shell completion script
    #[command(after_help = "\
Examples:
  kdviz completions bash > ~/.local/share/bash-completion/completions/kdviz
  kdviz completions zsh > ~/.zfunc/_kdviz      # with fpath+=(~/.zfunc) in .zshrc
  kdviz completions fish > ~/.config/fish/completions/kdviz.fish")]
    Completions {
        /// The shell
        #[arg(value_enum, value_name = "SHELL")]
        shell: Shell,
    },
}

/// `kdviz app`: the window, opened on a chosen tab.
#[derive(Debug, Args)]
pub struct AppArgs {
    /// The tab to open
    #[arg(long, value_name = "TAB", value_enum, default_value_t = Tab::Toy)]
    pub tab: Tab,
    /// Start a real-model run at once (demos, screenshots)
    #[arg(long, overrides_with = "run")]
    pub run: bool,
    /// Open a lesson (kdviz lessons lists them)
    #[arg(long, value_name = "NAME")]
    pub lesson: Option<String>,
    /// The lesson's step to open, from 1
    #[arg(long, value_name = "N", requires = "lesson", default_value_t = 1, value_parser = values::whole(1, 10_000))]
    pub step: usize,
    /// Start in presenter mode (F5 toggles it, Esc leaves)
    #[arg(long, overrides_with = "present")]
    pub present: bool,
    /// Open the toy tab on a preset (kdviz presets lists them)
    #[arg(long, value_name = "NAME", conflicts_with_all = ["config", "lesson"])]
    pub preset: Option<String>,
    /// Open the toy tab on a config file (TOML, as Save config writes it)
    #[arg(long, value_name = "FILE", conflicts_with = "lesson")]
    pub config: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Tab {
    Toy,
    Real,
}

impl Cli {
    /// Whether the command opens the window (which then needs the display's runtime directory).
    pub fn opens_app(&self) -> bool {
        matches!(self.command, Command::App(_))
    }
}

/// Parses the process's command line; help and version are printed here (exit 0), errors as one
/// line `kdviz: error: ...` (exit 2).
pub fn parse() -> Result<Cli, ExitCode> {
    parse_from(std::env::args_os())
}

pub fn parse_from<I, T>(argv: I) -> Result<Cli, ExitCode>
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let argv: Vec<OsString> = argv.into_iter().map(Into::into).collect();
    try_parse_from(&argv).map_err(|err| match err.kind() {
        ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => {
            // A closed pipe (`kdviz --help | head`) is not an error worth reporting.
            let _ = err.print();
            ExitCode::SUCCESS
        }
        _ => {
            let root = command();
            let cmd = errors::subcommand(&root, &argv);
            eprintln!("kdviz: error: {}", errors::one_line(&err, cmd));
            ExitCode::from(2)
        }
    })
}

/// The parsed command line, or clap's error (help and version are errors of their own kinds).
pub fn try_parse_from<I, T>(argv: I) -> Result<Cli, clap::Error>
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let matches = command().try_get_matches_from(argv)?;
    Cli::from_arg_matches(&matches)
}

/// The whole command line, every option that takes a value accepting one that starts with `-`:
/// `--teacher-logits -1,0.5`, and `--epochs -3` reaching its range check instead of being taken
/// for an unknown flag.
pub fn command() -> clap::Command {
    fn hyphen_values(cmd: clap::Command) -> clap::Command {
        cmd.mut_args(|a: Arg| {
            if a.get_action().takes_values() && !a.is_positional() {
                a.allow_hyphen_values(true)
            } else {
                a
            }
        })
        .mut_subcommands(hyphen_values)
    }
    hyphen_values(Cli::command())
}

/// Runs a parsed command; returns the process exit code.
pub fn run(cli: Cli) -> ExitCode {
    match dispatch(cli.command) {
        Ok(()) => ExitCode::SUCCESS,
        Err(msg) => {
            eprintln!("kdviz: error: {msg}");
            ExitCode::from(2)
        }
    }
}

fn dispatch(command: Command) -> Result<(), String> {
    match command {
        Command::App(args) => crate::app::run_app(crate::app::AppOptions {
            mode: match args.tab {
                Tab::Toy => crate::app::Mode::Toy,
                Tab::Real => crate::app::Mode::Real,
            },
            run: args.run,
            lesson: args.lesson.map(|name| (name, args.step - 1)),
            present: args.present,
            preset: args.preset,
            config: args.config,
        }),
        Command::Presets => catalog::presets(),
        Command::Lessons(args) => lessons::run(&args),
        Command::Divergences => catalog::divergences(),
        Command::Eval(args) => eval::run(&args),
        Command::Fit(args) => fit::run(&args),
        Command::Bench(args) => bench::run(&args),
        Command::Figure(args) => figure::run(&args),
        Command::Real(args) => real::run(&args),
        Command::Gpu(cmd) => gpu::run(&cmd),
        Command::Completions { shell } => completions(shell),
    }
}

/// `kdviz completions SHELL`: the script clap_complete derives from this command line.
fn completions(shell: Shell) -> Result<(), String> {
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut command(), "kdviz", &mut script);
    let text = String::from_utf8(script).map_err(|e| format!("completions: {e}"))?;
    let mut out = output::Output::open(None)?;
    out.line(text.trim_end())?;
    out.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Cli, clap::Error> {
        try_parse_from(std::iter::once("kdviz").chain(args.iter().copied()))
    }

    fn error(args: &[&str]) -> String {
        let argv: Vec<OsString> = std::iter::once("kdviz")
            .chain(args.iter().copied())
            .map(Into::into)
            .collect();
        let root = command();
        errors::one_line(&parse(args).unwrap_err(), errors::subcommand(&root, &argv))
    }

    fn eval_args(args: &[&str]) -> eval::EvalArgs {
        match parse(args).unwrap().command {
            Command::Eval(a) => a,
            other => panic!("{other:?}"),
        }
    }

    const EVAL: [&str; 5] = ["eval", "--div", "fkl", "--student-logits", "1,2"];

    #[test]
    fn the_command_line_is_consistent() {
        command().debug_assert();
    }

    #[test]
    fn negative_values_in_both_forms() {
        let mut argv = EVAL.to_vec();
        argv.extend(["--teacher-logits", "-1,0.5", "--json"]);
        let a = eval_args(&argv);
        assert_eq!(a.teacher_logits.as_deref(), Some("-1,0.5"));
        let mut argv = EVAL.to_vec();
        argv.push("--teacher-logits=-1,0.5");
        let a = eval_args(&argv);
        assert_eq!(a.teacher_logits.as_deref(), Some("-1,0.5"));
        assert!(!a.json);
        let mut argv = EVAL.to_vec();
        argv.extend(["--teacher-logits", "-inf,0", "--student-logits", "-1,-2"]);
        assert!(error(&argv).contains("--student-logits is given more than once"));
    }

    #[test]
    fn repeated_and_unknown_flags() {
        let a = match parse(&["fit", "--preset", "x", "--div", "fkl", "--div=rkl"])
            .unwrap()
            .command
        {
            Command::Fit(a) => a,
            other => panic!("{other:?}"),
        };
        let divs: Vec<&str> = a.div.iter().map(|d| d.raw.as_str()).collect();
        assert_eq!(divs, ["fkl", "rkl"]);
        let e = error(&["eval", "--div", "fkl", "--div", "rkl"]);
        assert!(e.contains("more than once"), "{e}");
        let e = error(&["eval", "--dvi", "fkl"]);
        assert!(e.contains("unknown option --dvi"), "{e}");
        assert!(e.contains("tip: a similar argument exists: '--div'"), "{e}");
        let e = error(&["eval", "--div"]);
        assert!(e.contains("needs a value"), "{e}");
        let e = error(&["eval", "--json=1"]);
        assert!(e.contains("takes no value"), "{e}");
        // Switches may repeat, as they always could.
        let mut argv = EVAL.to_vec();
        argv.extend(["--teacher-probs", "0.5,0.5", "--json", "--json"]);
        assert!(eval_args(&argv).json);
    }

    #[test]
    fn errors_are_one_line_and_name_the_flag() {
        for (args, needle) in [
            (&["fitt"][..], "unknown command \"fitt\""),
            (
                &["fit", "--dvi", "fkl"],
                "unknown option --dvi; tip: a similar argument exists: '--div'",
            ),
            (
                &["fit", "--frobnicate"],
                "unknown option --frobnicate; expected one of --preset",
            ),
            (&["fitt"], "tip: a similar subcommand exists: 'fit'"),
            (
                &["eval", "--div", "fkl", "--student-logits", "1,2"],
                "--teacher-logits is missing",
            ),
            (
                &["eval", "--div", "fkl"],
                "also missing: --teacher-logits or --teacher-probs",
            ),
            (&["fit"], "--preset NAME or --config"),
            (&["fit", "--preset", "a", "--config", "b"], "not both"),
            (&["fit", "--preset", "a", "--json", "--csv"], "not both"),
            (
                &["fit", "--preset", "a", "--epochs", "-3"],
                "--epochs \"-3\"",
            ),
            (&["fit", "--preset", "a", "--snapshots", "1,x"], "\"x\""),
            (
                &["fit", "--preset", "a", "--div", "kl"],
                "unknown divergence",
            ),
            (&["figure", "--preset", "a"], "--out is missing"),
            (
                &["figure", "--preset", "a", "--out", "x.png", "--view", "pie"],
                "--view \"pie\" is not a view; expected distributions,",
            ),
            (
                &["figure", "--preset", "a", "--out", "x.png", "--scale", "9"],
                "--scale 9 is out of range; expected 1 to 8",
            ),
            (
                &["figure", "--preset", "a", "--out", "x.gif", "--fps", "0"],
                "--fps 0 is out of range; expected 1 to 60",
            ),
            (&["real", "--builtin"], "--div SPEC is missing"),
            (&["real", "--div", "fkl"], "--builtin or --input FILE"),
            (
                &["real", "--builtin", "--div", "fkl", "--lr", "-1"],
                "--lr \"-1\"",
            ),
            (
                &["real", "--builtin", "--div", "fkl", "--backend", "tpu"],
                "--backend \"tpu\" is not a backend; expected auto, gpu or cpu",
            ),
            (
                &["real", "--builtin", "--div", "fkl", "--position", "3"],
                "--figure FILE is missing",
            ),
            (&["gpu"], "needs a subcommand"),
            (&["gpu", "bench", "--dtype", "f8"], "--dtype \"f8\""),
            (
                &["completions", "tcsh"],
                "\"tcsh\" is not a shell; expected bash,",
            ),
        ] {
            let e = error(args);
            assert!(e.contains(needle), "{args:?}: {e:?} lacks {needle:?}");
            assert!(!e.contains('\n'), "{args:?}: {e:?}");
        }
    }

    #[test]
    fn defaults_come_from_the_engines() {
        let Command::Real(a) = parse(&["real", "--builtin", "--div", "fkl", "--backend", "GPU"])
            .unwrap()
            .command
        else {
            panic!()
        };
        let d = crate::real::train::TrainConfig::default();
        assert_eq!(
            (a.epochs, a.lr, a.mu, a.seed),
            (d.epochs, d.lr, d.mu, d.seed)
        );
        assert_eq!(a.student, d.student);
        assert_eq!(a.backend, crate::real::train::BackendChoice::Gpu);
        assert!(a.figure.is_none());
    }

    #[test]
    fn help_and_version_are_not_errors() {
        for args in [
            &["--help"][..],
            &["--version"],
            &["help"],
            &["gpu", "bench", "--help"],
        ] {
            let kind = parse(args).unwrap_err().kind();
            assert!(
                matches!(kind, ErrorKind::DisplayHelp | ErrorKind::DisplayVersion),
                "{args:?}: {kind:?}"
            );
        }
    }
}
