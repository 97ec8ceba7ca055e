//! `kw render`, `kw send`, `kw profile`, `kw env`, `kw history`: thin adapters over keywarden-request
//! (`kw send` over its `Composer`).

use std::collections::BTreeMap;
use std::io::Write;

use keywarden_core::{HostPattern, SecretName};
use keywarden_request::mask::MIN_SECRET_LEN;
use keywarden_request::{
    Body, Composed, Composer, EnvQueryParam, Environment, KeyProfile, KeyValue, Level, MaskReport,
    RequestSpec, SendOptions, Sender, Sent, Style, VaultResolver, Verdict, store,
};
use keywarden_template::Template;
use keywarden_vault::Vault;

use crate::cli::{EnvCmd, HistoryArgs, ProfileArgs, ProfileCmd, RenderArgs, SendArgs, StyleArg};
use crate::secret::open;
use crate::{Failure, Outcome};

fn load_env(vault: &Vault, name: Option<&str>) -> Result<Option<Environment>, Failure> {
    name.map(|n| vault.with_db(|c| store::environment(c, n)))
        .transpose()
        .map_err(Failure::from)
}

/// `${env.NAME}` from an environment; secrets are never read for a preview.
struct PreviewResolver<'a> {
    env: Option<&'a Environment>,
}

impl keywarden_template::Resolver for PreviewResolver<'_> {
    fn secret(
        &mut self,
        _: &str,
    ) -> Result<keywarden_core::SecretValue, keywarden_template::ResolveError> {
        Err(keywarden_template::ResolveError::Unavailable(
            "not read for a preview".into(),
        ))
    }
    fn env(&mut self, name: &str) -> Result<String, keywarden_template::ResolveError> {
        self.env
            .and_then(|e| e.variables.get(name).cloned())
            .ok_or(keywarden_template::ResolveError::UnknownVariable)
    }
}

pub fn render(args: RenderArgs) -> Outcome {
    let template = Template::parse(&args.template).map_err(Failure::usage)?;
    let template_error = |source: keywarden_template::TemplateError| -> Failure {
        match source.kind {
            keywarden_template::ErrorKind::DisabledSecret(_)
            | keywarden_template::ErrorKind::SecretUnavailable { .. } => Failure::failed(source),
            _ => Failure::usage(source),
        }
    };
    let vault = open(args.reveal)?;
    let env = load_env(&vault, args.environment.as_deref())?;
    let mut out = std::io::stdout().lock();
    if args.reveal {
        let mut resolver = VaultResolver::new(&vault, env.as_ref());
        let rendered = template.render(&mut resolver).map_err(template_error)?;
        out.write_all(rendered.expose().as_bytes())?;
    } else {
        // Check every reference without reading any value, then print the preview.
        for (name, at) in template.secret_refs() {
            let kind = match vault.find(name) {
                Ok(m) if m.enabled => continue,
                Ok(_) => keywarden_template::ErrorKind::DisabledSecret(name.into()),
                Err(_) => keywarden_template::ErrorKind::UnknownSecret(name.into()),
            };
            let source = keywarden_template::TemplateError {
                kind,
                position: keywarden_template::Position::at(&args.template, at),
            };
            return Err(template_error(source));
        }
        let mut check = PreviewResolver { env: env.as_ref() };
        let preview = template.preview(&mut check);
        out.write_all(preview.as_bytes())?;
    }
    if std::io::IsTerminal::is_terminal(&std::io::stdout()) {
        out.write_all(b"\n")?;
    }
    Ok(())
}

fn split_pair(text: &str, sep: char, what: &str) -> Result<(String, String), Failure> {
    let (k, v) = text
        .split_once(sep)
        .ok_or_else(|| Failure::usage(format!("{what} {text:?}: expected NAME{sep}VALUE")))?;
    let k = k.trim();
    if k.is_empty() {
        return Err(Failure::usage(format!(
            "{what} {text:?}: the name is empty"
        )));
    }
    Ok((
        k.to_owned(),
        if sep == ':' {
            v.trim_start().to_owned()
        } else {
            v.to_owned()
        },
    ))
}

fn print_findings(findings: &[keywarden_request::Finding]) {
    for f in findings {
        let tag = match f.level {
            Level::Danger => "danger",
            Level::Warning => "warning",
            Level::Info => "note",
        };
        eprintln!("kw: {tag}: {}", f.message);
    }
}

pub fn send(args: SendArgs) -> Outcome {
    let mut spec = RequestSpec::get(args.url.clone());
    spec.headers = args
        .headers
        .iter()
        .map(|h| split_pair(h, ':', "header").map(|(k, v)| KeyValue::new(k, v)))
        .collect::<Result<_, _>>()?;
    spec.query = args
        .query
        .iter()
        .map(|q| split_pair(q, '=', "query").map(|(k, v)| KeyValue::new(k, v)))
        .collect::<Result<_, _>>()?;
    if let Some(data) = &args.data {
        let template = match data.strip_prefix('@') {
            Some(path) => std::fs::read_to_string(path)
                .map_err(|e| Failure::usage(format!("cannot read {path}: {e}")))?,
            None => data.clone(),
        };
        spec.body = Body::Raw {
            content_type: String::new(),
            template,
        };
    } else if let Some(json) = &args.json {
        spec.body = Body::Json {
            template: json.clone(),
        };
    } else if !args.form.is_empty() {
        let fields = args
            .form
            .iter()
            .map(|f| split_pair(f, '=', "form field").map(|(k, v)| KeyValue::new(k, v)))
            .collect::<Result<_, _>>()?;
        spec.body = Body::Form { fields };
    }
    spec.method = match &args.method {
        Some(m) => m.clone(),
        None if !matches!(spec.body, Body::None) => "POST".into(),
        None => "GET".into(),
    };
    spec.profile = args.profile.clone();
    spec.environment = args.environment.clone();
    for (what, t) in
        std::iter::once(("URL", &spec.url)).chain(spec.headers.iter().map(|h| ("header", &h.value)))
    {
        Template::parse(t).map_err(|e| Failure::usage(format!("{what}: {e}")))?;
    }

    let vault = open(true)?;
    let composer =
        Composer::new(&vault).record_history(!args.no_history && !args.dry_run && !args.curl);
    let composed = composer.prepare(&spec)?;
    let prepared = &composed.request;
    print_findings(&prepared.findings);
    if args.curl {
        println!("{}", keywarden_request::to_curl(prepared, args.reveal));
        return Ok(());
    }
    if args.dry_run {
        println!("{} {}", prepared.method, prepared.url_preview);
        for h in &prepared.headers {
            println!("{}: {}", h.name, h.preview);
        }
        if let Some(b) = &prepared.body {
            println!("\n{}", b.preview);
        }
        return Ok(());
    }
    let mut options = SendOptions {
        timeout: std::time::Duration::from_secs(args.timeout.max(1)),
        ..Default::default()
    };
    if let Some(path) = &args.cacert {
        options.extra_ca_pem = Some(
            std::fs::read(path)
                .map_err(|e| Failure::usage(format!("cannot read {}: {e}", path.display())))?,
        );
    }
    let sender = Sender::new(options)?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let sent = runtime.block_on(composer.send(&composed, &sender))?;
    if let Some(e) = &sent.history_error {
        eprintln!("kw: warning: the request was sent but not recorded in history: {e}");
    }
    print_response(&sent, &composed, &args)?;
    if args.fail && sent.verdict() != Verdict::Success {
        return Err(Failure {
            code: 1,
            message: String::new(),
        });
    }
    Ok(())
}

/// Standard output gets the body (and with `-i` the status line and headers), masked unless
/// `--reveal`; standard error the summary and notes, always masked.
fn print_response(sent: &Sent, composed: &Composed, args: &SendArgs) -> Outcome {
    let resp = &sent.response;
    let shown = &sent.shown;
    let masker = composed.masker();
    let mut unseen = MaskReport::default();
    let mut note = |text: String| eprintln!("kw: {}", masker.mask_str(&text, &mut unseen));
    for name in &resp.dropped_headers {
        note(format!(
            "note: {name} was not sent to the redirect target (another origin)"
        ));
    }
    let mut out = std::io::stdout().lock();
    let mut printed = MaskReport::default();
    if args.reveal {
        if args.include {
            writeln!(out, "{} {} {}", resp.version, resp.status, resp.reason)?;
            for (k, v) in &resp.headers {
                writeln!(out, "{k}: {v}")?;
            }
            writeln!(out)?;
        }
        out.write_all(&resp.body)?;
    } else {
        if args.include {
            writeln!(out, "{}", shown.status_line)?;
            for (k, v) in &shown.headers {
                writeln!(out, "{k}: {v}")?;
            }
            writeln!(out)?;
            printed.merge(&shown.mask);
        } else {
            printed.merge(&shown.body_mask);
        }
        out.write_all(&shown.body)?;
    }
    out.flush()?;
    note(format!(
        "{} {} in {} ms, {} bytes{}",
        resp.status,
        resp.reason,
        resp.duration.as_millis(),
        resp.body.len(),
        if resp.truncated { " (truncated)" } else { "" }
    ));
    if !printed.is_empty() {
        note(format!(
            "masked {} occurrence(s) of secret values; --reveal prints them",
            printed.occurrences
        ));
    }
    for name in masker.unmasked() {
        note(format!(
            "note: the value of `{name}` is shorter than {MIN_SECRET_LEN} bytes and is not masked"
        ));
    }
    for reason in &sent.explanation {
        note(format!("why {}? {reason}", resp.status));
    }
    Ok(())
}

pub fn profile(cmd: ProfileCmd) -> Outcome {
    let vault = open(false)?;
    match cmd {
        ProfileCmd::Add(args) => {
            let p = build_profile(*args)?;
            vault.find(p.secret.as_str()).map_err(|_| {
                Failure::usage(format!(
                    "no secret named {:?}; create it first with kw secret set",
                    p.secret.as_str()
                ))
            })?;
            vault.with_db(|c| store::save_profile(c, &p))?;
            eprintln!("Saved profile {}: {}.", p.name, p.describe());
        }
        ProfileCmd::List { json } => {
            let profiles = vault.with_db(|c| store::profiles(c))?;
            let mut out = std::io::stdout().lock();
            if json {
                serde_json::to_writer_pretty(&mut out, &profiles).map_err(Failure::failed)?;
                writeln!(out)?;
            } else if profiles.is_empty() {
                eprintln!(
                    "No key profiles yet. Add one with: kw profile add NAME --secret SECRET --style bearer"
                );
            } else {
                for p in profiles {
                    let hosts: Vec<&str> = p.allowed_hosts.iter().map(|h| h.as_str()).collect();
                    writeln!(
                        out,
                        "{:<20} secret {:<20} {}{}{}",
                        p.name,
                        p.secret.as_str(),
                        p.describe(),
                        if hosts.is_empty() {
                            String::new()
                        } else {
                            format!("; hosts {}", hosts.join(","))
                        },
                        if p.https_only { "; https only" } else { "" }
                    )?;
                }
            }
        }
        ProfileCmd::Rm { name } => {
            vault.with_db(|c| store::delete_profile(c, &name))?;
            eprintln!("Deleted profile {name}.");
        }
    }
    Ok(())
}

fn build_profile(a: ProfileArgs) -> Result<KeyProfile, Failure> {
    let need = |v: Option<String>, flag: &str| {
        v.ok_or_else(|| Failure::usage(format!("this style needs {flag}")))
    };
    let style = match a.style {
        StyleArg::Bearer => Style::Bearer,
        StyleArg::Key => Style::KeyEquals,
        StyleArg::Basic => Style::Basic {
            user: need(a.user, "--user")?,
        },
        StyleArg::Header => Style::Header {
            name: need(a.header, "--header")?,
            template: need(a.template, "--template")?,
        },
        StyleArg::Token => Style::ApiToken {
            header: need(a.header, "--header")?,
        },
        StyleArg::Jwt => Style::Jwt {
            algorithm: need(a.alg, "--alg")?,
            claims: a.claims.unwrap_or_else(|| "{}".into()),
            lifetime_seconds: a.lifetime,
            header: a.header,
            scheme: a.scheme,
        },
        StyleArg::Query => Style::Query {
            param: a.param.unwrap_or_else(|| "auth-key".into()),
        },
    };
    let profile = KeyProfile {
        name: a.name,
        description: a.description,
        secret: SecretName::new(a.secret).map_err(Failure::usage)?,
        style,
        allowed_hosts: a
            .hosts
            .iter()
            .map(|h| HostPattern::new(h.as_str()))
            .collect::<Result<_, _>>()
            .map_err(Failure::usage)?,
        https_only: a.https_only,
    };
    profile.validate()?;
    Ok(profile)
}

pub fn environment(cmd: EnvCmd) -> Outcome {
    let vault = open(false)?;
    match cmd {
        EnvCmd::Set {
            name,
            vars,
            query_param,
            production,
        } => {
            let variables: BTreeMap<String, String> = vars
                .iter()
                .map(|v| split_pair(v, '=', "--var"))
                .collect::<Result<_, _>>()?;
            let query_param = query_param
                .map(|q| {
                    split_pair(&q, '=', "--query-param")
                        .map(|(name, value)| EnvQueryParam { name, value })
                })
                .transpose()?;
            let env = Environment {
                name: name.clone(),
                variables,
                query_param,
                production,
            };
            vault.with_db(|c| store::save_environment(c, &env))?;
            eprintln!("Saved environment {name}.");
        }
        EnvCmd::List { json } => {
            let envs = vault.with_db(|c| store::environments(c))?;
            let mut out = std::io::stdout().lock();
            if json {
                serde_json::to_writer_pretty(&mut out, &envs).map_err(Failure::failed)?;
                writeln!(out)?;
            } else if envs.is_empty() {
                eprintln!(
                    "No environments yet. Add one with: kw env set NAME --var host=api.example.com"
                );
            } else {
                for e in envs {
                    let vars: Vec<String> = e.variables.keys().cloned().collect();
                    writeln!(
                        out,
                        "{:<16} {}{}{}",
                        e.name,
                        if vars.is_empty() {
                            "no variables".into()
                        } else {
                            vars.join(", ")
                        },
                        e.query_param
                            .map(|q| format!("; adds ?{}={}", q.name, q.value))
                            .unwrap_or_default(),
                        if e.production { "; production" } else { "" }
                    )?;
                }
            }
        }
        EnvCmd::Rm { name } => {
            vault.with_db(|c| store::delete_environment(c, &name))?;
            eprintln!("Deleted environment {name}.");
        }
    }
    Ok(())
}

pub fn history(args: HistoryArgs) -> Outcome {
    let vault = open(false)?;
    if args.clear {
        vault.with_db(|c| store::clear_history(c))?;
        eprintln!("History cleared.");
        return Ok(());
    }
    let entries = vault.with_db(|c| store::history(c, args.limit))?;
    let mut out = std::io::stdout().lock();
    if args.json {
        serde_json::to_writer_pretty(&mut out, &entries).map_err(Failure::failed)?;
        writeln!(out)?;
        return Ok(());
    }
    if entries.is_empty() {
        eprintln!("No requests sent yet.");
    }
    for e in entries {
        let outcome = match (e.status, &e.error) {
            (Some(s), _) => s.to_string(),
            (None, Some(err)) => format!("error: {err}"),
            _ => "-".into(),
        };
        let secrets: Vec<String> = e
            .secrets
            .iter()
            .map(|s| format!("{} {}", s.name, s.fingerprint))
            .collect();
        writeln!(
            out,
            "{:>5}  {}  {:<6} {}  -> {}{}",
            e.id,
            crate::input::date(e.sent_at),
            e.spec.method,
            e.spec.url,
            outcome,
            if secrets.is_empty() {
                String::new()
            } else {
                format!("  [{}]", secrets.join(", "))
            }
        )?;
    }
    Ok(())
}
