//! The keychain store against the real Secret Service (run under scripts/with-keyring.sh).

use keywarden_vault::SecretStore;
use keywarden_vault::keychain::KeychainStore;

use crate::value;

/// The real Secret Service; under the test command and CI its absence fails the test.
fn available() -> bool {
    keywarden_testkit::secret_service()
}

#[test]
fn keychain_round_trips_awkward_values() {
    if !available() {
        return;
    }
    let store = KeychainStore::new(format!("keywarden-it:{}", std::process::id()));
    let info = store.info();
    assert!(info.persistent);
    assert!(info.label.contains("Secret Service"), "{}", info.label);
    for (i, text) in [
        "plain",
        "multi\nline\n",
        "  padded  ",
        "{\"json\": [1, 2]}",
        "ünïcødé",
    ]
    .iter()
    .enumerate()
    {
        let key = format!("k{i}");
        store.set(&key, &value(text)).unwrap();
        assert_eq!(store.get(&key).unwrap().unwrap().expose(), *text);
        store.set(&key, &value("overwritten")).unwrap();
        assert_eq!(store.get(&key).unwrap().unwrap().expose(), "overwritten");
        store.delete(&key).unwrap();
        assert_eq!(store.get(&key).unwrap(), None);
        store.delete(&key).unwrap();
    }
}

#[test]
fn a_vault_on_the_real_keychain_passes_its_self_test() {
    if !available() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let vault = keywarden_vault::Vault::open(dir.path()).unwrap();
    vault.self_test().unwrap();
    let s = vault
        .create(crate::fields("real"), true, &value("real-value"))
        .unwrap();
    assert_eq!(
        vault
            .read("real", keywarden_vault::Purpose::Use)
            .unwrap()
            .1
            .expose(),
        "real-value"
    );
    vault.delete(&s.id).unwrap();
}
