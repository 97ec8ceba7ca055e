//! Profiles, environments, saved requests and history in the local database.
//!
//! Only templates, names and fingerprints are written here; a rendered value never is.

use rusqlite::{Connection, OptionalExtension, params};
use serde::{Deserialize, Serialize};

use crate::environment::Environment;
use crate::error::RequestError;
use crate::prepare::PreparedRequest;
use crate::profile::KeyProfile;
use crate::spec::RequestSpec;

/// History keeps this many entries; older ones are removed.
pub const HISTORY_LIMIT: i64 = 1000;

fn to_json<T: Serialize>(v: &T) -> Result<String, RequestError> {
    serde_json::to_string(v).map_err(|e| RequestError::Db(e.to_string()))
}

fn from_json<T: for<'de> Deserialize<'de>>(s: &str) -> Result<T, RequestError> {
    serde_json::from_str(s)
        .map_err(|e| RequestError::Db(format!("a stored record is unreadable: {e}")))
}

pub fn save_profile(conn: &Connection, p: &KeyProfile) -> Result<(), RequestError> {
    p.validate()?;
    let now = keywarden_core::now();
    conn.execute(
        "INSERT INTO profiles (name, spec, created_at, updated_at) VALUES (?1, ?2, ?3, ?3)
         ON CONFLICT (name) DO UPDATE SET spec = excluded.spec, updated_at = excluded.updated_at",
        params![p.name, to_json(p)?, now],
    )?;
    Ok(())
}

pub fn profiles(conn: &Connection) -> Result<Vec<KeyProfile>, RequestError> {
    let mut stmt = conn.prepare("SELECT spec FROM profiles ORDER BY name COLLATE NOCASE")?;
    let rows = stmt.query_map([], |r| r.get::<_, String>(0))?;
    rows.map(|r| from_json(&r?)).collect()
}

pub fn profile(conn: &Connection, name: &str) -> Result<KeyProfile, RequestError> {
    let spec: Option<String> = conn
        .query_row("SELECT spec FROM profiles WHERE name = ?1", [name], |r| {
            r.get(0)
        })
        .optional()?;
    spec.map(|s| from_json(&s))
        .transpose()?
        .ok_or_else(|| RequestError::UnknownProfile(name.to_owned()))
}

pub fn delete_profile(conn: &Connection, name: &str) -> Result<(), RequestError> {
    match conn.execute("DELETE FROM profiles WHERE name = ?1", [name])? {
        0 => Err(RequestError::UnknownProfile(name.to_owned())),
        _ => Ok(()),
    }
}

pub fn save_environment(conn: &Connection, e: &Environment) -> Result<(), RequestError> {
    e.validate()?;
    let now = keywarden_core::now();
    conn.execute(
        "INSERT INTO environments (name, spec, created_at, updated_at) VALUES (?1, ?2, ?3, ?3)
         ON CONFLICT (name) DO UPDATE SET spec = excluded.spec, updated_at = excluded.updated_at",
        params![e.name, to_json(e)?, now],
    )?;
    Ok(())
}

pub fn environments(conn: &Connection) -> Result<Vec<Environment>, RequestError> {
    let mut stmt = conn.prepare("SELECT spec FROM environments ORDER BY name COLLATE NOCASE")?;
    let rows = stmt.query_map([], |r| r.get::<_, String>(0))?;
    rows.map(|r| from_json(&r?)).collect()
}

pub fn environment(conn: &Connection, name: &str) -> Result<Environment, RequestError> {
    let spec: Option<String> = conn
        .query_row(
            "SELECT spec FROM environments WHERE name = ?1",
            [name],
            |r| r.get(0),
        )
        .optional()?;
    spec.map(|s| from_json(&s))
        .transpose()?
        .ok_or_else(|| RequestError::UnknownEnvironment(name.to_owned()))
}

pub fn delete_environment(conn: &Connection, name: &str) -> Result<(), RequestError> {
    match conn.execute("DELETE FROM environments WHERE name = ?1", [name])? {
        0 => Err(RequestError::UnknownEnvironment(name.to_owned())),
        _ => Ok(()),
    }
}

/// A request saved in a collection.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "camelCase")]
pub struct SavedRequest {
    pub id: String,
    pub collection: String,
    pub name: String,
    pub spec: RequestSpec,
}

pub fn save_request(
    conn: &Connection,
    collection: &str,
    name: &str,
    spec: &RequestSpec,
) -> Result<SavedRequest, RequestError> {
    let (collection, name) = (collection.trim(), name.trim());
    if name.is_empty() || name.len() > 200 {
        return Err(RequestError::invalid(
            "name",
            "a saved request needs a name of at most 200 characters",
        ));
    }
    let collection = if collection.is_empty() {
        "Default"
    } else {
        collection
    };
    let now = keywarden_core::now();
    let id: String = conn.query_row(
        "INSERT INTO saved_requests (id, collection, name, spec, created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?5)
         ON CONFLICT (collection, name) DO UPDATE SET spec = excluded.spec, updated_at = excluded.updated_at
         RETURNING id",
        params![uuid_v4(), collection, name, to_json(spec)?, now],
        |r| r.get(0),
    )?;
    Ok(SavedRequest {
        id,
        collection: collection.to_owned(),
        name: name.to_owned(),
        spec: spec.clone(),
    })
}

fn uuid_v4() -> String {
    let b = keywarden_core::SecretBytes::random(16);
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(b.expose());
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    let h: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &h[..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..]
    )
}

pub fn saved_requests(conn: &Connection) -> Result<Vec<SavedRequest>, RequestError> {
    let mut stmt = conn.prepare(
        "SELECT id, collection, name, spec FROM saved_requests ORDER BY collection COLLATE NOCASE, name COLLATE NOCASE",
    )?;
    let rows = stmt.query_map([], |r| {
        Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get::<_, String>(3)?))
    })?;
    rows.map(|r| {
        let (id, collection, name, spec) = r?;
        Ok(SavedRequest {
            id,
            collection,
            name,
            spec: from_json(&spec)?,
        })
    })
    .collect()
}

pub fn delete_saved_request(conn: &Connection, id: &str) -> Result<(), RequestError> {
    conn.execute("DELETE FROM saved_requests WHERE id = ?1", [id])?;
    Ok(())
}

/// A secret that went into a request, by name and fingerprint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "camelCase")]
pub struct UsedSecretRef {
    pub name: String,
    pub fingerprint: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "camelCase")]
pub struct HistoryEntry {
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub id: i64,
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub sent_at: i64,
    pub spec: RequestSpec,
    pub secrets: Vec<UsedSecretRef>,
    pub status: Option<u16>,
    pub error: Option<String>,
    #[cfg_attr(feature = "ts", ts(type = "number | null"))]
    pub duration_ms: Option<i64>,
    #[cfg_attr(feature = "ts", ts(type = "number | null"))]
    pub response_bytes: Option<i64>,
}

/// Records a sent request: its templates and the fingerprints of its secrets.
pub fn record_history(
    conn: &Connection,
    spec: &RequestSpec,
    prepared: Option<&PreparedRequest>,
    outcome: Result<(u16, std::time::Duration, usize), &str>,
) -> Result<i64, RequestError> {
    let secrets: Vec<UsedSecretRef> = prepared
        .map(|p| {
            p.secrets
                .iter()
                .map(|s| UsedSecretRef {
                    name: s.name.clone(),
                    fingerprint: s.fingerprint.clone(),
                })
                .collect()
        })
        .unwrap_or_default();
    let (status, error, duration, bytes) = match outcome {
        Ok((status, d, n)) => (
            Some(status),
            None,
            Some(d.as_millis() as i64),
            Some(n as i64),
        ),
        Err(e) => (None, Some(e.to_owned()), None, None),
    };
    conn.execute(
        "INSERT INTO history (sent_at, spec, secrets, status, error, duration_ms, response_bytes)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        params![
            keywarden_core::now(),
            to_json(spec)?,
            to_json(&secrets)?,
            status,
            error,
            duration,
            bytes
        ],
    )?;
    let id = conn.last_insert_rowid();
    conn.execute("DELETE FROM history WHERE id <= ?1", [id - HISTORY_LIMIT])?;
    Ok(id)
}

pub fn history(conn: &Connection, limit: u32) -> Result<Vec<HistoryEntry>, RequestError> {
    let mut stmt = conn.prepare(
        "SELECT id, sent_at, spec, secrets, status, error, duration_ms, response_bytes
         FROM history ORDER BY id DESC LIMIT ?1",
    )?;
    let rows = stmt.query_map([limit], |r| {
        Ok((
            r.get::<_, i64>(0)?,
            r.get::<_, i64>(1)?,
            r.get::<_, String>(2)?,
            r.get::<_, String>(3)?,
            r.get::<_, Option<u16>>(4)?,
            r.get::<_, Option<String>>(5)?,
            r.get::<_, Option<i64>>(6)?,
            r.get::<_, Option<i64>>(7)?,
        ))
    })?;
    rows.map(|r| {
        let (id, sent_at, spec, secrets, status, error, duration_ms, response_bytes) = r?;
        Ok(HistoryEntry {
            id,
            sent_at,
            spec: from_json(&spec)?,
            secrets: from_json(&secrets)?,
            status,
            error,
            duration_ms,
            response_bytes,
        })
    })
    .collect()
}

pub fn clear_history(conn: &Connection) -> Result<(), RequestError> {
    conn.execute("DELETE FROM history", [])?;
    Ok(())
}
