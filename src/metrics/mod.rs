//! The metrics and health endpoint: the daemon's numbers in the Prometheus text format at
//! `/metrics`, its health as JSON at `/health` and `/ready`, over HTTPS (rustls) with client
//! certificates and/or a bearer token when configured.
//!
//! The daemon fills a [`SensorMetrics`] about once a second and hands it to
//! [`MetricsShared::publish`] (and a [`Health`], from [`HealthMonitor::assess`], to
//! [`MetricsShared::set_health`]); [`MetricsServer::start`] binds and serves on threads of its
//! own. Rendering ([`render`]) and health rules are pure; only `server`, `http` and the file
//! reading of `config`/`tls` do I/O. docs/observability.md lists every metric.
//!
//! Not supported: HTTP/2, keep-alive (one request per connection), request bodies, reloading
//! the certificate, key or token without a restart, host names in `listen`, OpenMetrics or
//! protobuf formats, push gateways.

// Parts of the interface (the plain `render`, the loaded settings' flags) serve the tests and
// other callers only.
#![allow(dead_code)]


pub mod config;
pub mod exposition;
pub mod health;
mod http;
pub mod model;
pub mod render;
pub mod server;
pub mod sides;
pub mod tls;

// The module's whole interface is exported; the daemon uses part of it, its tests the rest.
#[allow(unused_imports)]
pub use config::{ConfigError, MetricsConfig, MetricsTls};
#[allow(unused_imports)]
pub use health::{Health, HealthMonitor, HealthReason, HealthRules, HealthStatus};
pub use model::{CheckpointMetrics, InterfaceCapture, KafkaMetrics, MemoryBytes, ProcessMetrics, SensorMetrics, WorkerLoad};
#[allow(unused_imports)]
pub use render::{render, render_scrape};
#[allow(unused_imports)]
pub use server::{EndpointStats, MetricsServer, MetricsShared};
