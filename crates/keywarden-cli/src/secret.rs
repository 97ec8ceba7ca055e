use std::io::{IsTerminal, Write};

use keywarden_core::{SecretName, now};
use keywarden_vault::{
    Backend, Health, Purpose, SecretFields, SecretPatch, Target, Upserted, Vault, VaultError,
};

use crate::cli::{SecretCmd, SetArgs};
use crate::{Failure, Outcome, input};

/// Opens the profile's vault. `values`: the command reads or writes values, so a
/// vault file must be unlocked first.
pub fn open(values: bool) -> Result<Vault, Failure> {
    let vault = Vault::open(&keywarden_vault::default_home())?;
    if values && vault.backend() == Backend::File {
        vault.unlock(&input::passphrase(false)?)?;
    }
    if let Ok(report) = vault.repair()
        && report != Default::default()
    {
        tracing::info!(?report, "repaired interrupted operations");
    }
    Ok(vault)
}

pub fn run(cmd: SecretCmd) -> Outcome {
    match cmd {
        SecretCmd::Set(args) => set(args),
        SecretCmd::Get { name } => get(&name),
        SecretCmd::List { search, json } => list(search.as_deref(), json),
        SecretCmd::Rm { name } => {
            open(true)?.delete(&name)?;
            eprintln!("Deleted {name}.");
            Ok(())
        }
        SecretCmd::Enable { name } => enable(&name, true),
        SecretCmd::Disable { name } => enable(&name, false),
        SecretCmd::Rename { name, new_name } => rename(&name, &new_name),
        SecretCmd::History { name, json } => history(&name, json),
        SecretCmd::Status { check, json } => status(check, json),
    }
}

fn set(args: SetArgs) -> Outcome {
    let now = now();
    let expires_at = args
        .expires
        .as_deref()
        .map(|e| input::expiry(e, now))
        .transpose()?;
    // Validate every field before asking for the value. Flags left out keep what an
    // existing secret has; the merge happens inside the vault's one operation.
    let name = SecretName::new(args.name.trim()).map_err(|e| VaultError::invalid("name", e))?;
    let mut patch = SecretPatch::parse(
        args.description.as_deref(),
        (!args.tags.is_empty()).then_some(args.tags.as_slice()),
        args.environment.as_deref(),
        expires_at,
        (!args.hosts.is_empty()).then_some(args.hosts.as_slice()),
    )?;
    if args.disabled {
        patch.enabled = Some(false);
    }
    let vault = open(true)?;
    let value = input::secret_value(name.as_str())?;
    let (meta, done) = vault.upsert(Target::Named(name), patch, Some(&value))?;
    // Said only now: the value and its row are on disk.
    match done {
        Upserted::Created => eprintln!(
            "Stored {} ({}) in the {}.",
            meta.name,
            meta.fingerprint,
            vault.status()?.store.label
        ),
        Upserted::Replaced => eprintln!(
            "Replaced the value of {} (version {}, {}).",
            meta.name, meta.version, meta.fingerprint
        ),
        Upserted::Updated => eprintln!("Updated {}.", meta.name),
    }
    Ok(())
}

fn get(name: &str) -> Outcome {
    let vault = open(true)?;
    let (_, value) = vault.read(name, Purpose::Use)?;
    let mut out = std::io::stdout().lock();
    out.write_all(value.expose().as_bytes())?;
    if std::io::stdout().is_terminal() && !value.expose().ends_with('\n') {
        out.write_all(b"\n")?;
    }
    out.flush()?;
    Ok(())
}

fn list(search: Option<&str>, json: bool) -> Outcome {
    let vault = open(false)?;
    let at = now();
    let secrets = vault.list(search)?;
    let mut out = std::io::stdout().lock();
    if json {
        let summaries: Vec<_> = secrets
            .iter()
            .map(|m| keywarden_app::summary(m, at))
            .collect();
        serde_json::to_writer_pretty(&mut out, &summaries).map_err(Failure::failed)?;
        writeln!(out)?;
        return Ok(());
    }
    if secrets.is_empty() {
        match search {
            Some(s) => eprintln!("No secret matches {s:?}."),
            None => eprintln!("No secrets yet. Add one with: kw secret set NAME"),
        }
        return Ok(());
    }
    let width = secrets
        .iter()
        .map(|m| m.name.as_str().len())
        .max()
        .unwrap_or(4)
        .max(4);
    writeln!(
        out,
        "{:<width$}  {:<12}  {:<8}  {:<18}  {:<22}  TAGS",
        "NAME", "ENV", "STATE", "EXPIRES", "FINGERPRINT"
    )?;
    for m in &secrets {
        let expires = match (m.expires_at, m.expiry(at)) {
            (Some(t), keywarden_vault::Expiry::Expired) => format!("{} expired", input::date(t)),
            (Some(t), keywarden_vault::Expiry::Soon) => format!("{} soon", input::date(t)),
            (Some(t), _) => input::date(t),
            (None, _) => "-".into(),
        };
        let tags: Vec<&str> = m.tags.iter().map(|t| t.as_str()).collect();
        writeln!(
            out,
            "{:<width$}  {:<12}  {:<8}  {:<18}  {:<22}  {}",
            m.name.as_str(),
            m.environment.as_ref().map(|e| e.as_str()).unwrap_or("-"),
            if m.enabled { "enabled" } else { "disabled" },
            expires,
            m.fingerprint.to_string(),
            tags.join(",")
        )?;
    }
    Ok(())
}

fn enable(name: &str, enabled: bool) -> Outcome {
    let meta = open(false)?.set_enabled(name, enabled)?;
    eprintln!(
        "{} is {}.",
        meta.name,
        if enabled { "enabled" } else { "disabled" }
    );
    Ok(())
}

fn rename(name: &str, new_name: &str) -> Outcome {
    let vault = open(false)?;
    let meta = vault.find(name)?;
    let fields = SecretFields::parse(
        new_name,
        &meta.description,
        &meta.tags.iter().map(|t| t.to_string()).collect::<Vec<_>>(),
        meta.environment.as_ref().map(|e| e.as_str()),
        meta.expires_at,
        &meta
            .allowed_hosts
            .iter()
            .map(|h| h.to_string())
            .collect::<Vec<_>>(),
    )?;
    let meta = vault.update(&meta.id, fields)?;
    eprintln!("Renamed {name} to {}.", meta.name);
    Ok(())
}

fn history(name: &str, json: bool) -> Outcome {
    let versions = open(false)?.versions(name)?;
    let mut out = std::io::stdout().lock();
    if json {
        let rows: Vec<_> = versions
            .iter()
            .map(|v| {
                serde_json::json!({
                    "version": v.version,
                    "fingerprint": v.fingerprint.to_string(),
                    "createdAt": v.created_at,
                    "retiredAt": v.retired_at,
                })
            })
            .collect();
        serde_json::to_writer_pretty(&mut out, &rows).map_err(Failure::failed)?;
        writeln!(out)?;
        return Ok(());
    }
    writeln!(out, "VERSION  FINGERPRINT             CREATED     RETIRED")?;
    for v in versions {
        writeln!(
            out,
            "{:<7}  {:<22}  {}  {}",
            v.version,
            v.fingerprint.to_string(),
            input::date(v.created_at),
            v.retired_at
                .map(input::date)
                .unwrap_or_else(|| "current".into())
        )?;
    }
    Ok(())
}

fn status(check: bool, json: bool) -> Outcome {
    let vault = Vault::open(&keywarden_vault::default_home())?;
    let needs_unlock = vault.backend() == Backend::File;
    let unlock_error = if needs_unlock {
        input::passphrase(false)
            .and_then(|p| Ok(vault.unlock(&p)?))
            .err()
    } else {
        None
    };
    let _ = vault.self_test();
    let repair = vault.repair().ok();
    let missing = if check && unlock_error.is_none() {
        vault.missing_values().ok()
    } else {
        None
    };
    let s = vault.status()?;
    let (health, message) = match &s.health {
        Health::Ok => ("ok", None),
        Health::Untested => ("untested", None),
        Health::Failed(e) => (
            if matches!(
                e,
                keywarden_vault::StoreError::Locked(_) | keywarden_vault::StoreError::VaultLocked
            ) {
                "locked"
            } else {
                "unavailable"
            },
            Some(e.to_string()),
        ),
    };
    let message = message.or(unlock_error.as_ref().map(|f| f.message.clone()));
    let mut out = std::io::stdout().lock();
    if json {
        let v = serde_json::json!({
            "backend": match vault.backend() { Backend::File => "file", Backend::Keychain => "keychain" },
            "backendLabel": s.store.label,
            "persistent": s.store.persistent,
            "location": s.store.location,
            "health": health,
            "message": message,
            "secretCount": s.secret_count,
            "pendingRepairs": s.pending_repairs,
            "missingValues": missing.as_ref().map(|m| m.iter().map(|n| n.to_string()).collect::<Vec<_>>()),
            "dataDir": s.home.display().to_string(),
        });
        serde_json::to_writer_pretty(&mut out, &v).map_err(Failure::failed)?;
        writeln!(out)?;
    } else {
        writeln!(out, "Store:      {}", s.store.label)?;
        writeln!(out, "Location:   {}", s.store.location)?;
        writeln!(
            out,
            "Persistent: {}",
            if s.store.persistent {
                "yes, values survive a reboot"
            } else {
                "NO, values are lost at reboot"
            }
        )?;
        writeln!(
            out,
            "Health:     {health}{}",
            message
                .as_ref()
                .map(|m| format!(" ({m})"))
                .unwrap_or_default()
        )?;
        writeln!(out, "Secrets:    {}", s.secret_count)?;
        if let Some(r) = &repair
            && *r != Default::default()
        {
            writeln!(out, "Repaired:   {r:?}")?;
        }
        writeln!(out, "Awaiting repair: {}", s.pending_repairs)?;
        match &missing {
            Some(m) if m.is_empty() => writeln!(
                out,
                "Orphans:    none (every secret has its value in the store)"
            )?,
            Some(m) => writeln!(
                out,
                "Orphans:    {} secret(s) without a value in the store: {}",
                m.len(),
                m.iter().map(|n| n.as_str()).collect::<Vec<_>>().join(", ")
            )?,
            None => {}
        }
        writeln!(out, "Data dir:   {}", s.home.display())?;
    }
    if health == "ok" && missing.as_ref().is_none_or(|m| m.is_empty()) && s.pending_repairs == 0 {
        Ok(())
    } else {
        Err(Failure {
            code: 1,
            message: String::new(),
        })
    }
}
