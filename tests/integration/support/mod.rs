pub mod app;
pub mod bank;
pub mod emulator;
pub mod system;
