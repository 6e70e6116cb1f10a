//! What we ship besides the binary: Grafana dashboards and Prometheus rules (linted, and
//! evaluated by a real Prometheus against a live lagwatch), the Dockerfile and compose stack,
//! the Helm chart and plain Kubernetes manifests.

pub(crate) mod dashboards_lint;
mod deploy;
mod layout;
mod packaging;
mod prometheus_live;
