use std::collections::HashMap;
use std::time::{Duration, Instant};

use keywarden_admin::{
    GroupInput, KeyInput, Kind, ListFilter, Placement, PrincipalInput, PrincipalKind, RoleInput,
};
use keywarden_vault::Purpose;
use serde_json::{Value, json};

use crate::harness::*;

fn user(name: &str) -> PrincipalInput {
    PrincipalInput {
        kind: PrincipalKind::ServiceUser,
        name: name.into(),
        description: String::new(),
        logo: None,
        enabled: true,
        groups: vec![],
        profiles: vec![],
    }
}

fn key(name: &str) -> KeyInput {
    KeyInput {
        name: name.into(),
        enabled: true,
        ..KeyInput::default()
    }
}

/// Audit entries counted by (action, name or target).
fn audit_counts(server: &KeyServer) -> HashMap<(String, String), usize> {
    let mut counts = HashMap::new();
    for e in server.audit() {
        let action = e["action"].as_str().unwrap_or_default().to_owned();
        let what = e["detail"]["name"]
            .as_str()
            .map(str::to_owned)
            .unwrap_or_else(|| e["target"].as_str().unwrap_or_default().to_owned());
        *counts.entry((action, what)).or_insert(0) += 1;
    }
    counts
}

/// Offline: a group, a role granting `key:use`, a principal in that group and a key for
/// it are created with no server running. When the server starts, one sync maps every
/// local id and the key verifies.
#[test]
fn offline_create_then_sync_and_verify() {
    let server = KeyServer::init();
    let desk = Desk::new();
    assert!(!desk.connect(&server), "nothing listens yet");
    let a = &desk.admin;
    let group = a
        .create_group(
            "main",
            GroupInput {
                name: "deployers".into(),
                description: String::new(),
            },
        )
        .unwrap();
    assert!(group.id.starts_with("local-"));
    a.create_role(
        "main",
        RoleInput {
            name: "use-keys".into(),
            description: String::new(),
            privileges: vec!["key:use".into(), "rest".into()],
            groups: vec![group.id.clone()],
        },
    )
    .unwrap();
    let mut p = user("ci-bot");
    p.groups = vec![group.id.clone()];
    let principal = a.create_principal("main", p).unwrap();
    let created = a
        .create_key("main", &principal.id, key("ci"), Placement::ShowOnce)
        .unwrap();
    let secret = created.key.expect("shown once");
    assert!(format!("{secret:?}").contains("***"));
    let listed = a
        .list(
            "main",
            Kind::Key,
            &ListFilter {
                principal_id: Some(principal.id.clone()),
                ..ListFilter::default()
            },
        )
        .unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].pending, 1, "the key is pending");

    // Still offline: a sync keeps everything queued and says so.
    let report = a.sync("main").unwrap();
    assert!(report.push.unreachable);
    assert_eq!(a.status().unwrap().queued, 4);
    assert_eq!(a.status().unwrap().connections[0].online, Some(false));

    server.start();
    desk.sync_until_idle(20);
    let status = a.status().unwrap();
    assert_eq!((status.queued, status.failed, status.conflicts), (0, 0, 0));
    let principal_id = server_id_of(&desk, Kind::Principal, "ci-bot");
    let keys = a
        .list(
            "main",
            Kind::Key,
            &ListFilter {
                principal_id: Some(principal_id),
                ..ListFilter::default()
            },
        )
        .unwrap();
    assert_eq!(keys.len(), 1);
    assert!(!keys[0].id.starts_with("local-"), "mapped to the server id");
    assert_eq!(keys[0].pending, 0);
    assert_eq!(
        keys[0].body["principal_id"],
        json!(server_id_of(&desk, Kind::Principal, "ci-bot"))
    );
    let verdict = server.verify(secret.expose());
    assert_eq!(verdict["valid"], json!(true), "{verdict}");
    assert_eq!(verdict["key_id"], json!(keys[0].id));
}

fn server_id_of(desk: &Desk, kind: Kind, name: &str) -> String {
    desk.admin.find("main", kind, name).unwrap().id
}

/// Actions on one object keep their order, and a queued revoke is never overtaken:
/// disable, enable, description change and revoke of one key, queued offline.
#[test]
fn per_object_order_and_revoke_last() {
    let server = KeyServer::started();
    let desk = Desk::new();
    assert!(desk.connect(&server));
    let a = &desk.admin;
    let p = a.create_principal("main", user("ordered")).unwrap();
    let k = a
        .create_key("main", &p.id, key("k1"), Placement::ShowOnce)
        .unwrap();
    let secret = k.key.unwrap();
    a.set_enabled("main", Kind::Key, &k.object.id, false)
        .unwrap();
    a.set_enabled("main", Kind::Key, &k.object.id, true)
        .unwrap();
    a.update(
        "main",
        Kind::Key,
        &k.object.id,
        json!({"description": "second"}),
    )
    .unwrap();
    a.revoke_key("main", &k.object.id).unwrap();
    desk.sync_until_idle(20);
    let key_id = server_id_of(&desk, Kind::Key, "k1");
    let actions: Vec<String> = server
        .audit()
        .into_iter()
        .filter(|e| e["target"] == json!(format!("key:{key_id}")))
        .map(|e| e["action"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        actions,
        [
            "key.create",
            "key.disable",
            "key.enable",
            "key.update",
            "key.revoke"
        ]
    );
    assert_eq!(server.verify(secret.expose())["valid"], json!(false));
}

fn faults_scenario(fault: Fault) {
    let server = KeyServer::started();
    let proxy = Proxy::start(server.port);
    let mut options = fast_options();
    options.request_timeout = Duration::from_millis(1000);
    let desk = Desk::with_options(options);
    assert!(desk.connect_url(&proxy.url(), &server.admin_key));
    let a = &desk.admin;
    let mut names = Vec::new();
    for i in 0..12 {
        let name = format!("fault-{i}");
        let p = a.create_principal("main", user(&name)).unwrap();
        a.update(
            "main",
            Kind::Principal,
            &p.id,
            json!({"description": "edited"}),
        )
        .unwrap();
        a.set_enabled("main", Kind::Principal, &p.id, false)
            .unwrap();
        names.push(name);
    }
    proxy.set(fault);
    for _ in 0..3 {
        let _ = a.sync("main");
        std::thread::sleep(Duration::from_millis(50));
    }
    let during = a.status().unwrap();
    assert_eq!(
        during.failed,
        0,
        "transient faults never dead-letter this fast: {:?}",
        a.outbox(Some("main"), &["failed"], 3).unwrap()
    );
    proxy.set(Fault::Pass);
    desk.sync_until_idle(200);
    let status = a.status().unwrap();
    assert_eq!(
        (status.queued, status.failed, status.conflicts),
        (0, 0, 0),
        "{fault:?}"
    );
    let counts = audit_counts(&server);
    for name in &names {
        assert_eq!(
            counts.get(&("principal.create".into(), name.clone())),
            Some(&1),
            "{fault:?} {name}"
        );
        assert_eq!(
            counts.get(&("principal.update".into(), name.clone())),
            Some(&1),
            "{fault:?} {name}"
        );
        assert_eq!(
            counts.get(&("principal.disable".into(), name.clone())),
            Some(&1),
            "{fault:?} {name}"
        );
    }
    if fault == Fault::DropAfterApply {
        // Every dropped answer was applied and then asked again: the replays reached the
        // server, and the audit above still counts one of each.
        let forwarded = proxy.forwarded.load(std::sync::atomic::Ordering::SeqCst);
        assert!(forwarded > 36, "{forwarded} requests forwarded");
    }
    let on_server = server.get("/v1/principals");
    for name in &names {
        let p = on_server
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["name"] == json!(name))
            .unwrap();
        assert_eq!(p["enabled"], json!(false));
        assert_eq!(p["description"], json!("edited"));
    }
}

#[test]
fn fault_server_down() {
    let server = KeyServer::init();
    let desk = Desk::new();
    desk.connect(&server);
    let a = &desk.admin;
    for i in 0..10 {
        a.create_principal("main", user(&format!("down-{i}")))
            .unwrap();
    }
    for _ in 0..5 {
        let r = a.sync("main").unwrap();
        assert!(r.push.unreachable);
    }
    let s = a.status().unwrap();
    assert_eq!(
        (s.queued, s.failed),
        (10, 0),
        "being offline never uses up attempts"
    );
    server.start();
    desk.sync_until_idle(50);
    let counts = audit_counts(&server);
    for i in 0..10 {
        assert_eq!(
            counts.get(&("principal.create".into(), format!("down-{i}"))),
            Some(&1)
        );
    }
}

#[test]
fn fault_refused_connections() {
    faults_scenario(Fault::Refuse);
}

#[test]
fn fault_server_answers_500() {
    faults_scenario(Fault::Error500);
}

#[test]
fn fault_server_answers_slowly() {
    faults_scenario(Fault::Slow);
}

#[test]
fn fault_connection_dropped_after_apply() {
    faults_scenario(Fault::DropAfterApply);
}

/// After the attempt limit an action waits in `failed` with its reason; the person
/// retries it and it is applied once.
#[test]
fn dead_letter_then_retry() {
    let server = KeyServer::started();
    let proxy = Proxy::start(server.port);
    let mut options = fast_options();
    options.policy.max_attempts = 3;
    options.policy.base_ms = 1;
    let desk = Desk::with_options(options);
    desk.connect_url(&proxy.url(), &server.admin_key);
    let a = &desk.admin;
    a.create_principal("main", user("stubborn")).unwrap();
    proxy.set(Fault::Error500);
    for _ in 0..10 {
        let _ = a.sync("main");
        std::thread::sleep(Duration::from_millis(10));
    }
    let failed = a.outbox(Some("main"), &["failed"], 10).unwrap();
    assert_eq!(failed.len(), 1);
    assert!(
        failed[0]
            .last_error
            .as_deref()
            .unwrap()
            .contains("gave up after 3 attempts"),
        "{:?}",
        failed[0].last_error
    );
    proxy.set(Fault::Pass);
    let _ = a.sync("main");
    assert_eq!(
        a.status().unwrap().failed,
        1,
        "a failed action waits for the person"
    );
    a.retry(failed[0].seq).unwrap();
    desk.sync_until_idle(10);
    assert_eq!(a.status().unwrap().failed, 0);
    assert_eq!(
        audit_counts(&server).get(&("principal.create".into(), "stubborn".into())),
        Some(&1)
    );
}

/// Two administrators edit the same key: the second gets a conflict with both versions,
/// and can keep theirs or take the server's.
#[test]
fn two_clients_conflict_and_resolve() {
    let server = KeyServer::started();
    let alice = Desk::new();
    let bob = Desk::new();
    alice.connect(&server);
    bob.connect(&server);
    let p = alice
        .admin
        .create_principal("main", user("shared"))
        .unwrap();
    alice
        .admin
        .create_key("main", &p.id, key("shared-key"), Placement::ShowOnce)
        .unwrap();
    alice.sync_until_idle(10);
    bob.sync_until_idle(10);
    let k = bob.admin.find("main", Kind::Key, "shared-key").unwrap();
    assert_eq!(k.version, 1);

    alice
        .admin
        .update(
            "main",
            Kind::Key,
            &k.id,
            json!({"description": "alice was here"}),
        )
        .unwrap();
    alice.sync_until_idle(10);
    bob.admin
        .update(
            "main",
            Kind::Key,
            &k.id,
            json!({"description": "bob was here"}),
        )
        .unwrap();
    bob.sync_until_idle(3);
    let conflicts = bob.admin.outbox(Some("main"), &["conflict"], 10).unwrap();
    assert_eq!(conflicts.len(), 1);
    let c = &conflicts[0];
    assert_eq!(
        c.intent.as_ref().unwrap()["description"],
        json!("bob was here")
    );
    assert_eq!(
        c.server_object.as_ref().unwrap()["description"],
        json!("alice was here")
    );
    assert_eq!(c.server_version, Some(2));
    assert_eq!(bob.admin.status().unwrap().conflicts, 1);

    // Keep mine: sent again over version 2.
    bob.admin.resolve(c.seq, true).unwrap();
    bob.sync_until_idle(10);
    assert_eq!(
        server.get(&format!("/v1/keys/{}", k.id))["description"],
        json!("bob was here")
    );

    // Now alice is behind; she takes theirs.
    alice
        .admin
        .update(
            "main",
            Kind::Key,
            &k.id,
            json!({"name": "renamed-by-alice"}),
        )
        .unwrap();
    alice.sync_until_idle(3);
    let c = alice.admin.outbox(Some("main"), &["conflict"], 10).unwrap();
    assert_eq!(c.len(), 1);
    alice.admin.resolve(c[0].seq, false).unwrap();
    alice.sync_until_idle(5);
    let view = alice.admin.find("main", Kind::Key, &k.id).unwrap();
    assert_eq!(view.body["description"], json!("bob was here"));
    assert_eq!(view.body["name"], json!("shared-key"));
    let server_key = server.get(&format!("/v1/keys/{}", k.id));
    assert_eq!(
        server_key["name"],
        json!("shared-key"),
        "nothing silently overwritten"
    );
}

/// Pull: another administrator's changes reach the local view.
#[test]
fn pull_follows_other_admins() {
    let server = KeyServer::started();
    let alice = Desk::new();
    let bob = Desk::new();
    alice.connect(&server);
    bob.connect(&server);
    alice
        .admin
        .create_principal("main", user("from-alice"))
        .unwrap();
    alice.sync_until_idle(5);
    bob.admin.sync("main").unwrap();
    let seen = bob
        .admin
        .find("main", Kind::Principal, "from-alice")
        .unwrap();
    alice
        .admin
        .set_enabled("main", Kind::Principal, &seen.id, false)
        .unwrap();
    alice.sync_until_idle(5);
    bob.admin.sync("main").unwrap();
    let seen = bob
        .admin
        .find("main", Kind::Principal, "from-alice")
        .unwrap();
    assert_eq!(seen.body["enabled"], json!(false));
    alice
        .admin
        .delete("main", Kind::Principal, &seen.id)
        .unwrap();
    alice.sync_until_idle(5);
    bob.admin.sync("main").unwrap();
    assert!(
        bob.admin
            .find("main", Kind::Principal, "from-alice")
            .is_err()
    );
}

/// Rotation end to end: the key lives in the vault; rotation issues a successor, the
/// vault copy is replaced when the server has it, the old key works during the grace
/// period and shows its last use, then it is revoked.
#[test]
fn rotation_into_the_vault() {
    let server = KeyServer::started();
    let desk = Desk::new();
    desk.connect(&server);
    let a = &desk.admin;
    let group = a
        .create_group(
            "main",
            GroupInput {
                name: "g".into(),
                description: String::new(),
            },
        )
        .unwrap();
    a.create_role(
        "main",
        RoleInput {
            name: "r".into(),
            description: String::new(),
            privileges: vec!["key:use".into()],
            groups: vec![group.id.clone()],
        },
    )
    .unwrap();
    let mut u = user("billing");
    u.groups = vec![group.id];
    let p = a.create_principal("main", u).unwrap();
    let mut input = key("billing-live");
    input.read_only = true;
    input.path_prefixes = vec!["/v1/".into()];
    let created = a
        .create_key(
            "main",
            &p.id,
            input,
            Placement::Vault {
                name: "billing_api".into(),
                hosts: vec![],
            },
        )
        .unwrap();
    assert!(created.key.is_none(), "never shown: it went into the vault");
    let secret_id = created.secret_id.clone().unwrap();
    let meta = desk.vault.find("billing_api").unwrap();
    assert_eq!(meta.allowed_hosts[0].as_str(), "127.0.0.1");
    let policy = meta.key_policy.unwrap();
    assert!(policy.read_only);
    assert_eq!(policy.path_prefixes, vec!["/v1/".to_owned()]);
    desk.sync_until_idle(10);
    let (_, old_value) = desk.vault.read(&secret_id, Purpose::Reveal).unwrap();
    let v = server.verify_at(old_value.expose(), "GET", "/v1/invoices");
    assert_eq!(v["valid"], json!(true), "{v}");
    let v = server.verify_at(old_value.expose(), "POST", "/v1/invoices");
    assert_eq!(v["reason"], json!("read_only"), "the key's policy holds");
    let old = a.find("main", Kind::Key, "billing-live").unwrap();
    assert_eq!(
        a.key_secret("main", &old.id).unwrap().as_deref(),
        Some(secret_id.as_str())
    );

    let rotated = a.rotate_key("main", &old.id, 3600).unwrap();
    assert!(rotated.key.is_none());
    // Until the server has the new key, the vault keeps the working old one.
    let (_, still) = desk.vault.read(&secret_id, Purpose::Reveal).unwrap();
    assert_eq!(still.expose(), old_value.expose());
    desk.sync_until_idle(10);
    let (meta, new_value) = desk.vault.read(&secret_id, Purpose::Reveal).unwrap();
    assert_ne!(new_value.expose(), old_value.expose());
    assert_eq!(meta.version, 2);
    assert_eq!(
        server.verify_at(new_value.expose(), "GET", "/v1/x")["valid"],
        json!(true)
    );
    assert_eq!(
        server.verify_at(old_value.expose(), "GET", "/v1/x")["valid"],
        json!(true),
        "grace period"
    );
    let old_view = a.fetch("main", Kind::Key, &old.id).unwrap();
    assert!(
        old_view.body["last_used_at"].as_i64().is_some(),
        "{}",
        old_view.body
    );
    assert!(old_view.body["replaced_by"].is_string());
    let new_id = old_view.body["replaced_by"].as_str().unwrap().to_owned();
    assert_eq!(
        a.key_secret("main", &new_id).unwrap().as_deref(),
        Some(secret_id.as_str())
    );
    a.revoke_key("main", &old.id).unwrap();
    desk.sync_until_idle(10);
    assert_eq!(
        server.verify_at(old_value.expose(), "GET", "/v1/x")["valid"],
        json!(false)
    );
    assert_eq!(
        server.verify_at(new_value.expose(), "GET", "/v1/x")["valid"],
        json!(true)
    );

    // Refresh without a vault copy: shown once; the old key stops at once.
    let other = a
        .create_key("main", &p.id, key("other"), Placement::ShowOnce)
        .unwrap();
    desk.sync_until_idle(10);
    let first = other.key.unwrap();
    let other_id = a.find("main", Kind::Key, "other").unwrap().id;
    let refreshed = a.refresh_key("main", &other_id).unwrap();
    let second = refreshed.key.unwrap();
    desk.sync_until_idle(10);
    assert_eq!(server.verify(first.expose())["valid"], json!(false));
    assert_eq!(server.verify(second.expose())["valid"], json!(true));
}

/// A disable made here refuses the key at the server within a second when online.
#[test]
fn disable_refuses_within_one_second() {
    let server = KeyServer::started();
    let desk = Desk::new();
    desk.connect(&server);
    let a = &desk.admin;
    let g = a
        .create_group(
            "main",
            GroupInput {
                name: "g".into(),
                description: String::new(),
            },
        )
        .unwrap();
    a.create_role(
        "main",
        RoleInput {
            name: "r".into(),
            description: String::new(),
            privileges: vec!["key:use".into()],
            groups: vec![g.id.clone()],
        },
    )
    .unwrap();
    let mut u = user("fast");
    u.groups = vec![g.id];
    let p = a.create_principal("main", u).unwrap();
    let k = a
        .create_key("main", &p.id, key("fast-key"), Placement::ShowOnce)
        .unwrap();
    let secret = k.key.unwrap();
    let _bg = a.start_background(Duration::from_secs(5));
    let deadline = Instant::now() + Duration::from_secs(5);
    while server.verify(secret.expose())["valid"] != json!(true) {
        assert!(Instant::now() < deadline, "the key never became valid");
        std::thread::sleep(Duration::from_millis(20));
    }
    let key_id = a.find("main", Kind::Key, "fast-key").unwrap().id;
    let clicked = Instant::now();
    a.set_enabled("main", Kind::Key, &key_id, false).unwrap();
    loop {
        let v = server.verify(secret.expose());
        if v["valid"] == json!(false) {
            assert_eq!(v["reason"], json!("key_disabled"));
            break;
        }
        assert!(
            clicked.elapsed() < Duration::from_secs(1),
            "still valid after 1 s"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    let took = clicked.elapsed();
    eprintln!("disable refused at the server after {took:?}");
    assert!(took < Duration::from_secs(1));
}

/// Canary: the admin credential and generated keys never appear in any file under the
/// profile directory, nor in the logs.
#[test]
fn canary_no_secret_in_files_or_logs() {
    let server = KeyServer::started();
    let desk = Desk::new();
    desk.connect(&server);
    let a = &desk.admin;
    let p = a.create_principal("main", user("canary")).unwrap();
    let shown = a
        .create_key("main", &p.id, key("shown"), Placement::ShowOnce)
        .unwrap()
        .key
        .unwrap();
    let stored = a
        .create_key(
            "main",
            &p.id,
            key("stored"),
            Placement::Vault {
                name: "canary_key".into(),
                hosts: vec!["api.example.com".into()],
            },
        )
        .unwrap();
    desk.sync_until_idle(10);
    let (_, stored_value) = desk
        .vault
        .read(&stored.secret_id.unwrap(), Purpose::Reveal)
        .unwrap();
    let id = a.find("main", Kind::Key, "shown").unwrap().id;
    let rotated = a.rotate_key("main", &id, 60).unwrap().key.unwrap();
    desk.sync_until_idle(10);
    let _ = a.outbox(None, &[], 1000).unwrap();
    let canaries: Vec<(&str, String)> = vec![
        ("admin key", server.admin_key.clone()),
        ("shown key", shown.expose().to_owned()),
        ("stored key", stored_value.expose().to_owned()),
        ("rotated key", rotated.expose().to_owned()),
    ];
    // Random parts are distinctive enough on their own.
    let mut files = files_under(desk.home.path());
    files.push(log_file().clone());
    assert!(files.len() >= 2);
    for file in files {
        let bytes = std::fs::read(&file).unwrap();
        for (what, value) in &canaries {
            let random = value.split('_').nth(2).unwrap();
            assert!(
                !contains(&bytes, random.as_bytes()),
                "the {what} is in {}",
                file.display()
            );
        }
    }
    // The status and the outbox as the UI sees them carry no secret either.
    let shown_out = format!(
        "{:?}{:?}",
        a.status().unwrap(),
        a.outbox(None, &[], 100).unwrap()
    );
    for (what, value) in &canaries {
        assert!(
            !shown_out.contains(value.as_str()),
            "{what} in status/outbox"
        );
    }
}

/// Embedded default: with no server configured, an in-process server in the data
/// directory; its admin key goes to the keychain, and it comes back after a restart.
#[test]
fn embedded_server_works_on_a_fresh_machine() {
    let desk = Desk::new();
    let url = desk.admin.connect_embedded().unwrap();
    assert!(url.starts_with("http://127.0.0.1:"));
    let a = &desk.admin;
    let p = a.create_principal("embedded", user("local-user")).unwrap();
    let k = a
        .create_key("embedded", &p.id, key("local-key"), Placement::ShowOnce)
        .unwrap();
    a.sync("embedded").unwrap();
    assert_eq!(a.status().unwrap().queued, 0);
    let entries = a.audit_all("embedded", Default::default()).unwrap();
    assert!(entries.iter().any(|e| e.action == "key.create"));
    let verdict = a
        .verify("embedded", k.key.as_ref().unwrap(), "GET", "/")
        .unwrap();
    // The principal holds no `key:use` privilege: the key is known but not permitted.
    assert_eq!(
        verdict["reason"],
        json!("principal_not_permitted"),
        "{verdict}"
    );
    assert!(desk.home.path().join("keywarden-server.db").exists());
    // The credential is in the (memory) keychain, never in the database file.
    let db = std::fs::read(desk.home.path().join("keywarden.db")).unwrap();
    assert!(!contains(&db, b"kw_admin_"));
}

/// Local ids that never reach the server (their create was discarded) make later
/// actions fail visibly rather than vanish.
#[test]
fn discarded_create_leaves_dependents_visible() {
    let server = KeyServer::init();
    let desk = Desk::new();
    desk.connect(&server);
    let a = &desk.admin;
    let p = a.create_principal("main", user("ghost")).unwrap();
    a.create_key("main", &p.id, key("ghost-key"), Placement::ShowOnce)
        .unwrap();
    let create = a.outbox(Some("main"), &["queued"], 10).unwrap();
    let principal_create = create
        .iter()
        .find(|e| e.action == "principal.create")
        .unwrap();
    a.discard(principal_create.seq).unwrap();
    server.start();
    desk.sync_until_idle(5);
    let failed = a.outbox(Some("main"), &["failed"], 10).unwrap();
    assert_eq!(failed.len(), 1, "{failed:?}");
    assert_eq!(failed[0].action, "key.create");
    assert!(
        failed[0]
            .last_error
            .as_deref()
            .unwrap()
            .contains("never reached the server")
    );
}

#[test]
fn integrity_of_the_local_database() {
    let server = KeyServer::started();
    let desk = Desk::new();
    desk.connect(&server);
    for i in 0..20 {
        desk.admin
            .create_principal("main", user(&format!("i-{i}")))
            .unwrap();
    }
    desk.sync_until_idle(10);
    let check: String = desk
        .admin
        .db()
        .with_conn(|c| c.query_row("PRAGMA integrity_check", [], |r| r.get(0)))
        .unwrap();
    assert_eq!(check, "ok");
    let sync: i64 = desk
        .admin
        .db()
        .with_conn(|c| c.query_row("PRAGMA synchronous", [], |r| r.get(0)))
        .unwrap();
    assert_eq!(sync, 2, "FULL");
    let _: Value = json!(null);
}
