//! `kw run`: a command with secrets in its environment, their values masked in its output.

use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Command, Stdio};

use keywarden_request::VaultResolver;
use keywarden_template::Template;
use zeroize::Zeroizing;

use crate::cli::RunArgs;
use crate::secret::open;
use crate::{Failure, Outcome};

const MASK: &str = "<concealed by kw>";

/// Replaces every occurrence of every value in `line`.
fn mask(line: &[u8], values: &[Zeroizing<String>]) -> Vec<u8> {
    let mut out = line.to_vec();
    for v in values {
        let needle = v.as_bytes();
        let mut i = 0;
        let mut masked = Vec::with_capacity(out.len());
        while i < out.len() {
            if out[i..].starts_with(needle) {
                masked.extend_from_slice(MASK.as_bytes());
                i += needle.len();
            } else {
                masked.push(out[i]);
                i += 1;
            }
        }
        out = masked;
    }
    out
}

fn pump(
    from: impl Read + Send + 'static,
    mut to: impl Write + Send + 'static,
    values: Vec<Zeroizing<String>>,
) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        let mut reader = BufReader::new(from);
        let mut line = Vec::new();
        loop {
            line.clear();
            match reader.read_until(b'\n', &mut line) {
                Ok(0) | Err(_) => break,
                Ok(_) => {
                    let out = if values.is_empty() {
                        line.clone()
                    } else {
                        mask(&line, &values)
                    };
                    if to.write_all(&out).and_then(|()| to.flush()).is_err() {
                        break;
                    }
                }
            }
        }
    })
}

pub fn run(args: RunArgs) -> Outcome {
    let mut parsed = Vec::new();
    for var in &args.vars {
        let (name, template) = var
            .split_once('=')
            .ok_or_else(|| Failure::usage(format!("--env {var:?}: expected NAME=TEMPLATE")))?;
        if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return Err(Failure::usage(format!(
                "--env {var:?}: {name:?} is not an environment variable name"
            )));
        }
        let t =
            Template::parse(template).map_err(|e| Failure::usage(format!("--env {name}: {e}")))?;
        parsed.push((name.to_owned(), t));
    }
    let vault = open(true)?;
    let env = args
        .environment
        .as_deref()
        .map(|n| vault.with_db(|c| keywarden_request::store::environment(c, n)))
        .transpose()?;
    let mut resolver = VaultResolver::new(&vault, env.as_ref());
    let mut cmd = Command::new(&args.command[0]);
    cmd.args(&args.command[1..]);
    let mut secrets: Vec<Zeroizing<String>> = Vec::new();
    for (name, t) in &parsed {
        let rendered = t.render(&mut resolver).map_err(|e| {
            Failure::from(keywarden_request::RequestError::Template {
                field: format!("--env {name}"),
                source: e,
            })
        })?;
        if rendered.contains_secret() {
            secrets.push(Zeroizing::new(rendered.expose().to_owned()));
        }
        cmd.env(name, rendered.expose());
    }
    // Mask each value, and each line of a multi-line value; longest first.
    let mut values: Vec<Zeroizing<String>> = Vec::new();
    for s in &secrets {
        values.push(s.clone());
        for line in s.lines().filter(|l| l.trim().len() >= 4) {
            values.push(Zeroizing::new(line.to_owned()));
        }
    }
    values.sort_by_key(|v| std::cmp::Reverse(v.len()));
    values.dedup();
    if args.no_masking {
        values.clear();
    }
    let mut child = cmd
        .stdin(Stdio::inherit())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| Failure::failed(format!("cannot start {:?}: {e}", args.command[0])))?;
    let out = pump(
        child
            .stdout
            .take()
            .ok_or_else(|| Failure::failed("no stdout"))?,
        std::io::stdout(),
        values.clone(),
    );
    let err = pump(
        child
            .stderr
            .take()
            .ok_or_else(|| Failure::failed("no stderr"))?,
        std::io::stderr(),
        values,
    );
    let status = child.wait()?;
    let _ = out.join();
    let _ = err.join();
    match status.code() {
        Some(0) => Ok(()),
        Some(code) => Err(Failure {
            code: u8::try_from(code).unwrap_or(1),
            message: String::new(),
        }),
        None => Err(Failure {
            code: 1,
            message: "the command was killed by a signal".into(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_every_occurrence() {
        let values = vec![Zeroizing::new("s3cr3t".to_owned())];
        assert_eq!(
            mask(b"a s3cr3t b s3cr3ts3cr3t\n", &values),
            b"a <concealed by kw> b <concealed by kw><concealed by kw>\n".to_vec()
        );
        assert_eq!(mask(b"nothing\n", &values), b"nothing\n".to_vec());
    }
}
