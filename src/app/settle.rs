//! Settling payments and refunds (the workers' use cases).
