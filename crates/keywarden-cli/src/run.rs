//! `kw run`: a command with secrets in its environment, their values masked in its output.
//!
//! The masker is keywarden-request's, built once from every secret the templates read and
//! every rendered value that holds one: a key inside `Bearer ${secret.api}` is masked on its
//! own, and so are its base64, URL and hex forms. Standard output and standard error are
//! masked as separate streams, across write boundaries (see `keywarden_request::mask`).

use std::io::{ErrorKind, Read, Write};
use std::process::{Command, Stdio};

use keywarden_request::mask::MIN_SECRET_LEN;
use keywarden_request::{Masker, VaultResolver};
use keywarden_template::{Rendered, Template};

use crate::cli::RunArgs;
use crate::secret::open;
use crate::{Failure, Outcome};

/// Copies `from` to `to` through its own stream masker, until `from` ends.
fn pump(
    mut from: impl Read + Send + 'static,
    to: impl Write + Send + 'static,
    masker: Masker,
) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        let mut to = masker.writer(to);
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            match from.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => {
                    if to.write_all(&buf[..n]).and_then(|()| to.flush()).is_err() {
                        return;
                    }
                }
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(_) => break,
            }
        }
        let _ = to.finish();
    })
}

/// Every secret value the templates read, and every rendered value holding one.
fn masker(resolver: &VaultResolver<'_>, rendered: &[Rendered]) -> Masker {
    let mut builder = Masker::builder();
    let mut values: Vec<_> = resolver.values().collect();
    values.sort_by(|a, b| a.0.cmp(b.0));
    for (name, value) in values {
        builder.secret(name, value.expose().as_bytes());
    }
    for r in rendered {
        builder.rendered(r.expose().as_bytes(), r.preview(), r.secrets_used());
    }
    builder.build()
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
    let mut with_secrets = Vec::new();
    for (name, t) in &parsed {
        let rendered = t.render(&mut resolver).map_err(|e| {
            Failure::from(keywarden_request::RequestError::Template {
                field: format!("--env {name}"),
                source: e,
            })
        })?;
        cmd.env(name, rendered.expose());
        if rendered.contains_secret() {
            with_secrets.push(rendered);
        }
    }
    let masker = if args.no_masking {
        Masker::empty()
    } else {
        masker(&resolver, &with_secrets)
    };
    drop(with_secrets);
    for name in masker.unmasked() {
        eprintln!(
            "kw: note: the value of `{name}` is shorter than {MIN_SECRET_LEN} bytes and is not masked"
        );
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
        masker.clone(),
    );
    let err = pump(
        child
            .stderr
            .take()
            .ok_or_else(|| Failure::failed("no stderr"))?,
        std::io::stderr(),
        masker,
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
