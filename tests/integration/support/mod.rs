pub mod app;
pub mod bank;
pub mod system;
