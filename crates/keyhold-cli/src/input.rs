//! Reading command inputs: text arguments, files, stdin, base64 values.

use std::fs;
use std::io::{self, IsTerminal, Read};
use std::path::Path;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use zeroize::Zeroizing;

use crate::error::CliError;

/// Inputs sent in one request are read whole; larger ones are refused here rather than held
/// in memory (the server's own limit is usually far lower: use `encrypt-file`).
pub const MAX_INLINE: u64 = 8 << 20;

/// Reads a file, or stdin for `-`, up to [`MAX_INLINE`] bytes.
pub fn read_path(path: &Path) -> Result<Zeroizing<Vec<u8>>, CliError> {
    if path == Path::new("-") {
        return read_limited(io::stdin().lock(), "stdin");
    }
    let file = fs::File::open(path).map_err(|e| CliError::file(path, e))?;
    read_limited(file, &path.display().to_string())
}

fn read_limited(reader: impl Read, name: &str) -> Result<Zeroizing<Vec<u8>>, CliError> {
    let mut buf = Zeroizing::new(Vec::new());
    reader
        .take(MAX_INLINE + 1)
        .read_to_end(&mut buf)
        .map_err(|e| CliError::Input(format!("cannot read {name}: {e}")))?;
    if buf.len() as u64 > MAX_INLINE {
        return Err(CliError::Input(format!(
            "{name} is larger than {} MiB; use encrypt-file for large data",
            MAX_INLINE >> 20
        )));
    }
    Ok(buf)
}

/// The data of a command: the text given, else the file given (`-` for stdin), else stdin
/// when it is not a terminal.
pub fn read_data(
    text: Option<&str>,
    path: Option<&Path>,
    hint: &str,
) -> Result<Zeroizing<Vec<u8>>, CliError> {
    if let Some(t) = text {
        return Ok(Zeroizing::new(t.as_bytes().to_vec()));
    }
    if let Some(p) = path {
        return read_path(p);
    }
    if io::stdin().is_terminal() {
        return Err(CliError::Input(format!("no input: {hint}")));
    }
    read_limited(io::stdin().lock(), "stdin")
}

/// A base64 value given as an argument, or `@FILE` (`@-` for stdin) holding it.
pub fn b64_arg(value: &str, what: &str) -> Result<Vec<u8>, CliError> {
    match value.strip_prefix('@') {
        Some(path) => {
            let text = read_path(Path::new(path))?;
            decode_b64(&text, what)
        }
        None => decode_b64(value.as_bytes(), what),
    }
}

/// A base64 value from an argument, else a file (`-`: stdin), else stdin when not a terminal.
pub fn b64_input(
    value: Option<&str>,
    path: Option<&Path>,
    what: &str,
) -> Result<Vec<u8>, CliError> {
    if let Some(v) = value {
        return b64_arg(v, what);
    }
    let text = read_data(
        None,
        path,
        &format!("give the {what} as an argument, with --in FILE, or on stdin"),
    )?;
    decode_b64(&text, what)
}

/// Standard base64, ignoring whitespace and line breaks.
pub fn decode_b64(text: &[u8], what: &str) -> Result<Vec<u8>, CliError> {
    let compact: Zeroizing<Vec<u8>> = Zeroizing::new(
        text.iter()
            .copied()
            .filter(|b| !b.is_ascii_whitespace())
            .collect(),
    );
    if compact.is_empty() {
        return Err(CliError::Input(format!("the {what} is empty")));
    }
    STANDARD
        .decode(&*compact)
        .map_err(|_| CliError::Input(format!("the {what} is not valid base64")))
}

/// A digest given as hex text (`--message` with `--digest`).
pub fn decode_hex(text: &str) -> Result<Vec<u8>, CliError> {
    hex::decode(text.trim())
        .map_err(|_| CliError::Input("with --digest, --message takes the digest in hex".into()))
}

/// Reads one line from stdin (for secrets piped in), without its line ending.
pub fn read_line_stdin() -> Result<Zeroizing<String>, CliError> {
    let mut line = Zeroizing::new(String::new());
    io::stdin()
        .read_line(&mut line)
        .map_err(|e| CliError::Input(format!("cannot read stdin: {e}")))?;
    let trimmed = Zeroizing::new(line.trim().to_owned());
    Ok(trimmed)
}

/// The DER of the first PEM block labelled `label` in `pem`.
pub fn pem_block(pem: &str, label: &str) -> Result<Zeroizing<Vec<u8>>, CliError> {
    let begin = format!("-----BEGIN {label}-----");
    let end = format!("-----END {label}-----");
    let start = pem
        .find(&begin)
        .map(|i| i + begin.len())
        .ok_or_else(|| CliError::Input(format!("no '{begin}' line")))?;
    let len = pem[start..]
        .find(&end)
        .ok_or_else(|| CliError::Input(format!("no '{end}' line")))?;
    decode_b64(&pem.as_bytes()[start..start + len], "PEM body").map(Zeroizing::new)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_ignores_whitespace_and_rejects_garbage() {
        assert_eq!(decode_b64(b"aGVs\nbG8=\n", "x").unwrap(), b"hello");
        assert!(decode_b64(b"not base64!", "x").is_err());
        assert!(decode_b64(b"  \n", "x").is_err());
    }

    #[test]
    fn b64_arg_reads_files_after_an_at_sign() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("sig.b64");
        fs::write(&p, "aGVsbG8=\n").unwrap();
        assert_eq!(
            b64_arg(&format!("@{}", p.display()), "signature").unwrap(),
            b"hello"
        );
        assert_eq!(b64_arg("aGVsbG8=", "signature").unwrap(), b"hello");
        assert!(matches!(
            b64_arg("@/nonexistent/x", "signature"),
            Err(CliError::Input(_))
        ));
    }

    #[test]
    fn pem_blocks_decode() {
        let pem = "junk\n-----BEGIN PRIVATE KEY-----\naGVs\nbG8=\n-----END PRIVATE KEY-----\n";
        assert_eq!(&*pem_block(pem, "PRIVATE KEY").unwrap(), b"hello");
        assert!(pem_block(pem, "PUBLIC KEY").is_err());
    }

    #[test]
    fn hex_digests_decode() {
        assert_eq!(decode_hex(" 00ff \n").unwrap(), [0, 255]);
        assert!(decode_hex("xyz").is_err());
    }
}
