//! Where a subcommand's output goes: stdout, or a file given with `--out`.

use std::fs::File;
use std::io::{BufWriter, Write};

pub struct Output {
    sink: Box<dyn Write>,
    name: String,
    /// Set when the reader went away (`kdviz fit ... | head`): the rest is dropped quietly.
    closed: bool,
}

impl Output {
    pub fn open(path: Option<&str>) -> Result<Output, String> {
        let (sink, name): (Box<dyn Write>, String) = match path {
            None => (Box::new(BufWriter::new(std::io::stdout())), "stdout".into()),
            Some(p) => {
                let f = File::create(p).map_err(|e| format!("--out {p}: cannot write: {e}"))?;
                (Box::new(BufWriter::new(f)), p.to_string())
            }
        };
        Ok(Output {
            sink,
            name,
            closed: false,
        })
    }

    pub fn line(&mut self, text: &str) -> Result<(), String> {
        if self.closed {
            return Ok(());
        }
        let result = writeln!(self.sink, "{text}");
        self.check(result)
    }

    /// Writes `text` as it is (no newline): a long output streamed in pieces.
    pub fn write(&mut self, text: &str) -> Result<(), String> {
        if self.closed {
            return Ok(());
        }
        let result = self.sink.write_all(text.as_bytes());
        self.check(result)
    }

    pub fn finish(mut self) -> Result<(), String> {
        if self.closed {
            return Ok(());
        }
        let result = self.sink.flush();
        self.check(result)
    }

    fn check(&mut self, result: std::io::Result<()>) -> Result<(), String> {
        match result {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {
                self.closed = true;
                Ok(())
            }
            Err(e) => Err(format!("{}: write failed: {e}", self.name)),
        }
    }
}

/// [`Output`] as a `fmt::Write`, for writers that format into one (the history CSV); the first
/// error is kept for the caller.
pub struct FmtSink<'a> {
    pub out: &'a mut Output,
    pub error: Option<String>,
}

impl std::fmt::Write for FmtSink<'_> {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        self.out.write(s).map_err(|e| {
            self.error = Some(e);
            std::fmt::Error
        })
    }
}
