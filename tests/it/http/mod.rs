//! What lagwatch serves: `/metrics` (golden output, streaming), the JSON API, HTTPS and
//! basic auth.

mod api_schema;
mod metrics;
mod metrics_stream;
mod web_security;
