//! `kdviz lessons [NAME]`: the built-in lessons, or one lesson's steps with their captions.

use super::output::Output;
use crate::toy::lesson::{self, Lesson};
use clap::Args;

pub const EXAMPLES: &str = "\
Examples:
  kdviz lessons                         # every lesson: name, title, number of steps
  kdviz lessons mode-seeking            # its steps: number, title, setup and caption
  kdviz figure --lesson mode-seeking --step 3 --out step3.png   # one step as a figure";

/// `kdviz lessons`: the guided sequences the app's Lessons menu opens.
#[derive(Debug, Args)]
pub struct LessonsArgs {
    /// A lesson's name: print its steps
    #[arg(value_name = "NAME")]
    pub name: Option<String>,
}

/// Captions are wrapped to this many columns (after the indent).
const WIDTH: usize = 96;

pub fn run(args: &LessonsArgs) -> Result<(), String> {
    let mut out = Output::open(None)?;
    match &args.name {
        None => {
            let lessons = lesson::all()?;
            let width = lessons.iter().map(|l| l.name.len()).max().unwrap_or(0);
            for l in &lessons {
                out.line(&format!(
                    "{:<width$}  {}  ({} steps)",
                    l.name,
                    l.title,
                    l.steps.len()
                ))?;
            }
        }
        Some(name) => {
            for line in steps(&lesson::load(name)?) {
                out.line(&line)?;
            }
        }
    }
    out.finish()
}

/// One lesson as text: its title and summary, then each step's number, title, setup and caption.
pub fn steps(l: &Lesson) -> Vec<String> {
    let mut lines = vec![
        format!("{} ({}, {} steps)", l.title, l.name, l.steps.len()),
        String::new(),
    ];
    lines.extend(wrap(&l.summary, WIDTH));
    for (i, s) in l.steps.iter().enumerate() {
        lines.push(String::new());
        lines.push(format!("{:>2}. {}", i + 1, s.title));
        lines.push(format!("    [{}]", s.setup()));
        lines.extend(
            wrap(&s.caption, WIDTH)
                .into_iter()
                .map(|l| format!("    {l}")),
        );
    }
    lines
}

/// Greedy word wrap at `width` characters.
pub fn wrap(text: &str, width: usize) -> Vec<String> {
    let mut lines = Vec::new();
    let mut line = String::new();
    for word in text.split_whitespace() {
        if !line.is_empty() && line.chars().count() + 1 + word.chars().count() > width {
            lines.push(std::mem::take(&mut line));
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(word);
    }
    if !line.is_empty() {
        lines.push(line);
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wraps_at_word_boundaries() {
        assert_eq!(wrap("aa bb cc dd", 5), ["aa bb", "cc dd"]);
        assert_eq!(wrap("  ", 5), Vec::<String>::new());
        assert_eq!(wrap("abcdefgh ij", 4), ["abcdefgh", "ij"]);
    }

    #[test]
    fn a_lesson_lists_every_step_with_its_caption() {
        let l = lesson::load("alpha-beta").unwrap();
        let text = steps(&l).join("\n");
        assert!(text.starts_with("α and β: hardness and confidence (alpha-beta, "));
        for (i, s) in l.steps.iter().enumerate() {
            assert!(text.contains(&format!("{:>2}. {}", i + 1, s.title)));
            let first = s.caption.split_whitespace().take(6).collect::<Vec<_>>();
            assert!(text.contains(&first.join(" ")), "{}", s.title);
        }
    }
}
