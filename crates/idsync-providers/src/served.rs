//! The seam for a provider that serves an API of its own, which the
//! identity provider writes to (SCIM 2.0 under `/scim/{connection}/v2/`).
//!
//! The provider module parses and answers the protocol; it knows no SQL.
//! What it reads and writes goes through [`ResourceStore`], which the server
//! implements over the store: users through the applier's versioned
//! upsert, groups and memberships in their own tables.

use std::fmt;
use std::future::Future;
use std::pin::Pin;

use http::{HeaderMap, Method, StatusCode};

pub use idsync_core::resource::{Condition, Listed, Member, Query, Resource, ResourceKind, Stored};

/// A request under the served prefix, handed over by the server.
#[derive(Debug, Clone, Copy)]
pub struct ServedRequest<'a> {
    pub method: &'a Method,
    /// The path after the prefix, percent-encoded as received, e.g.
    /// `/Users/2819c223`; empty for the prefix itself.
    pub path: &'a str,
    /// The raw query string, without `?`.
    pub query: Option<&'a str>,
    pub headers: &'a HeaderMap,
    pub body: &'a [u8],
    /// The public URL of the prefix, e.g. `https://idsync.example.com/scim/main/v2`,
    /// for the locations of resources.
    pub base_url: &'a str,
}

/// The answer, and what it did, for the request log.
#[derive(Debug, Clone)]
pub struct ServedResponse {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
    /// A short word for the request log: `created`, `updated`,
    /// `unchanged`, `deleted`, `read`, `refused`, …
    pub outcome: &'static str,
}

/// A store call in flight; boxed so the store can be a trait object.
pub type StoreFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, StoreFailure>> + Send + 'a>>;

/// A provider module that serves routes.
pub trait ServedApi: Send + Sync + fmt::Debug {
    /// The tables besides the users table that the store must have.
    fn tables(&self) -> ServedTables<'_>;

    /// Answers one request, reading and writing through `store`.
    fn handle<'a>(
        &'a self,
        request: ServedRequest<'a>,
        store: &'a dyn ResourceStore,
    ) -> Pin<Box<dyn Future<Output = ServedResponse> + Send + 'a>>;

    /// The answer to a request the server refuses before handing it over
    /// (a body over the size limit), in the protocol's error format.
    fn refuse(&self, status: StatusCode, detail: &str) -> ServedResponse;
}

/// Names of the groups and memberships tables, in the users table's schema.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServedTables<'a> {
    pub groups: &'a idsync_core::SqlIdent,
    pub members: &'a idsync_core::SqlIdent,
}

/// What a modification decides, given the current resource.
pub type Edit<'a> = dyn FnMut(&Stored) -> Option<Resource> + Send + 'a;

/// Why the store did not do what was asked.
#[derive(Debug, thiserror::Error)]
pub enum StoreFailure {
    /// Another live resource holds the id or the unique name.
    #[error("{0}")]
    Conflict(String),
    /// The database is unavailable; retry.
    #[error("unavailable: {0}")]
    Unavailable(String),
    /// Anything else (a bug, a refused value); details are in the log.
    #[error("{0}")]
    Failed(String),
}

/// The store operations a served API needs, and no more. Deleted resources
/// (`delete`) are invisible to `get`, `list` and `modify`; deactivated ones
/// (`active: false`) are not.
pub trait ResourceStore: Send + Sync {
    /// Creates a resource; if a deleted one has its id, it comes back.
    fn insert<'a>(&'a self, kind: ResourceKind, resource: Resource) -> StoreFuture<'a, Stored>;

    fn get<'a>(&'a self, kind: ResourceKind, id: &'a str) -> StoreFuture<'a, Option<Stored>>;

    fn list<'a>(&'a self, kind: ResourceKind, query: &'a Query) -> StoreFuture<'a, Listed>;

    /// Read-modify-write in one transaction, the row locked: `edit` sees
    /// the current resource and returns the new one (`None`: write
    /// nothing). `Ok(None)` when there is no such resource; the stored
    /// result otherwise (the current one when unchanged or refused).
    fn modify<'a>(
        &'a self,
        kind: ResourceKind,
        id: &'a str,
        edit: &'a mut Edit<'a>,
    ) -> StoreFuture<'a, Option<Stored>>;

    /// Soft-deletes; `false` when there was no such resource.
    fn delete<'a>(&'a self, kind: ResourceKind, id: &'a str) -> StoreFuture<'a, bool>;
}
