//! Where a subcommand's output goes: stdout, or a file given with `--out`.

use std::fs::File;
use std::io::{BufWriter, Write};

pub struct Output {
    sink: Box<dyn Write>,
    name: String,
}

impl Output {
    pub fn open(path: Option<&str>) -> Result<Output, String> {
        match path {
            None => Ok(Output {
                sink: Box::new(BufWriter::new(std::io::stdout())),
                name: "stdout".into(),
            }),
            Some(p) => {
                let f = File::create(p).map_err(|e| format!("--out {p}: cannot write: {e}"))?;
                Ok(Output {
                    sink: Box::new(BufWriter::new(f)),
                    name: p.to_string(),
                })
            }
        }
    }

    pub fn line(&mut self, text: &str) -> Result<(), String> {
        writeln!(self.sink, "{text}").map_err(|e| format!("{}: write failed: {e}", self.name))
    }

    pub fn finish(mut self) -> Result<(), String> {
        self.sink
            .flush()
            .map_err(|e| format!("{}: write failed: {e}", self.name))
    }
}
