//! The local SQLite database: opening, schema checks and forward-only migrations.

use std::path::Path;

use rusqlite::{Connection, OpenFlags};

/// Numbered migrations, applied in order. Only ever append to this list; never edit
/// a migration that has shipped.
const MIGRATIONS: &[&str] = &[
    include_str!("migrations/0001_vault.sql"),
    include_str!("migrations/0002_requests.sql"),
    include_str!("migrations/0003_admin.sql"),
    include_str!("migrations/0004_pending_meta.sql"),
];

/// The schema version this build writes.
pub const SCHEMA_VERSION: u32 = MIGRATIONS.len() as u32;

#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error(
        "the database at {path} is damaged or is not a Keywarden database ({detail}); it was left untouched. Move it aside to start afresh, or restore a backup"
    )]
    Corrupt { path: String, detail: String },
    #[error(
        "the database at {path} was written by a newer Keywarden (schema {found}; this build knows {known}); it was left untouched. Upgrade Keywarden to use it"
    )]
    NewerSchema {
        path: String,
        found: u32,
        known: u32,
    },
    #[error("cannot open the database at {path}: {detail}")]
    Open { path: String, detail: String },
    #[error("the disk is full; nothing was changed")]
    DiskFull,
    #[error("database error: {0}")]
    Sqlite(String),
}

impl From<rusqlite::Error> for DbError {
    fn from(e: rusqlite::Error) -> Self {
        if let rusqlite::Error::SqliteFailure(f, _) = &e
            && f.code == rusqlite::ErrorCode::DiskFull
        {
            return DbError::DiskFull;
        }
        DbError::Sqlite(e.to_string())
    }
}

const SQLITE_MAGIC: &[u8; 16] = b"SQLite format 3\0";

/// Opens (creating if needed) the database at `path`, checks it and migrates it.
///
/// A file that is not SQLite, fails `quick_check`, or carries a newer schema
/// version is refused with nothing written to it.
pub fn open(path: &Path) -> Result<Connection, DbError> {
    let shown = path.display().to_string();
    if let Ok(meta) = std::fs::metadata(path)
        && meta.len() > 0
    {
        let mut head = [0u8; 16];
        let read = std::fs::File::open(path)
            .and_then(|mut f| std::io::Read::read_exact(&mut f, &mut head))
            .is_ok();
        if !read || &head != SQLITE_MAGIC {
            return Err(DbError::Corrupt {
                path: shown,
                detail: "not an SQLite file".into(),
            });
        }
    }
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| DbError::Open {
            path: shown.clone(),
            detail: e.to_string(),
        })?;
    }
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(|e| DbError::Open {
        path: shown.clone(),
        detail: e.to_string(),
    })?;
    let corrupt = |e: rusqlite::Error| DbError::Corrupt {
        path: shown.clone(),
        detail: e.to_string(),
    };

    let found: u32 = conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .map_err(corrupt)?;
    if found > SCHEMA_VERSION {
        return Err(DbError::NewerSchema {
            path: shown,
            found,
            known: SCHEMA_VERSION,
        });
    }
    if found > 0 {
        let check: String = conn
            .query_row("PRAGMA quick_check", [], |r| r.get(0))
            .map_err(corrupt)?;
        if check != "ok" {
            return Err(DbError::Corrupt {
                path: shown,
                detail: check,
            });
        }
    }
    conn.busy_timeout(std::time::Duration::from_secs(5))?;
    conn.query_row("PRAGMA journal_mode = WAL", [], |_| Ok(()))
        .map_err(corrupt)?;
    conn.execute_batch("PRAGMA foreign_keys = ON; PRAGMA synchronous = NORMAL;")?;
    migrate(&conn, found)?;
    restrict_permissions(path);
    Ok(conn)
}

/// An in-memory database with the current schema, for tests.
pub fn open_in_memory() -> Result<Connection, DbError> {
    let conn = Connection::open_in_memory()?;
    conn.execute_batch("PRAGMA foreign_keys = ON;")?;
    migrate(&conn, 0)?;
    Ok(conn)
}

fn migrate(conn: &Connection, from: u32) -> Result<(), DbError> {
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(from as usize) {
        let version = i as u32 + 1;
        let tx = conn.unchecked_transaction()?;
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", version)?;
        tx.commit()?;
        tracing::info!(version, "database migrated");
    }
    Ok(())
}

#[cfg(unix)]
fn restrict_permissions(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    let _ = std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600));
}

#[cfg(not(unix))]
fn restrict_permissions(_path: &Path) {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn creates_migrates_and_reopens() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/k.db");
        let conn = open(&path).unwrap();
        let v: u32 = conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .unwrap();
        assert_eq!(v, SCHEMA_VERSION);
        let mode: String = conn
            .query_row("PRAGMA journal_mode", [], |r| r.get(0))
            .unwrap();
        assert_eq!(mode, "wal");
        drop(conn);
        open(&path).unwrap();
    }

    #[test]
    fn refuses_garbage_and_leaves_it_untouched() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("k.db");
        std::fs::write(&path, b"this is not a database at all, just text").unwrap();
        let err = open(&path).unwrap_err();
        assert!(matches!(err, DbError::Corrupt { .. }), "{err}");
        assert!(err.to_string().contains("left untouched"));
        assert_eq!(
            std::fs::read(&path).unwrap(),
            b"this is not a database at all, just text"
        );
    }

    #[test]
    fn refuses_newer_schema() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("k.db");
        {
            let conn = open(&path).unwrap();
            conn.pragma_update(None, "user_version", SCHEMA_VERSION + 5)
                .unwrap();
        }
        let before = std::fs::read(&path).unwrap();
        let err = open(&path).unwrap_err();
        assert!(
            matches!(err, DbError::NewerSchema { found, .. } if found == SCHEMA_VERSION + 5),
            "{err}"
        );
        assert_eq!(std::fs::read(&path).unwrap(), before);
    }

    #[test]
    fn refuses_a_damaged_database() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("k.db");
        {
            let conn = open(&path).unwrap();
            conn.execute_batch("PRAGMA journal_mode = DELETE;").unwrap();
            for i in 0..200 {
                conn.execute(
                    "INSERT INTO meta (key, value) VALUES (?1, ?2)",
                    (format!("k{i}"), "v".repeat(200)),
                )
                .unwrap();
            }
        }
        // Keep the header, scribble over the pages after it.
        let mut bytes = std::fs::read(&path).unwrap();
        assert!(bytes.len() > 8192);
        for b in &mut bytes[4096..8192] {
            *b = 0xA5;
        }
        std::fs::write(&path, &bytes).unwrap();
        let err = open(&path).unwrap_err();
        assert!(matches!(err, DbError::Corrupt { .. }), "{err}");
        assert_eq!(std::fs::read(&path).unwrap(), bytes);
    }
}
