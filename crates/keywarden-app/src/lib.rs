//! The desktop's command layer, free of Tauri.
//!
//! [`App`] holds the command bodies; the Tauri crate (`src-tauri`) only adapts
//! each IPC command to one method here and implements [`Clipboard`]. All methods
//! block (the keychain can take seconds): hosts call them off their async runtime.

mod admin;
mod app;
mod clipboard;
pub mod ipc;
mod requests;

pub use app::{App, summary};
pub use clipboard::{CLIPBOARD_CLEAR_AFTER, Clipboard};
pub use keywarden_vault::default_home;
