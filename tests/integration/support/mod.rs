pub mod app;
pub mod bank;
