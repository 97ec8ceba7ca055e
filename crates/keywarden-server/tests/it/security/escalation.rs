//! No escalation: an administrator can only grant, bind or act with privileges it holds.
//! Each case is the request an attacker holding a lesser admin credential would send.

use reqwest::Method;
use serde_json::{Value, json};

use crate::both_backends;
use crate::harness::{Backend, Reply, TestServer};

both_backends!(
    admin_write_cannot_grant_what_it_lacks,
    keys_manage_cannot_act_as_a_stronger_principal,
    access_profiles_are_changed_only_by_those_who_hold_their_clients_power,
    a_jwt_profile_identifies_one_client,
);

impl Reply {
    /// A refusal for lack of privileges (not for a bad credential or bad input).
    #[track_caller]
    fn escalation_refused(self) -> Self {
        assert_eq!(self.status.as_u16(), 403, "{}", self.text);
        assert!(self.text.contains("which you do not"), "{}", self.text);
        self
    }
}

/// `(principal id, key)` of a user holding exactly `privileges`.
async fn holder(s: &TestServer, name: &str, privileges: &[&str]) -> (String, String) {
    let id = s.principal("user", name, privileges).await;
    let (key, _) = s.key(&id, json!({ "name": format!("{name} key") })).await;
    (id, key)
}

fn id_named(list: &Value, name: &str) -> String {
    list.as_array()
        .expect("list")
        .iter()
        .find(|o| o["name"] == name)
        .and_then(|o| o["id"].as_str())
        .unwrap_or_else(|| panic!("no object named {name}"))
        .to_owned()
}

async fn admin_write_cannot_grant_what_it_lacks(backend: Backend) {
    let s = TestServer::start(backend).await;
    let (lesser_id, lesser) = holder(&s, "lesser", &["admin:read", "admin:write", "key:use"]).await;
    let admins = id_named(
        &s.get("/v1/groups").await.expect(200).body,
        "administrators",
    );
    let admin_role = id_named(&s.get("/v1/roles").await.expect(200).body, "administrator");
    let admin_id = id_named(&s.get("/v1/principals").await.expect(200).body, "admin");
    let lesser_group = id_named(&s.get("/v1/groups").await.expect(200).body, "lesser-group");

    // A role with a privilege it lacks, granted to its own group: refused.
    let r = s
        .call_as(
            &lesser,
            Method::POST,
            "/v1/roles",
            Some(
                json!({ "name": "mine", "privileges": ["keys:manage"], "groups": [lesser_group] }),
            ),
        )
        .await
        .escalation_refused();
    assert!(r.text.contains("keys:manage"), "{}", r.text);
    // `*` (grant anything) is the strongest privilege of all.
    s.call_as(
        &lesser,
        Method::POST,
        "/v1/roles",
        Some(json!({ "name": "star", "privileges": ["*"], "groups": [lesser_group] })),
    )
    .await
    .escalation_refused();
    // What it holds, it may grant (to anyone: that grants nothing it does not have).
    let ok = s
        .call_as(
            &lesser,
            Method::POST,
            "/v1/roles",
            Some(json!({ "name": "readers", "privileges": ["admin:read"], "groups": [admins] })),
        )
        .await
        .expect(201);
    let readers = ok.body["id"].as_str().unwrap().to_owned();
    // ...but not widen it afterwards.
    s.call_as(
        &lesser,
        Method::PATCH,
        &format!("/v1/roles/{readers}"),
        Some(json!({ "privileges": ["admin:read", "audit:read"] })),
    )
    .await
    .escalation_refused();
    // Joining the administrators (itself, or a new principal): refused.
    s.call_as(
        &lesser,
        Method::PATCH,
        &format!("/v1/principals/{lesser_id}"),
        Some(json!({ "groups": [lesser_group, admins] })),
    )
    .await
    .escalation_refused();
    s.call_as(
        &lesser,
        Method::POST,
        "/v1/principals",
        Some(json!({ "kind": "user", "name": "sockpuppet", "groups": [admins] })),
    )
    .await
    .escalation_refused();
    // Binding the administrator role to its own group, editing or deleting it: refused.
    for (method, body) in [
        (
            Method::PATCH,
            Some(json!({ "groups": [admins, lesser_group] })),
        ),
        (Method::PATCH, Some(json!({ "description": "renamed" }))),
        (Method::DELETE, None),
    ] {
        s.call_as(&lesser, method, &format!("/v1/roles/{admin_role}"), body)
            .await
            .escalation_refused();
    }
    s.call_as(
        &lesser,
        Method::PATCH,
        &format!("/v1/groups/{admins}"),
        Some(json!({ "name": "mine now" })),
    )
    .await
    .escalation_refused();
    s.call_as(
        &lesser,
        Method::DELETE,
        &format!("/v1/groups/{admins}"),
        None,
    )
    .await
    .escalation_refused();
    // The administrator itself: no password, no disable, no delete, no session ending.
    s.call_as(
        &lesser,
        Method::PUT,
        &format!("/v1/principals/{admin_id}/password"),
        Some(json!({ "password": "taken over by lesser" })),
    )
    .await
    .escalation_refused();
    s.call_as(
        &lesser,
        Method::PATCH,
        &format!("/v1/principals/{admin_id}"),
        Some(json!({ "enabled": false })),
    )
    .await
    .escalation_refused();
    s.call_as(
        &lesser,
        Method::DELETE,
        &format!("/v1/principals/{admin_id}"),
        None,
    )
    .await
    .escalation_refused();
    s.call_as(
        &lesser,
        Method::DELETE,
        &format!("/v1/principals/{admin_id}/sessions"),
        None,
    )
    .await
    .escalation_refused();
    // Nothing changed: the administrator still works and holds the same groups.
    let admin = s
        .get(&format!("/v1/principals/{admin_id}"))
        .await
        .expect(200);
    assert_eq!(admin.body["enabled"], true);
    assert_eq!(admin.body["groups"], json!([admins]));
    let role = s.get(&format!("/v1/roles/{admin_role}")).await.expect(200);
    assert_eq!(role.body["groups"], json!([admins]));
    // Every refusal is in the privileges, not in the credential: its own group it may rename.
    s.call_as(
        &lesser,
        Method::PATCH,
        &format!("/v1/groups/{lesser_group}"),
        Some(json!({ "description": "still mine" })),
    )
    .await
    .expect(200);
}

async fn keys_manage_cannot_act_as_a_stronger_principal(backend: Backend) {
    let s = TestServer::start(backend).await;
    let (_, keyops) = holder(&s, "keyops", &["keys:manage", "admin:read", "key:use"]).await;
    let admin_id = id_named(&s.get("/v1/principals").await.expect(200).body, "admin");
    let svc = s.principal("service_user", "svc", &["key:use"]).await;
    let strong = s
        .principal("service_user", "strong", &["key:use", "billing:write"])
        .await;
    // A key for the administrator (even a narrowed one) would act with its power.
    for body in [
        json!({ "name": "mine" }),
        json!({ "name": "mine", "scopes": ["key:use"] }),
    ] {
        s.call_as(
            &keyops,
            Method::POST,
            &format!("/v1/principals/{admin_id}/keys"),
            Some(body),
        )
        .await
        .escalation_refused();
    }
    s.call_as(
        &keyops,
        Method::POST,
        &format!("/v1/principals/{strong}/keys"),
        Some(json!({ "name": "mine" })),
    )
    .await
    .escalation_refused();
    // The administrator's own key: no rotation, refresh, revoke, change or delete.
    let admin_keys = s
        .get(&format!("/v1/keys?principal_id={admin_id}"))
        .await
        .expect(200);
    let admin_key_id = admin_keys.body[0]["id"].as_str().unwrap().to_owned();
    for (method, path, body) in [
        (Method::POST, "rotate", Some(json!({}))),
        (Method::POST, "refresh", Some(json!({}))),
        (Method::POST, "revoke", None),
        (
            Method::PATCH,
            "",
            Some(json!({ "ip_allowlist": ["192.0.2.1"] })),
        ),
        (Method::DELETE, "", None),
    ] {
        let path = if path.is_empty() {
            format!("/v1/keys/{admin_key_id}")
        } else {
            format!("/v1/keys/{admin_key_id}/{path}")
        };
        s.call_as(&keyops, method.clone(), &path, body)
            .await
            .escalation_refused();
    }
    // The administrator's key still works, unchanged.
    s.get("/v1/principals").await.expect(200);
    // Within its own power it works as before.
    let r = s
        .call_as(
            &keyops,
            Method::POST,
            &format!("/v1/principals/{svc}/keys"),
            Some(json!({ "name": "svc key" })),
        )
        .await
        .expect(201);
    let issued = r.body["key"].as_str().unwrap().to_owned();
    assert_eq!(s.verify(json!({ "key": issued })).await.body["valid"], true);
}

async fn access_profiles_are_changed_only_by_those_who_hold_their_clients_power(backend: Backend) {
    let s = TestServer::start(backend).await;
    let (_, lesser) = holder(&s, "lesser", &["admin:read", "admin:write", "key:use"]).await;
    let profile = s
        .post(
            "/v1/profiles",
            json!({ "name": "partners", "collections": ["billing"], "ip_allowlist": ["10.0.0.0/8"] }),
        )
        .await
        .expect(201);
    let profile_id = profile.body["id"].as_str().unwrap().to_owned();
    let client = s
        .principal("api_client", "partner", &["key:use", "billing"])
        .await;
    s.patch(
        &format!("/v1/principals/{client}"),
        json!({ "profiles": [profile_id] }),
    )
    .await
    .expect(200);
    // Widening the profile of a client stronger than the caller: refused.
    for body in [
        json!({ "ip_allowlist": [] }),
        json!({ "access_method": { "type": "jwt", "signing_method": "HS256", "secret": "attacker-chosen-secret-of-32-chars!!" } }),
    ] {
        s.call_as(
            &lesser,
            Method::PATCH,
            &format!("/v1/profiles/{profile_id}"),
            Some(body),
        )
        .await
        .escalation_refused();
    }
    s.call_as(
        &lesser,
        Method::DELETE,
        &format!("/v1/profiles/{profile_id}"),
        None,
    )
    .await
    .escalation_refused();
    let after = s
        .get(&format!("/v1/profiles/{profile_id}"))
        .await
        .expect(200);
    assert_eq!(after.body["ip_allowlist"], json!(["10.0.0.0/8"]));
    assert_eq!(after.body["access_method"]["type"], "token");
}

async fn a_jwt_profile_identifies_one_client(backend: Backend) {
    let s = TestServer::start(backend).await;
    let secret = "0123456789abcdef0123456789abcdef-shared";
    let jwt_profile = s
        .post(
            "/v1/profiles",
            json!({ "name": "jwt", "access_method": { "type": "jwt", "signing_method": "HS256", "secret": secret } }),
        )
        .await
        .expect(201);
    let jwt_id = jwt_profile.body["id"].as_str().unwrap().to_owned();
    let a = s.principal("api_client", "client-a", &["key:use"]).await;
    s.patch(
        &format!("/v1/principals/{a}"),
        json!({ "profiles": [jwt_id] }),
    )
    .await
    .expect(200);
    // A second client cannot share the signing secret: it could sign `sub` = the first.
    let b = s.principal("api_client", "client-b", &["key:use"]).await;
    let r = s
        .patch(
            &format!("/v1/principals/{b}"),
            json!({ "profiles": [jwt_id] }),
        )
        .await
        .expect(409);
    assert!(r.text.contains("exactly one client"), "{}", r.text);
    let r = s
        .post(
            "/v1/principals",
            json!({ "kind": "api_client", "name": "client-c", "profiles": [jwt_id] }),
        )
        .await
        .expect(409);
    assert!(!r.text.contains(secret));
    // A token profile shared by two clients cannot become a JWT profile either.
    let shared = s
        .post("/v1/profiles", json!({ "name": "shared" }))
        .await
        .expect(201);
    let shared_id = shared.body["id"].as_str().unwrap().to_owned();
    for client in [&a, &b] {
        let current = s.get(&format!("/v1/principals/{client}")).await.expect(200);
        let mut profiles: Vec<Value> = current.body["profiles"].as_array().unwrap().clone();
        profiles.push(json!(shared_id));
        s.patch(
            &format!("/v1/principals/{client}"),
            json!({ "profiles": profiles }),
        )
        .await
        .expect(200);
    }
    s.patch(
        &format!("/v1/profiles/{shared_id}"),
        json!({ "access_method": { "type": "jwt", "signing_method": "HS256", "secret": secret } }),
    )
    .await
    .expect(409);
    // The same client may carry it again (idempotent attach).
    s.patch(
        &format!("/v1/principals/{a}"),
        json!({ "profiles": [jwt_id] }),
    )
    .await
    .expect(200);
}
