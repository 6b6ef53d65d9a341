use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use idsync_core::ConnectionName;
use idsync_providers::svix::Verifier;
use idsync_providers::{Provider, ProviderKind};
use idsync_store::applier::Applier;
use idsync_store::{PgPool, UsersTable};

/// Everything one configured connection needs at run time.
pub struct ConnectionRuntime {
    pub name: ConnectionName,
    pub kind: ProviderKind,
    pub table: UsersTable,
    pub verifier: Verifier,
    pub provider: Provider,
    pub applier: Applier,
    /// `None`: no periodic reconcile.
    pub reconcile_interval: Option<Duration>,
}

/// Shared by every request; cheap to clone.
#[derive(Clone)]
pub struct AppState {
    pub pool: PgPool,
    pub connections: Arc<HashMap<String, Arc<ConnectionRuntime>>>,
}

impl AppState {
    pub fn new(pool: PgPool, connections: Vec<ConnectionRuntime>) -> Self {
        let connections = connections
            .into_iter()
            .map(|c| (c.name.to_string(), Arc::new(c)))
            .collect();
        Self {
            pool,
            connections: Arc::new(connections),
        }
    }

    pub fn tables(&self) -> Vec<UsersTable> {
        self.connections.values().map(|c| c.table.clone()).collect()
    }
}
