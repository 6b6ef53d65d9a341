//! Where the emulated org keeps what is not a user: app integrations, their
//! client secrets and group assignments, groups and their members, each
//! kind a list of Okta JSON objects in the emulator's resources.
//!
//! Groups are seeded the first time anything asks for them: the built-in
//! `Everyone` (every user, never stored as members) and a few `OKTA_GROUP`s
//! whose members are picked from the users there are at that time.

use std::collections::BTreeMap;
use std::sync::{MutexGuard, PoisonError};

use rand::SeedableRng;
use rand::rngs::StdRng;
use serde_json::{Value, json};

use super::user::iso;
use crate::config::alphanumeric;
use crate::emulator::Core;
use crate::state::Order;

/// App integrations as Okta shows them (never with a client secret).
pub(super) const APPS: &str = "apps";
/// `{"appId", "secret": OAuth2ClientSecret}`.
pub(super) const APP_SECRETS: &str = "appSecrets";
/// `{"appId", "assignment": ApplicationGroupAssignment}`.
pub(super) const APP_GROUPS: &str = "appGroups";
/// Groups as Okta shows them.
pub(super) const GROUPS: &str = "groups";
/// `{"groupId", "userId"}`, for `OKTA_GROUP`s only.
pub(super) const GROUP_USERS: &str = "groupUsers";

pub(super) const EVERYONE: &str = "Everyone";

/// The seeded groups besides `Everyone`: name, description, and which
/// users (every n-th, from the k-th, in sign-up order) are members.
const SEEDED_GROUPS: [(&str, &str, usize, usize); 2] = [
    ("Engineering", "People who build the product", 3, 0),
    ("Sales", "People who sell the product", 4, 1),
];

/// The locked resources of one emulated org.
pub(super) struct Directory<'a>(MutexGuard<'a, BTreeMap<&'static str, Vec<Value>>>);

impl Directory<'_> {
    pub(super) fn all(&self, kind: &'static str) -> &[Value] {
        self.0.get(kind).map_or(&[], Vec::as_slice)
    }

    pub(super) fn all_mut(&mut self, kind: &'static str) -> &mut Vec<Value> {
        self.0.entry(kind).or_default()
    }

    /// The object of `kind` whose `id` is `id`.
    pub(super) fn find(&self, kind: &'static str, id: &str) -> Option<&Value> {
        self.all(kind).iter().find(|v| v["id"] == id)
    }

    pub(super) fn find_mut(&mut self, kind: &'static str, id: &str) -> Option<&mut Value> {
        self.all_mut(kind).iter_mut().find(|v| v["id"] == id)
    }

    /// The built-in group of every user.
    pub(super) fn everyone_id(&self) -> Option<&str> {
        self.all(GROUPS)
            .iter()
            .find(|g| g["type"] == "BUILT_IN" && g["profile"]["name"] == EVERYONE)
            .and_then(|g| g["id"].as_str())
    }

    /// Whether `user_id` is a stored member of the `OKTA_GROUP` `group_id`.
    pub(super) fn is_stored_member(&self, group_id: &str, user_id: &str) -> bool {
        self.all(GROUP_USERS)
            .iter()
            .any(|m| m["groupId"] == group_id && m["userId"] == user_id)
    }
}

fn lock(core: &Core) -> MutexGuard<'_, BTreeMap<&'static str, Vec<Value>>> {
    core.resources
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
}

/// The org's resources, its groups seeded on first use. Never call it
/// while holding the users' lock (`Core::lock`): seeding takes it.
pub(super) fn directory(core: &Core) -> Directory<'_> {
    let resources = lock(core);
    if resources.contains_key(GROUPS) {
        return Directory(resources);
    }
    drop(resources);
    let (users, now) = {
        let inner = core.lock();
        let ids: Vec<String> = inner
            .store
            .ids(Order::Created)
            .iter()
            .map(|(_, id)| id.clone())
            .collect();
        (ids, inner.now().timestamp_millis())
    };
    let mut resources = lock(core);
    if !resources.contains_key(GROUPS) {
        seed(core, &mut resources, &users, now);
    }
    Directory(resources)
}

/// A new group id: `00g` and 17 letters or digits.
pub(super) fn group_id(rng: &mut impl rand::Rng) -> String {
    format!("00g{}", alphanumeric(rng, 17))
}

/// A group as Okta shows it.
pub(super) fn group_json(
    core: &Core,
    id: &str,
    kind: &str,
    name: &str,
    description: &str,
    at_ms: i64,
) -> Value {
    let me = format!("{}/api/v1/groups/{id}", core.base_url);
    let logo = |size: &str| {
        json!({
            "name": size,
            "href": format!("{}/assets/img/logos/groups/odyssey/okta-{size}.png", core.base_url),
            "type": "image/png",
        })
    };
    json!({
        "id": id,
        "created": iso(at_ms),
        "lastUpdated": iso(at_ms),
        "lastMembershipUpdated": iso(at_ms),
        "objectClass": ["okta:user_group"],
        "type": kind,
        "profile": { "name": name, "description": description },
        "_links": {
            "logo": [logo("medium"), logo("large")],
            "users": { "href": format!("{me}/users") },
            "apps": { "href": format!("{me}/apps") },
        },
    })
}

fn seed(
    core: &Core,
    resources: &mut BTreeMap<&'static str, Vec<Value>>,
    users: &[String],
    now_ms: i64,
) {
    // Apart from the users' rng, so seeding never changes which users exist.
    let mut rng = StdRng::seed_from_u64(core.config.rng_seed ^ 0x0067_7270);
    let everyone = group_id(&mut rng);
    let mut groups = vec![group_json(
        core,
        &everyone,
        "BUILT_IN",
        EVERYONE,
        "All users in your organization",
        now_ms,
    )];
    let mut members = Vec::new();
    for (name, description, every, from) in SEEDED_GROUPS {
        let id = group_id(&mut rng);
        groups.push(group_json(
            core,
            &id,
            "OKTA_GROUP",
            name,
            description,
            now_ms,
        ));
        for user in users.iter().skip(from).step_by(every) {
            members.push(json!({ "groupId": id, "userId": user }));
        }
    }
    resources.insert(GROUPS, groups);
    resources.insert(GROUP_USERS, members);
}
