use std::sync::{Arc, Mutex};
use std::time::Duration;

use sha2::{Digest, Sha256};

/// How long a copied secret stays on the clipboard.
pub const CLIPBOARD_CLEAR_AFTER: Duration = Duration::from_secs(30);

/// The system clipboard, as the host provides it.
pub trait Clipboard: Send + Sync {
    fn set_text(&self, text: &str) -> Result<(), String>;
    fn get_text(&self) -> Option<String>;
    fn clear(&self) -> Result<(), String>;
}

/// Remembers a digest of what was copied (never the value) so that the clipboard is
/// cleared later only if it still holds our value, not something the person copied since.
/// The generation of the last copy and the SHA-256 of what it copied.
type Copied = Option<(u64, [u8; 32])>;

pub(crate) struct ClipboardGuard {
    clipboard: Arc<dyn Clipboard>,
    copied: Arc<Mutex<Copied>>,
    generation: Arc<std::sync::atomic::AtomicU64>,
}

fn digest(text: &str) -> [u8; 32] {
    Sha256::digest(text.as_bytes()).into()
}

impl ClipboardGuard {
    pub fn new(clipboard: Arc<dyn Clipboard>) -> Self {
        Self {
            clipboard,
            copied: Arc::default(),
            generation: Arc::default(),
        }
    }

    /// Copies `text` and schedules a clear after `after`.
    pub fn copy(&self, text: &str, after: Duration) -> Result<(), String> {
        self.clipboard.set_text(text)?;
        let generation = self
            .generation
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst)
            + 1;
        *lock(&self.copied) = Some((generation, digest(text)));
        let clipboard = Arc::clone(&self.clipboard);
        let copied = Arc::clone(&self.copied);
        std::thread::Builder::new()
            .name("keywarden-clipboard".into())
            .spawn(move || {
                std::thread::sleep(after);
                let mut slot = lock(&copied);
                if let Some((g, d)) = *slot
                    && g == generation
                {
                    clear_if_ours(&*clipboard, &d);
                    *slot = None;
                }
            })
            .map_err(|e| e.to_string())?;
        Ok(())
    }

    /// Copies text that holds no secret: no timer, and it cancels a pending clear.
    pub fn copy_plain(&self, text: &str) -> Result<(), String> {
        self.clipboard.set_text(text)?;
        *lock(&self.copied) = None;
        Ok(())
    }

    /// Clears the clipboard now if it still holds a copied value (on quit).
    pub fn clear_now(&self) {
        if let Some((_, d)) = lock(&self.copied).take() {
            clear_if_ours(&*self.clipboard, &d);
        }
    }
}

fn clear_if_ours(clipboard: &dyn Clipboard, d: &[u8; 32]) {
    let current = clipboard.get_text();
    if current.as_deref().map(digest).as_ref() == Some(d)
        && let Err(err) = clipboard.clear()
    {
        tracing::warn!(error = %err, "could not clear the clipboard");
    }
    if let Some(mut text) = current {
        zeroize::Zeroize::zeroize(&mut text);
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A clipboard in memory.
    #[derive(Default)]
    pub struct FakeClipboard(pub Mutex<Option<String>>);

    impl Clipboard for FakeClipboard {
        fn set_text(&self, text: &str) -> Result<(), String> {
            *lock(&self.0) = Some(text.to_owned());
            Ok(())
        }
        fn get_text(&self) -> Option<String> {
            lock(&self.0).clone()
        }
        fn clear(&self) -> Result<(), String> {
            *lock(&self.0) = None;
            Ok(())
        }
    }

    #[test]
    fn clears_only_our_value() {
        let cb = Arc::new(FakeClipboard::default());
        let guard = ClipboardGuard::new(cb.clone());
        guard.copy("secret-1", Duration::from_millis(50)).unwrap();
        assert_eq!(cb.get_text().as_deref(), Some("secret-1"));
        std::thread::sleep(Duration::from_millis(200));
        assert_eq!(cb.get_text(), None);

        guard.copy("secret-2", Duration::from_millis(50)).unwrap();
        cb.set_text("something the person copied").unwrap();
        std::thread::sleep(Duration::from_millis(200));
        assert_eq!(
            cb.get_text().as_deref(),
            Some("something the person copied")
        );
    }

    #[test]
    fn a_newer_copy_restarts_the_timer_and_quit_clears() {
        let cb = Arc::new(FakeClipboard::default());
        let guard = ClipboardGuard::new(cb.clone());
        guard.copy("first", Duration::from_millis(50)).unwrap();
        guard.copy("second", Duration::from_secs(60)).unwrap();
        std::thread::sleep(Duration::from_millis(200));
        assert_eq!(cb.get_text().as_deref(), Some("second"));
        guard.clear_now();
        assert_eq!(cb.get_text(), None);
    }
}
