//! What lagwatch serves: `/metrics` (golden output, streaming), the JSON API, HTTPS and
//! basic auth, the built-in web page (in headless Chromium).

mod api_schema;
mod connections;
mod metrics;
mod metrics_compat;
mod metrics_granularity;
mod metrics_stream;
mod silences_api;
mod web_page;
mod web_page_http;
mod web_security;
