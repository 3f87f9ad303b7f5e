//! Which file format a figure's path asks for: its extension, checked against what the caller can
//! write, with one message for every place that writes figures (CLI and app).

use std::path::Path;

/// The lower-case extension of `path` when it is one of `accepted` (lower case, without the dot),
/// else a message that starts with `who` (the flag and path, or the path): `--out "fig" has no
/// extension; expected a name ending in .png or .svg`.
pub fn format_of(who: &str, path: &str, accepted: &[&str]) -> Result<String, String> {
    let names: Vec<String> = accepted.iter().map(|e| format!(".{e}")).collect();
    let expected = match names.as_slice() {
        [] => String::new(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} or {last}", init.join(", ")),
    };
    // `fig.` has the extension "": no extension, as far as a person is concerned.
    let ext = Path::new(path.trim()).extension().and_then(|e| e.to_str());
    match ext.filter(|e| !e.is_empty()) {
        None => Err(format!(
            "{who} has no extension; expected a name ending in {expected}"
        )),
        Some(ext) if accepted.contains(&ext.to_ascii_lowercase().as_str()) => {
            Ok(ext.to_ascii_lowercase())
        }
        Some(ext) => Err(format!(
            "{who}: cannot write .{ext} files; expected {expected}"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_extension_or_what_is_wrong_with_it() {
        let all = ["png", "svg", "gif", "apng", "csv"];
        assert_eq!(format_of("f", "a/Fig.PNG", &all).unwrap(), "png");
        assert_eq!(
            format_of("--out \"noext\"", "noext", &all).unwrap_err(),
            "--out \"noext\" has no extension; expected a name ending in .png, .svg, .gif, .apng \
             or .csv"
        );
        assert_eq!(
            format_of("dir.v2/fig", "dir.v2/fig", &["png"]).unwrap_err(),
            "dir.v2/fig has no extension; expected a name ending in .png"
        );
        assert_eq!(
            format_of("x.jpeg", "x.jpeg", &["png", "svg"]).unwrap_err(),
            "x.jpeg: cannot write .jpeg files; expected .png or .svg"
        );
        assert!(
            format_of("t", "trailing.", &["png"])
                .unwrap_err()
                .contains("has no extension")
        );
    }
}
