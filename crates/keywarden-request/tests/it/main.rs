//! Composer tests: exact wire bytes on a loopback recorder, redirects, destination
//! binding, pre-flight checks, history and canaries (one test binary for the crate).

mod recorder;

mod compose;
mod history;
mod mask;
mod preflight;
mod redirects;
mod wire;

use std::sync::Arc;

use keywarden_core::{HostPattern, SecretName, SecretValue};
use keywarden_request::{
    Environment, KeyProfile, PreparedRequest, RequestSpec, Style, VaultResolver,
};
use keywarden_vault::{MemoryStore, SecretFields, Vault};

pub struct Fixture {
    pub vault: Vault,
    pub store: Arc<MemoryStore>,
    pub _dir: tempfile::TempDir,
}

impl Default for Fixture {
    fn default() -> Self {
        Self::new()
    }
}

impl Fixture {
    pub fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(MemoryStore::new());
        let conn = keywarden_vault::db::open(&dir.path().join("keywarden.db")).unwrap();
        let vault = Vault::with_store(conn, store.clone(), dir.path().to_path_buf());
        Self {
            vault,
            store,
            _dir: dir,
        }
    }

    pub fn secret(&self, name: &str, value: &str) -> &Self {
        self.secret_with(name, value, |_| {})
    }

    pub fn secret_with(&self, name: &str, value: &str, f: impl FnOnce(&mut SecretFields)) -> &Self {
        let mut fields = SecretFields::named(SecretName::new(name).unwrap());
        f(&mut fields);
        self.vault
            .create(fields, true, &SecretValue::new(value).unwrap())
            .unwrap();
        self
    }

    pub fn prepare(
        &self,
        spec: &RequestSpec,
        profile: Option<&KeyProfile>,
        env: Option<&Environment>,
    ) -> Result<PreparedRequest, keywarden_request::RequestError> {
        let mut resolver = VaultResolver::new(&self.vault, env);
        keywarden_request::prepare(spec, profile, env, &mut resolver)
    }
}

pub fn profile(secret: &str, style: Style) -> KeyProfile {
    KeyProfile {
        name: "test".into(),
        description: String::new(),
        secret: SecretName::new(secret).unwrap(),
        style,
        allowed_hosts: vec![],
        https_only: false,
    }
}

pub fn hosts(list: &[&str]) -> Vec<HostPattern> {
    list.iter().map(|h| HostPattern::new(*h).unwrap()).collect()
}

pub fn block_on<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(f)
}

pub fn sender() -> keywarden_request::Sender {
    keywarden_request::Sender::new(Default::default()).unwrap()
}
