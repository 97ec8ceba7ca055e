//! The system clipboard for the core's [`Clipboard`] trait. Copying happens here, in Rust;
//! the webview never sees a copied value.

use std::sync::Mutex;

use keywarden_app::Clipboard;

/// One `arboard` clipboard kept alive for the whole session: on X11 and Wayland the
/// owner of a selection must live for others to paste it. Created on first use, so a
/// session without a display still starts (copy then reports why it failed).
#[derive(Default)]
pub struct SystemClipboard {
    inner: Mutex<Option<arboard::Clipboard>>,
}

impl SystemClipboard {
    fn with<T>(
        &self,
        f: impl FnOnce(&mut arboard::Clipboard) -> Result<T, arboard::Error>,
    ) -> Result<T, String> {
        let mut slot = self
            .inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if slot.is_none() {
            *slot = Some(arboard::Clipboard::new().map_err(describe)?);
        }
        let clipboard = slot.as_mut().ok_or("the clipboard is not available")?;
        f(clipboard).map_err(describe)
    }
}

fn describe(err: arboard::Error) -> String {
    match err {
        arboard::Error::ClipboardNotSupported | arboard::Error::ClipboardOccupied => {
            "the system clipboard is not available in this session".into()
        }
        // arboard's messages name the operation, never the content.
        other => other.to_string(),
    }
}

impl Clipboard for SystemClipboard {
    fn set_text(&self, text: &str) -> Result<(), String> {
        self.with(|c| c.set_text(text))
    }

    fn get_text(&self) -> Option<String> {
        self.with(|c| c.get_text()).ok()
    }

    fn clear(&self) -> Result<(), String> {
        self.with(|c| c.clear())
    }
}
