//! Resources written through an API idsync serves (SCIM users and
//! groups), as the served provider and the store exchange them.

use chrono::{DateTime, Utc};
use serde_json::Value;

/// The two kinds of resources the store holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ResourceKind {
    /// A row of the users table.
    User,
    /// A row of the groups table, with its memberships.
    Group,
}

/// A resource as the provider wants it stored.
#[derive(Debug, Clone, PartialEq)]
pub struct Resource {
    /// The row's id; never changes once created.
    pub id: String,
    /// `raw_json`: the resource as the identity provider sent it (without
    /// secrets and without server-computed metadata).
    pub json: Value,
    /// The `name` column.
    pub name: Option<String>,
    /// The `email` column (users only).
    pub email: Option<String>,
    /// `false` keeps the row with `deleted_at` set (a deprovisioned user).
    pub active: bool,
    /// Compared without regard to case among the kind's resources; a clash
    /// refuses the write with [`StoreFailure::Conflict`] (a user's
    /// `userName`).
    pub unique_name: Option<String>,
    /// A group's members, in order: the membership rows' `user_id`s and
    /// `raw_json`s. Empty for users.
    pub members: Vec<Member>,
}

/// One member of a group.
#[derive(Debug, Clone, PartialEq)]
pub struct Member {
    /// The member's id (a row id of the users table, or of the groups
    /// table for a nested group).
    pub id: String,
    /// The member as sent (`value`, `display`, `type`, …).
    pub json: Value,
}

/// A resource read from the store, with its bookkeeping.
#[derive(Debug, Clone, PartialEq)]
pub struct Stored {
    pub resource: Resource,
    pub created: DateTime<Utc>,
    /// The row's version; strictly increasing with each write.
    pub modified: DateTime<Utc>,
}

/// An equality the listed resources must meet (all of them: `and`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Condition {
    /// The row id.
    Id(String),
    /// A top-level string attribute of the resource's JSON, compared
    /// exactly (`externalId`).
    Exact(&'static str, String),
    /// A top-level string attribute compared without regard to case
    /// (`userName`, `displayName`).
    CaseInsensitive(&'static str, String),
    /// Any `value` of a multi-valued attribute, without regard to case
    /// (`emails.value`).
    AnyValue(&'static str, String),
}

/// A page of a listing.
#[derive(Debug, Clone, PartialEq)]
pub struct Query {
    pub conditions: Vec<Condition>,
    /// 0-based offset.
    pub offset: u64,
    pub limit: u64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Listed {
    pub total: u64,
    pub items: Vec<Stored>,
}
