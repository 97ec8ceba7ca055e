use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use keywarden_admin::{
    GroupInput, KeyInput, Kind, ListFilter, Placement, PrincipalInput, PrincipalKind, PushOptions,
    RetryPolicy, RoleInput, SyncReport,
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
    assert_eq!(desk.sync_until_idle(1), 1, "one sync delivers it all");
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

/// Queues, for each of `n` principals, a create, an edit and a disable (three actions on
/// one object, which go one after the other). Returns the names.
fn queue_principals(desk: &Desk, prefix: &str, n: usize) -> Vec<String> {
    let a = &desk.admin;
    let mut names = Vec::new();
    for i in 0..n {
        let name = format!("{prefix}-{i}");
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
    names
}

/// One sync during a fault, checked against the policy: every action tried was tried
/// once, and waits for its next attempt at most `min(cap, base · 2^attempts)` — whatever
/// the jitter chose — or gave up at exactly `max_attempts`. Then the clock moves to the
/// moment every queued action is due.
fn faulty_round(desk: &Desk, policy: &RetryPolicy) -> SyncReport {
    let before: HashMap<i64, i64> = desk.queued().iter().map(|e| (e.seq, e.attempts)).collect();
    let t = desk.clock().now();
    let report = desk.admin.sync("main").expect("sync");
    assert_eq!(
        desk.clock().now(),
        t,
        "the clock stands still during a sync"
    );
    let mut tried = 0u64;
    for e in desk.admin.outbox(Some("main"), &[], usize::MAX).unwrap() {
        let Some(&was) = before.get(&e.seq) else {
            continue;
        };
        if e.attempts == was {
            continue;
        }
        tried += 1;
        assert_eq!(e.attempts, was + 1, "one attempt per sync: {e:?}");
        match e.state.as_str() {
            "queued" => {
                let wait = e.next_attempt_ms - t;
                let ceiling = backoff_ceiling(policy, e.attempts);
                assert!(
                    (0..=ceiling).contains(&wait),
                    "after attempt {} the wait is {wait} ms, outside [0, {ceiling}]",
                    e.attempts
                );
            }
            "failed" => assert_eq!(e.attempts, i64::from(policy.max_attempts), "{e:?}"),
            other => panic!("a faulty round ended in {other}: {e:?}"),
        }
    }
    assert_eq!(
        tried, report.push.sent,
        "every request sent was counted once"
    );
    desk.advance_to_due();
    report
}

/// The mutating requests on the wire, grouped by what they ask (method, path, body).
fn requests_by_action(recorded: &[Exchange]) -> HashMap<(String, String, Vec<u8>), Vec<&Exchange>> {
    let mut groups: HashMap<_, Vec<&Exchange>> = HashMap::new();
    for e in recorded.iter().filter(|e| e.method() != "GET") {
        groups
            .entry((e.method(), e.path(), e.body().to_vec()))
            .or_default()
            .push(e);
    }
    groups
}

/// What the wire shows about retries: every attempt of one action carries the same
/// Idempotency-Key, different actions carry different ones, and of all the attempts the
/// server answered, the first was applied and every later one was a replay of it.
/// Returns, for each principal created, how many times its create was sent.
fn check_retries_on_the_wire(recorded: &[Exchange]) -> HashMap<String, usize> {
    for e in recorded {
        // What reached the server is what the fault let through.
        let reached = !matches!(e.fault, Fault::Refuse | Fault::Error500);
        assert_eq!(e.response.is_some(), reached, "{:?} {}", e.fault, e.path());
    }
    let groups = requests_by_action(recorded);
    let mut seen_keys: HashMap<String, (String, String)> = HashMap::new();
    let mut creates = HashMap::new();
    for ((method, path, _), attempts) in &groups {
        let keys: HashSet<Option<String>> = attempts
            .iter()
            .map(|e| e.header("idempotency-key"))
            .collect();
        assert_eq!(
            keys.len(),
            1,
            "{method} {path}: one key for every attempt: {keys:?}"
        );
        let key = keys
            .into_iter()
            .next()
            .unwrap()
            .expect("an Idempotency-Key");
        let previous = seen_keys.insert(key.clone(), (method.clone(), path.clone()));
        assert!(previous.is_none(), "{key} used by two actions");
        let answered: Vec<&&Exchange> = attempts.iter().filter(|e| e.response.is_some()).collect();
        for (i, e) in answered.iter().enumerate() {
            let replayed = e.response_header("idempotent-replayed").as_deref() == Some("true");
            assert_eq!(
                replayed,
                i > 0,
                "{method} {path}: answer {i} of {}",
                answered.len()
            );
            assert_eq!(
                e.response_json()["id"],
                answered[0].response_json()["id"],
                "a replay is the first answer"
            );
        }
        if method == "POST" && path == "/v1/principals" {
            let name = attempts[0].json()["name"].as_str().unwrap().to_owned();
            creates.insert(name, attempts.len());
        }
    }
    creates
}

fn assert_applied_once(server: &KeyServer, names: &[String], what: &str) {
    let counts = audit_counts(server);
    for name in names {
        for action in ["principal.create", "principal.update", "principal.disable"] {
            assert_eq!(
                counts.get(&(action.to_owned(), name.clone())),
                Some(&1),
                "{what}: {action} {name}"
            );
        }
    }
    let on_server = server.get("/v1/principals");
    for name in names {
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

/// The product's retry policy against a fault, on a clock the test moves:
///
/// * a fault shorter than the policy's patience — every action fails `max_attempts − 1`
///   times, the most any action can fail without giving up — dead-letters nothing, and
///   once it ends everything is applied exactly once;
/// * a fault longer than the whole backoff schedule dead-letters every action, visibly
///   (`failed` counts, the rows' state, the objects' problem), within the schedule's
///   longest total wait whatever the jitter; nothing comes back by itself, and "retry"
///   brings every action back, applied exactly once.
///
/// Full jitter draws each wait from `[0, ceiling]`, so the waits have no floor: patience
/// is a number of attempts, and a duration only as an upper bound.
fn faults_scenario(fault: Fault) {
    let server = KeyServer::started();
    let proxy = Proxy::start(server.port);
    let mut desk = Desk::new();
    let policy = desk.admin.options.policy;
    assert_eq!(policy, RetryPolicy::default(), "the product's own policy");
    let limit = policy.max_attempts;
    let timeout = desk.admin.options.request_timeout;
    // Answers held back count as lost once the client stops waiting: let it stop sooner.
    let fault_timeout = if fault == Fault::Slow {
        Duration::from_millis(300)
    } else {
        timeout
    };
    assert!(desk.connect_url(&proxy.url(), &server.admin_key));
    let names = queue_principals(&desk, "fault", 12);

    // Shorter than the patience.
    proxy.set(fault);
    desk.set_request_timeout(fault_timeout);
    let started = desk.clock().now();
    for round in 1..limit {
        let report = faulty_round(&desk, &policy);
        // The twelve creates go; each object's later actions wait behind its create.
        assert_eq!(
            (report.push.sent, report.push.applied, report.push.retrying),
            (12, 0, 12),
            "{fault:?} round {round}"
        );
        assert_eq!(
            desk.admin.status().unwrap().failed,
            0,
            "{fault:?} round {round}"
        );
    }
    let queued = desk.queued();
    assert_eq!(queued.len(), 36);
    for e in &queued {
        let expected = if e.action == "principal.create" {
            i64::from(limit) - 1
        } else {
            0
        };
        assert_eq!(e.attempts, expected, "{fault:?} {e:?}");
    }
    let waited = desk.clock().now() - started;
    assert!(waited <= schedule_ceiling(&policy), "{waited} ms");
    proxy.set(Fault::Pass);
    desk.set_request_timeout(timeout);
    desk.sync_until_idle(3);
    let status = desk.admin.status().unwrap();
    assert_eq!(
        (status.queued, status.failed, status.conflicts),
        (0, 0, 0),
        "{fault:?}"
    );
    assert_applied_once(&server, &names, &format!("{fault:?}"));
    let creates = check_retries_on_the_wire(&proxy.recorded());
    for name in &names {
        // Nine attempts during the fault, one after it.
        assert_eq!(
            creates.get(name),
            Some(&(limit as usize)),
            "{fault:?} {name}"
        );
    }

    // Longer than the whole schedule.
    let late = queue_principals(&desk, "long", 4);
    proxy.set(fault);
    desk.set_request_timeout(fault_timeout);
    let started = desk.clock().now();
    for round in 1..=limit {
        let report = faulty_round(&desk, &policy);
        assert_eq!(report.push.sent, 4, "{fault:?} round {round}");
        let failed = desk.admin.status().unwrap().failed;
        assert_eq!(
            failed,
            if round < limit { 0 } else { 4 },
            "{fault:?}: gives up at attempt {limit}, not before (round {round})"
        );
    }
    let gave_up_after = desk.clock().now() - started;
    assert!(
        gave_up_after <= schedule_ceiling(&policy),
        "{fault:?}: gave up {gave_up_after} ms after the first attempt"
    );
    let failed = desk.admin.outbox(Some("main"), &["failed"], 100).unwrap();
    assert_eq!(failed.len(), 4);
    for e in &failed {
        assert_eq!(
            (e.action.as_str(), e.state.as_str()),
            ("principal.create", "failed")
        );
        assert_eq!(e.attempts, i64::from(limit));
        let error = e.last_error.as_deref().unwrap();
        assert!(
            error.contains(&format!("gave up after {limit} attempts")),
            "{error}"
        );
    }
    let status = desk.admin.status().unwrap();
    assert_eq!(
        (status.failed, status.queued),
        (4, 8),
        "the later actions wait"
    );
    assert_eq!(status.connections[0].failed, 4);
    for name in &late {
        let view = desk.admin.find("main", Kind::Principal, name).unwrap();
        assert_eq!(view.problem.as_deref(), Some("failed"), "{name}");
        assert_eq!(view.pending, 3);
    }
    proxy.set(Fault::Pass);
    desk.set_request_timeout(timeout);
    let report = desk.round();
    assert_eq!(report.push.sent, 0, "a dead letter waits for the person");
    assert_eq!(desk.admin.status().unwrap().failed, 4);
    assert_eq!(desk.admin.retry_all(Some("main")).unwrap(), 12);
    desk.sync_until_idle(3);
    let status = desk.admin.status().unwrap();
    assert_eq!((status.queued, status.failed, status.conflicts), (0, 0, 0));
    assert_applied_once(&server, &late, &format!("{fault:?}, after retry"));
    let creates = check_retries_on_the_wire(&proxy.recorded());
    for name in &late {
        // Ten attempts during the fault, one after "retry".
        assert_eq!(
            creates.get(name),
            Some(&(limit as usize + 1)),
            "{fault:?} {name}"
        );
    }
}

/// Nothing listens: however long that lasts (twice the attempt limit in syncs, twenty
/// minutes on the clock, far past the whole backoff schedule), no attempt is used up.
#[test]
fn fault_server_down() {
    let server = KeyServer::init();
    let desk = Desk::new();
    assert!(!desk.connect(&server), "nothing listens yet");
    let policy = desk.admin.options.policy;
    for i in 0..10 {
        desk.admin
            .create_principal("main", user(&format!("down-{i}")))
            .unwrap();
    }
    let started = desk.clock().now();
    for _ in 0..2 * policy.max_attempts {
        let r = desk.admin.sync("main").unwrap();
        assert!(r.push.unreachable);
        assert!(r.error.as_deref().unwrap().contains("unreachable"));
        desk.clock().advance(i64::try_from(policy.cap_ms).unwrap());
    }
    assert!(desk.clock().now() - started > schedule_ceiling(&policy));
    let s = desk.admin.status().unwrap();
    assert_eq!(
        (s.queued, s.failed),
        (10, 0),
        "being offline never uses up attempts"
    );
    assert_eq!(s.connections[0].online, Some(false));
    assert!(desk.queued().iter().all(|e| e.attempts == 0));
    server.start();
    desk.sync_until_idle(3);
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

/// With the product's policy, an action the server keeps refusing with 500 gives up at
/// exactly its 10th attempt, within the schedule's longest total wait, and waits in
/// `failed` with its reason; the end of the fault does not resend it; the person
/// retries it and it is applied once, under the key it always had.
#[test]
fn dead_letter_then_retry() {
    let server = KeyServer::started();
    let proxy = Proxy::start(server.port);
    let desk = Desk::new();
    let policy = desk.admin.options.policy;
    assert_eq!(policy, RetryPolicy::default());
    assert_eq!(
        schedule_ceiling(&policy),
        243_000,
        "the schedule ARCHITECTURE.md gives"
    );
    assert!(desk.connect_url(&proxy.url(), &server.admin_key));
    let a = &desk.admin;
    a.create_principal("main", user("stubborn")).unwrap();
    proxy.set(Fault::Error500);
    let started = desk.clock().now();
    for round in 1..=policy.max_attempts {
        let report = faulty_round(&desk, &policy);
        assert_eq!(report.push.sent, 1);
        assert_eq!(
            a.status().unwrap().failed,
            i64::from(round == policy.max_attempts),
            "round {round}"
        );
    }
    assert!(desk.clock().now() - started <= schedule_ceiling(&policy));
    let failed = a.outbox(Some("main"), &["failed"], 10).unwrap();
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0].attempts, 10);
    let error = failed[0].last_error.as_deref().unwrap();
    assert!(
        error.contains("gave up after 10 attempts") && error.contains("500"),
        "{error}"
    );
    let status = a.status().unwrap();
    assert_eq!((status.queued, status.failed), (0, 1));
    assert_eq!(status.connections[0].failed, 1);
    let view = a.find("main", Kind::Principal, "stubborn").unwrap();
    assert_eq!(view.problem.as_deref(), Some("failed"));
    proxy.set(Fault::Pass);
    let report = desk.round();
    assert_eq!(report.push.sent, 0, "a failed action waits for the person");
    assert_eq!(a.status().unwrap().failed, 1);
    a.retry(failed[0].seq).unwrap();
    let again = a.outbox(Some("main"), &["queued"], 10).unwrap();
    assert_eq!((again[0].seq, again[0].attempts), (failed[0].seq, 0));
    desk.sync_until_idle(3);
    assert_eq!(a.status().unwrap().failed, 0);
    let done = a.outbox(Some("main"), &["done"], 10).unwrap();
    assert_eq!(done[0].seq, failed[0].seq);
    assert_eq!(
        audit_counts(&server).get(&("principal.create".into(), "stubborn".into())),
        Some(&1)
    );
    let creates = check_retries_on_the_wire(&proxy.recorded());
    assert_eq!(creates.get("stubborn"), Some(&11));
}

/// A concurrent duplicate, for real: the app and `kw admin sync` in a terminal (two
/// `Admin`s on one profile) sync at the same moment and both send the same queued action
/// with the same Idempotency-Key. The server holds the first commit (a slow write); the
/// second request meets it in flight and is answered 409 `idempotency_key_in_flight`,
/// which waits 3 s without using an attempt. The first is applied, once.
#[test]
fn concurrent_duplicate_is_409_and_waits_without_using_an_attempt() {
    let server = KeyServer::started_gated();
    let gate = Arc::clone(server.gate.as_ref().unwrap());
    let proxy = Proxy::start(server.port);
    let desk = Desk::new();
    assert!(desk.connect_url(&proxy.url(), &server.admin_key));
    let terminal = Arc::new(desk.open_admin(PushOptions::default()));
    desk.admin.create_principal("main", user("racer")).unwrap();
    let held = gate.arm();
    let t = desk.clock().now();
    let barrier = Arc::new(Barrier::new(2));
    let (tx, rx) = std::sync::mpsc::channel();
    let mut threads = Vec::new();
    for admin in [Arc::clone(&desk.admin), Arc::clone(&terminal)] {
        let barrier = Arc::clone(&barrier);
        let tx = tx.clone();
        threads.push(std::thread::spawn(move || {
            barrier.wait();
            tx.send(admin.sync("main")).unwrap();
        }));
    }
    let wait = Duration::from_secs(30);
    held.held
        .recv_timeout(wait)
        .expect("one request reached the commit");
    // The other one cannot have been applied: the only commit is held.
    let second = rx.recv_timeout(wait).expect("a sync finished").unwrap();
    assert_eq!(
        (second.push.sent, second.push.retrying, second.push.applied),
        (1, 1, 0)
    );
    let row = &desk.queued()[0];
    assert_eq!(row.attempts, 0, "in flight elsewhere is not a failure");
    assert_eq!(row.next_attempt_ms, t + 3_000);
    assert!(
        row.last_error
            .as_deref()
            .unwrap()
            .contains("still working on an earlier attempt"),
        "{row:?}"
    );
    gate.release();
    let first = rx
        .recv_timeout(wait)
        .expect("the held sync finished")
        .unwrap();
    assert_eq!((first.push.sent, first.push.applied), (1, 1));
    for t in threads {
        t.join().unwrap();
    }
    held.done.recv_timeout(wait).unwrap();
    let done = desk.admin.outbox(Some("main"), &["done"], 10).unwrap();
    assert_eq!((done.len(), done[0].seq), (1, row.seq));
    assert_eq!(desk.admin.status().unwrap().queued, 0);
    assert_eq!(desk.round().push.sent, 0);
    assert_eq!(
        audit_counts(&server).get(&("principal.create".into(), "racer".into())),
        Some(&1)
    );
    // On the wire: two requests with one key, one applied, one told it is in flight.
    let sent: Vec<Exchange> = proxy
        .recorded()
        .into_iter()
        .filter(|e| e.method() == "POST")
        .collect();
    assert_eq!(sent.len(), 2);
    assert_eq!(
        sent[0].header("idempotency-key"),
        sent[1].header("idempotency-key")
    );
    assert_eq!(
        sent[0].header("idempotency-key").as_deref(),
        Some(row.idempotency_key.as_str())
    );
    let mut answers: Vec<(u16, Value)> = sent
        .iter()
        .map(|e| (e.status().unwrap(), e.response_json()["code"].clone()))
        .collect();
    answers.sort_by_key(|(status, _)| *status);
    assert_eq!(answers[0].0, 201);
    assert_eq!(answers[1], (409, json!("idempotency_key_in_flight")));
}

/// An answer lost while the server is still committing: the client gives up (that
/// attempt counts), asks again with the same key, is told 409 in flight (that does not
/// count, and waits 3 s), and once the first commit is done is answered from it.
#[test]
fn retry_meets_its_first_attempt_in_flight() {
    let server = KeyServer::started_gated();
    let gate = Arc::clone(server.gate.as_ref().unwrap());
    let proxy = Proxy::start(server.port);
    let desk = Desk::with_options(PushOptions {
        request_timeout: Duration::from_secs(1),
        ..PushOptions::default()
    });
    let policy = desk.admin.options.policy;
    assert!(desk.connect_url(&proxy.url(), &server.admin_key));
    desk.admin
        .create_principal("main", user("patient"))
        .unwrap();
    let held = gate.arm();
    let t = desk.clock().now();
    let report = desk.admin.sync("main").unwrap();
    held.held
        .recv_timeout(Duration::from_secs(30))
        .expect("the first attempt reached the commit");
    assert_eq!((report.push.sent, report.push.retrying), (1, 1));
    let row = desk.queued()[0].clone();
    assert_eq!(row.attempts, 1, "a lost answer counts");
    assert!(
        row.last_error
            .as_deref()
            .unwrap()
            .contains("answer was lost")
    );
    assert!((t..=t + backoff_ceiling(&policy, 1)).contains(&row.next_attempt_ms));
    desk.advance_to_due();
    let t = desk.clock().now();
    let report = desk.admin.sync("main").unwrap();
    assert_eq!((report.push.sent, report.push.retrying), (1, 1));
    let row = desk.queued()[0].clone();
    assert_eq!(row.attempts, 1, "in flight does not count");
    assert_eq!(row.next_attempt_ms, t + 3_000);
    gate.release();
    held.done
        .recv_timeout(Duration::from_secs(30))
        .expect("the first commit finished");
    desk.advance_to_due();
    let report = desk.admin.sync("main").unwrap();
    assert_eq!((report.push.sent, report.push.applied), (1, 1));
    assert_eq!(desk.admin.status().unwrap().queued, 0);
    assert_eq!(
        audit_counts(&server).get(&("principal.create".into(), "patient".into())),
        Some(&1)
    );
    let sent: Vec<Exchange> = proxy
        .recorded()
        .into_iter()
        .filter(|e| e.method() == "POST")
        .collect();
    assert_eq!(sent.len(), 3);
    let keys: HashSet<_> = sent.iter().map(|e| e.header("idempotency-key")).collect();
    assert_eq!(keys.len(), 1, "the same key every time");
    assert_eq!(sent[1].status(), Some(409));
    assert_eq!(
        sent[1].response_json()["code"],
        json!("idempotency_key_in_flight")
    );
    assert_eq!(sent[2].status(), Some(201));
    assert_eq!(
        sent[2].response_header("idempotent-replayed").as_deref(),
        Some("true")
    );
}

/// Two administrators edit the same key: the second gets a conflict with both versions,
/// and can keep theirs or take the server's.
#[test]
fn two_clients_conflict_and_resolve() {
    let server = KeyServer::started();
    let alice = Desk::new();
    let bob = Desk::new();
    assert!(alice.connect(&server));
    assert!(bob.connect(&server));
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
    let after = server.get(&format!("/v1/keys/{}", k.id));
    assert_eq!(after["description"], json!("bob was here"));
    assert_eq!(after["version"], json!(3), "applied over version 2");

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
    assert!(alice.connect(&server));
    assert!(bob.connect(&server));
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
    assert!(desk.connect(&server));
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
    // The background loop sleeps in real time: it runs on the system clock.
    let desk = Desk::on_system_clock();
    assert!(desk.connect(&server));
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

/// The files the product wrote for a desk and its key server: the profile directory
/// (`keywarden.db` with its `-wal` and `-shm`, the embedded server's files) and the
/// server's directory. Panics unless the SQLite files are all there.
fn product_files(desk: &Desk, server: Option<&KeyServer>) -> Vec<std::path::PathBuf> {
    let mut files = files_under(desk.home.path());
    let names: HashSet<String> = files
        .iter()
        .map(|f| f.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    for name in ["keywarden.db", "keywarden.db-wal", "keywarden.db-shm"] {
        assert!(names.contains(name), "{name} missing: {names:?}");
    }
    if let Some(server) = server {
        let server_files = files_under(server.dir.path());
        assert!(
            server_files.iter().any(|f| f.ends_with("server.db")),
            "{server_files:?}"
        );
        files.extend(server_files);
    }
    files
}

/// The shared test log, checked to hold this test's work before it is searched.
fn log_with(marks: &[&str]) -> std::path::PathBuf {
    let log = log_file().clone();
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(!text.is_empty(), "the log is empty: it would prove nothing");
    for mark in marks {
        assert!(text.contains(mark), "the log lacks {mark}");
    }
    log
}

/// Canary: the admin credential, the keys generated here (shown once, kept in the
/// vault) and their successors after rotation never appear, in any common encoding, in
/// any file the product wrote (SQLite with its WAL and shared memory, the key server's
/// database, the log), nor in the status and outbox the UI shows.
#[test]
fn canary_no_secret_in_files_or_logs() {
    let server = KeyServer::started();
    let desk = Desk::new();
    assert!(desk.connect(&server));
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
    let secret_id = stored.secret_id.unwrap();
    desk.sync_until_idle(3);
    let (_, stored_value) = desk.vault.read(&secret_id, Purpose::Reveal).unwrap();
    let shown_id = a.find("main", Kind::Key, "shown").unwrap().id;
    let stored_id = a.find("main", Kind::Key, "stored").unwrap().id;
    let rotated = a.rotate_key("main", &shown_id, 60).unwrap().key.unwrap();
    assert!(
        a.rotate_key("main", &stored_id, 60).unwrap().key.is_none(),
        "the successor goes to the vault"
    );
    desk.sync_until_idle(3);
    let (meta, stored_successor) = desk.vault.read(&secret_id, Purpose::Reveal).unwrap();
    assert_eq!(meta.version, 2);
    assert_ne!(stored_successor.expose(), stored_value.expose());
    let outbox = a.outbox(None, &[], 1000).unwrap();
    assert_eq!(outbox.len(), 5, "{outbox:?}");
    assert!(outbox.iter().all(|e| e.state == "done"), "{outbox:?}");
    let canaries: Vec<(&str, String)> = vec![
        ("admin key", server.admin_key.clone()),
        ("shown key", shown.expose().to_owned()),
        ("stored key", stored_value.expose().to_owned()),
        ("rotated key", rotated.expose().to_owned()),
        (
            "stored key's successor",
            stored_successor.expose().to_owned(),
        ),
    ];
    let mut files = product_files(&desk, Some(&server));
    // The server logged this test's actions: the log holds what it should.
    let p = a.find("main", Kind::Principal, "canary").unwrap().id;
    files.push(log_with(&[&p, &shown_id, &stored_id]));
    assert_no_secret_in_files(&files, &canaries);
    // The status and the outbox as the UI sees them carry no secret either.
    let shown_out = format!("{:?}{:?}", a.status().unwrap(), outbox);
    for (what, value) in &canaries {
        assert_eq!(
            find_secret(shown_out.as_bytes(), value),
            None,
            "{what} in status/outbox"
        );
    }
}

/// Keys generated here reach the server as their SHA-256 digest and display prefix, and
/// never themselves: the proxy records every byte of every request (and answer), and no
/// form of any key — raw, base64 standard or URL-safe (padded or not, at any alignment),
/// hex, percent-encoded — is in it; the admin credential, which is sent, is found by the
/// same search.
#[test]
fn only_digests_and_display_prefixes_go_on_the_wire() {
    use sha2::Digest as _;
    let server = KeyServer::started();
    let proxy = Proxy::start(server.port);
    let desk = Desk::new();
    assert!(desk.connect_url(&proxy.url(), &server.admin_key));
    let a = &desk.admin;
    let p = a.create_principal("main", user("wire")).unwrap();
    let shown = a
        .create_key("main", &p.id, key("wire-shown"), Placement::ShowOnce)
        .unwrap()
        .key
        .unwrap();
    let stored = a
        .create_key(
            "main",
            &p.id,
            key("wire-stored"),
            Placement::Vault {
                name: "wire_key".into(),
                hosts: vec![],
            },
        )
        .unwrap();
    let secret_id = stored.secret_id.unwrap();
    desk.sync_until_idle(3);
    let (_, stored_value) = desk.vault.read(&secret_id, Purpose::Reveal).unwrap();
    let principal_id = a.find("main", Kind::Principal, "wire").unwrap().id;
    let shown_id = a.find("main", Kind::Key, "wire-shown").unwrap().id;
    let stored_id = a.find("main", Kind::Key, "wire-stored").unwrap().id;
    let shown_successor = a.rotate_key("main", &shown_id, 60).unwrap().key.unwrap();
    assert!(a.rotate_key("main", &stored_id, 60).unwrap().key.is_none());
    desk.sync_until_idle(3);
    let (_, stored_successor) = desk.vault.read(&secret_id, Purpose::Reveal).unwrap();
    assert_ne!(stored_successor.expose(), stored_value.expose());

    let recorded = proxy.recorded();
    assert!(!recorded.is_empty());
    let posts: Vec<&Exchange> = recorded.iter().filter(|e| e.method() == "POST").collect();
    // Actions on different objects go concurrently: compare without their order.
    let mut paths: Vec<String> = posts.iter().map(|e| e.path()).collect();
    paths.sort();
    let create_path = format!("/v1/principals/{principal_id}/keys");
    let mut expected = vec![
        "/v1/principals".to_owned(),
        create_path.clone(),
        create_path.clone(),
        format!("/v1/keys/{shown_id}/rotate"),
        format!("/v1/keys/{stored_id}/rotate"),
    ];
    expected.sort();
    assert_eq!(paths, expected, "every action went through the proxy, once");
    assert!(
        posts
            .iter()
            .all(|e| e.status() == Some(201) || e.status() == Some(200))
    );
    let keys = [
        ("shown key", shown.expose().to_owned(), create_path.clone()),
        (
            "vault key",
            stored_value.expose().to_owned(),
            create_path.clone(),
        ),
        (
            "shown key's successor",
            shown_successor.expose().to_owned(),
            format!("/v1/keys/{shown_id}/rotate"),
        ),
        (
            "vault key's successor",
            stored_successor.expose().to_owned(),
            format!("/v1/keys/{stored_id}/rotate"),
        ),
    ];
    for (what, value, path) in &keys {
        let digest = hex::encode(sha2::Sha256::digest(value.as_bytes()));
        let parts: Vec<&str> = value.split('_').collect();
        let display_prefix = format!("{}_{}_{}…", parts[0], parts[1], &parts[2][..4]);
        let carrying: Vec<&&Exchange> = posts
            .iter()
            .filter(|e| contains(e.body(), digest.as_bytes()))
            .collect();
        assert_eq!(carrying.len(), 1, "the {what}'s digest is sent once");
        let e = carrying[0];
        assert_eq!(&e.path(), path, "{what}");
        assert_eq!(e.json()["digest"], json!(digest), "{what}");
        assert_eq!(e.json()["display_prefix"], json!(display_prefix), "{what}");
        assert!(contains(&e.request, display_prefix.as_bytes()), "{what}");
        for e in &recorded {
            assert_eq!(
                find_secret(&e.request, value),
                None,
                "the {what} is in a request to {}",
                e.path()
            );
            if let Some(response) = &e.response {
                assert_eq!(find_secret(response, value), None, "the {what} came back");
            }
        }
    }
    // The search sees what is sent: the admin credential goes in every request's header.
    for e in &recorded {
        assert_eq!(
            e.header("authorization"),
            Some(format!("Bearer {}", server.admin_key)),
            "{}",
            e.path()
        );
        assert_eq!(
            find_secret(&e.request, &server.admin_key).as_deref(),
            Some("raw")
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
    // The credential is in the (memory) keychain, and in no file: not the profile's
    // database, not the embedded server's.
    let credential = desk
        .vault
        .read_internal("_admin_credential:embedded")
        .unwrap()
        .expect("the embedded server's admin key is in the keychain");
    assert!(credential.expose().starts_with("kw_admin_"));
    let files = product_files(&desk, None);
    assert!(
        files.iter().any(|f| f.ends_with("keywarden-server.db")),
        "{files:?}"
    );
    assert_no_secret_in_files(
        &files,
        &[
            ("embedded admin key", credential.expose().to_owned()),
            ("key", k.key.as_ref().unwrap().expose().to_owned()),
        ],
    );
}

/// Local ids that never reach the server (their create was discarded) make later
/// actions fail visibly rather than vanish.
#[test]
fn discarded_create_leaves_dependents_visible() {
    let server = KeyServer::init();
    let desk = Desk::new();
    assert!(!desk.connect(&server), "nothing listens yet");
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
    assert!(desk.connect(&server));
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
}
