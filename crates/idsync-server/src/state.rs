use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Notify;

use idsync_core::ConnectionName;
use idsync_providers::Provider;
use idsync_store::applier::Applier;
use idsync_store::resources::ResourceTables;
use idsync_store::{PgPool, UsersTable};

use metrics_exporter_prometheus::PrometheusHandle;

use crate::admin::AdminAccess;
use crate::console::AdminOidc;

/// Everything one configured connection needs at run time.
pub struct ConnectionRuntime {
    pub name: ConnectionName,
    pub table: UsersTable,
    pub provider: Provider,
    pub applier: Applier,
    /// `None`: no periodic reconcile.
    pub reconcile_interval: Option<Duration>,
    /// How often a periodic reconcile is a full one when the provider can
    /// list only the changed users; `None`: only the first.
    pub full_reconcile_interval: Option<Duration>,
    /// Wakes this connection's refresher when notifications are queued.
    pub refresh_wake: Arc<Notify>,
    /// The tables of a connection whose provider serves an API (SCIM);
    /// `None` for the others.
    pub resources: Option<ResourceTables>,
}

/// Shared by every request; cheap to clone.
#[derive(Clone)]
pub struct AppState {
    pub pool: PgPool,
    pub connections: Arc<HashMap<String, Arc<ConnectionRuntime>>>,
    /// Connection names in configuration order, for listings.
    pub order: Arc<Vec<String>>,
    pub admin: Arc<AdminAccess>,
    /// Console sign-in through OpenID Connect; `None`: admin token only.
    pub admin_oidc: Option<Arc<AdminOidc>>,
    /// Base URL the provider reaches idsync at, for the webhook URLs shown.
    pub public_url: Arc<str>,
    /// Renders `/metrics`; `None` when no recorder is installed.
    pub metrics: Option<PrometheusHandle>,
    /// How long delivery records (and so redelivery de-duplication) are kept.
    pub delivery_retention: Duration,
}

impl AppState {
    /// State with a generated admin token and `http://127.0.0.1:8080` as the
    /// public URL; see [`with_admin`](Self::with_admin) and
    /// [`with_public_url`](Self::with_public_url).
    pub fn new(pool: PgPool, connections: Vec<ConnectionRuntime>) -> Self {
        let order = connections.iter().map(|c| c.name.to_string()).collect();
        let connections = connections
            .into_iter()
            .map(|c| (c.name.to_string(), Arc::new(c)))
            .collect();
        Self {
            pool,
            connections: Arc::new(connections),
            order: Arc::new(order),
            admin: Arc::new(AdminAccess::generate()),
            admin_oidc: None,
            public_url: Arc::from("http://127.0.0.1:8080"),
            metrics: None,
            delivery_retention: Duration::from_secs(7 * 24 * 3600),
        }
    }

    pub fn with_delivery_retention(mut self, keep: Duration) -> Self {
        self.delivery_retention = keep;
        self
    }

    pub fn with_metrics(mut self, handle: PrometheusHandle) -> Self {
        self.metrics = Some(handle);
        self
    }

    pub fn with_admin(mut self, admin: AdminAccess) -> Self {
        self.admin = Arc::new(admin);
        self
    }

    /// Adds console sign-in through OpenID Connect. Build it with the
    /// final [`admin`](Self::admin) and [`public_url`](Self::public_url):
    /// its cookie key and callback URL come from them.
    pub fn with_admin_oidc(mut self, oidc: AdminOidc) -> Self {
        self.admin_oidc = Some(Arc::new(oidc));
        self
    }

    pub fn with_public_url(mut self, url: &str) -> Self {
        self.public_url = Arc::from(url.trim_end_matches('/'));
        self
    }

    /// Connections in configuration order.
    pub fn ordered(&self) -> impl Iterator<Item = &Arc<ConnectionRuntime>> {
        self.order.iter().filter_map(|n| self.connections.get(n))
    }

    pub fn connection(&self, name: &str) -> Option<Arc<ConnectionRuntime>> {
        self.connections.get(name).cloned()
    }

    pub fn resource_tables(&self) -> Vec<ResourceTables> {
        self.connections
            .values()
            .filter_map(|c| c.resources.clone())
            .collect()
    }

    pub fn tables(&self) -> Vec<UsersTable> {
        self.connections.values().map(|c| c.table.clone()).collect()
    }
}
