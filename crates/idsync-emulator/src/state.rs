//! The emulator's data: the user store, the clock, the webhook outbox.

use std::collections::HashMap;

use chrono::{DateTime, Duration, Utc};
use rand::rngs::StdRng;
use serde_json::Value;

use crate::webhooks::{WebhookEvent, WebhookSender};

/// One user, as the provider's API returns it, plus what the store indexes.
#[derive(Debug, Clone)]
pub(crate) struct StoredUser {
    pub json: Value,
    pub created_ms: i64,
    pub updated_ms: i64,
    /// Every email address the user has, lowercased (uniqueness checks).
    pub emails: Vec<String>,
}

/// Users by id, plus both list orders kept sorted so a page costs
/// O(log n + page) even at offset n, and a delete one `Vec::remove`.
#[derive(Debug, Default)]
pub(crate) struct Store {
    users: HashMap<String, StoredUser>,
    /// (created_ms, id) ascending; the id breaks ties, as providers that
    /// page by sign-up time do.
    by_created: Vec<(i64, String)>,
    /// (updated_ms, id) ascending.
    by_updated: Vec<(i64, String)>,
    /// Lowercased email -> owning user id.
    emails: HashMap<String, String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Order {
    Created,
    Updated,
}

impl Store {
    pub(crate) fn len(&self) -> usize {
        self.users.len()
    }

    pub(crate) fn get(&self, id: &str) -> Option<&StoredUser> {
        self.users.get(id)
    }

    /// Who owns an address, compared case-insensitively.
    pub(crate) fn email_owner(&self, email: &str) -> Option<&str> {
        self.emails.get(&email.to_lowercase()).map(String::as_str)
    }

    /// Adds or replaces a user.
    pub(crate) fn put(&mut self, id: &str, user: StoredUser) {
        self.remove(id);
        insert_sorted(&mut self.by_created, (user.created_ms, id.to_owned()));
        insert_sorted(&mut self.by_updated, (user.updated_ms, id.to_owned()));
        for email in &user.emails {
            self.emails.insert(email.clone(), id.to_owned());
        }
        self.users.insert(id.to_owned(), user);
    }

    pub(crate) fn remove(&mut self, id: &str) -> Option<StoredUser> {
        let user = self.users.remove(id)?;
        remove_sorted(&mut self.by_created, &(user.created_ms, id.to_owned()));
        remove_sorted(&mut self.by_updated, &(user.updated_ms, id.to_owned()));
        for email in &user.emails {
            self.emails.remove(email);
        }
        Some(user)
    }

    /// Ids in the given order, ascending.
    pub(crate) fn ids(&self, order: Order) -> &[(i64, String)] {
        match order {
            Order::Created => &self.by_created,
            Order::Updated => &self.by_updated,
        }
    }

    /// Where a user stands in creation order.
    pub(crate) fn created_position(&self, id: &str) -> Option<usize> {
        let user = self.users.get(id)?;
        self.by_created
            .binary_search_by(|(ms, other)| (*ms, other.as_str()).cmp(&(user.created_ms, id)))
            .ok()
    }

    /// A random user's id; `pick` is any number, reduced modulo the count.
    pub(crate) fn nth_id(&self, pick: usize) -> Option<&str> {
        let len = self.by_created.len();
        (len > 0).then(|| self.by_created[pick % len].1.as_str())
    }
}

fn insert_sorted(list: &mut Vec<(i64, String)>, key: (i64, String)) {
    let at = list.partition_point(|k| k < &key);
    list.insert(at, key);
}

fn remove_sorted(list: &mut Vec<(i64, String)>, key: &(i64, String)) {
    if let Ok(at) = list.binary_search(key) {
        list.remove(at);
    }
}

/// Everything behind the emulator's lock.
pub(crate) struct Inner {
    pub store: Store,
    /// Emulator time = real time + this.
    pub clock_offset: Duration,
    pub rng: StdRng,
    /// Makes generated email addresses unique.
    pub email_serial: u64,
    pub emit_webhooks: bool,
    pub outbox: Vec<WebhookEvent>,
    pub auto_deliver: Option<WebhookSender>,
    /// Successful list requests still allowed before answering 500.
    pub list_ok_left: Option<u64>,
}

impl Inner {
    pub(crate) fn new(rng: StdRng) -> Self {
        Self {
            store: Store::default(),
            clock_offset: Duration::zero(),
            rng,
            email_serial: 0,
            emit_webhooks: true,
            outbox: Vec::new(),
            auto_deliver: None,
            list_ok_left: None,
        }
    }

    pub(crate) fn now(&self) -> DateTime<Utc> {
        Utc::now() + self.clock_offset
    }

    pub(crate) fn next_serial(&mut self) -> u64 {
        self.email_serial += 1;
        self.email_serial
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(created_ms: i64, email: &str) -> StoredUser {
        StoredUser {
            json: Value::Null,
            created_ms,
            updated_ms: created_ms,
            emails: vec![email.to_owned()],
        }
    }

    #[test]
    fn keeps_orders_and_emails_in_step() {
        let mut store = Store::default();
        store.put("b", user(2, "b@x"));
        store.put("a", user(2, "a@x"));
        store.put("c", user(1, "c@x"));
        let ids = |store: &Store| {
            store
                .ids(Order::Created)
                .iter()
                .map(|(_, id)| id.clone())
                .collect::<Vec<_>>()
        };
        assert_eq!(ids(&store), ["c", "a", "b"]);
        assert_eq!(store.created_position("b"), Some(2));
        assert_eq!(store.email_owner("A@X"), Some("a"));

        store.put(
            "a",
            StoredUser {
                updated_ms: 9,
                ..user(2, "new@x")
            },
        );
        assert_eq!(store.email_owner("a@x"), None);
        assert_eq!(store.ids(Order::Updated).last().map(|k| k.0), Some(9));
        assert!(store.remove("c").is_some());
        assert_eq!(ids(&store), ["a", "b"]);
        assert_eq!(store.len(), 2);
        assert_eq!(store.nth_id(3), Some("b"));
    }
}
