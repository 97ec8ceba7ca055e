use keywarden_vault::Backend;

use crate::cli::StoreCmd;
use crate::{Outcome, input};

pub fn run(cmd: StoreCmd) -> Outcome {
    let vault = keywarden_vault::Vault::open(&keywarden_vault::default_home())?;
    match cmd {
        StoreCmd::UseKeychain => {
            vault.choose_backend(Backend::Keychain, None)?;
            vault
                .self_test()
                .map_err(keywarden_vault::VaultError::from)?;
            eprintln!(
                "Secrets of this profile are now kept in the {}.",
                vault.status()?.store.label
            );
        }
        StoreCmd::UseFile => {
            let passphrase = input::passphrase(true)?;
            vault.choose_backend(Backend::File, Some(&passphrase))?;
            vault
                .self_test()
                .map_err(keywarden_vault::VaultError::from)?;
            eprintln!(
                "Secrets of this profile are now kept in the encrypted vault file {}.",
                vault.status()?.store.location
            );
        }
    }
    Ok(())
}
