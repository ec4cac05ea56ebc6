//! One integration-test binary (one link), modules per area. The tests talk to the emulator
//! that `make test` starts (`AWS_ENDPOINT_URL`) and to real binaries over HTTP.
mod api_auth;
mod api_idempotency;
mod api_openapi;
mod api_payments;
mod api_refunds;
mod bank_durability;
mod bank_outcomes;
mod bank_sim;
mod chaos;
mod chaos_bank;
mod dev_script;
mod e2e;
mod events;
mod hardening;
mod identity;
mod infra_apply;
mod infra_names;
mod infra_plan;
mod observability;
mod postman;
mod security;
mod setup_and_data;
mod store_suite;
mod support;
mod webhooks;
mod webhooks_chaos;
