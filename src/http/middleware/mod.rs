//! What wraps every request of the public listener, outermost first: metrics and the request's
//! span (`observe`), security headers (`headers`), header and body size limits (`size`), the
//! timeout that knows whether a write started (`timeout`). Rate limits apply per merchant once
//! its token is verified (`auth::rate`).
pub mod headers;
pub mod observe;
pub mod size;
pub mod timeout;
