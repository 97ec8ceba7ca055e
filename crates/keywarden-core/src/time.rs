/// Seconds since the Unix epoch, UTC. Stored as INTEGER in SQLite and sent as a number over IPC.
pub type Timestamp = i64;

pub fn now() -> Timestamp {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}
