pub mod app;
pub mod bank;
pub mod emulator;
pub mod metrics;
pub mod system;
