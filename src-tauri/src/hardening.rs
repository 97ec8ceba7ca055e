//! Process hardening applied before anything secret is in memory.

/// Release builds: no core dumps (they would hold secret values) and, on Linux, no
/// ptrace attach by other processes of the same user. Debug builds keep both for debugging.
pub fn disable_core_dumps() {
    if cfg!(debug_assertions) {
        return;
    }
    #[cfg(unix)]
    {
        use nix::sys::resource::{Resource, setrlimit};
        if let Err(err) = setrlimit(Resource::RLIMIT_CORE, 0, 0) {
            tracing::warn!(error = %err, "could not disable core dumps");
        }
    }
    #[cfg(any(target_os = "linux", target_os = "android"))]
    {
        if let Err(err) = nix::sys::prctl::set_dumpable(false) {
            tracing::warn!(error = %err, "could not mark the process non-dumpable");
        }
    }
}
