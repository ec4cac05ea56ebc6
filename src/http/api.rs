//! Running the API: the public listener, the admin listener (`/metrics`, `/status`), the loop
//! that forgets idle merchants' rate-limit buckets, and the drain at shutdown. The binary and
//! the tests run it the same way (`Api::serve` binds, `Api::run` takes listeners).
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use super::{AppState, serve, serve_admin};
use crate::util::{BindError, bind};

/// How long, after the listeners stop, writes still being carried through may take. With the
/// listeners' own drain (`server::DRAIN_GRACE`, 10 s) it stays within the orchestrator's stop
/// timeout (30 s on ECS, see infra/terraform). A write still unconfirmed then is found by the
/// repair path if it landed.
pub const WRITES_GRACE: Duration = Duration::from_secs(15);

/// How often rate-limit buckets of merchants gone quiet are dropped: memory stays bounded by
/// the merchants active in the last minute.
const SHRINK_EVERY: Duration = Duration::from_secs(60);

/// Why the API stopped other than by shutdown.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error(transparent)]
    Bind(#[from] BindError),
    #[error("the {0} listener failed")]
    Listener(&'static str, #[source] std::io::Error),
}

/// The API, assembled (`wiring::api`) and ready to run.
pub struct Api {
    pub state: AppState,
}

impl Api {
    pub fn new(state: AppState) -> Self {
        Self { state }
    }

    /// What the binary does: bind both listeners, run until `shutdown`.
    pub async fn serve(
        self,
        public: SocketAddr,
        admin: SocketAddr,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), RunError> {
        let (public, admin) = (bind(public).await?, bind(admin).await?);
        self.run(public, admin, shutdown).await
    }

    /// Serves until `shutdown` completes: the listeners finish the requests in flight, then the
    /// writes still being carried through get `WRITES_GRACE`.
    pub async fn run(
        self,
        public: TcpListener,
        admin: TcpListener,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), RunError> {
        let state = self.state;
        let local = |l: &TcpListener, name| l.local_addr().map_err(|e| RunError::Listener(name, e));
        tracing::info!(addr = %local(&public, "public")?, admin = %local(&admin, "admin")?,
            base_url = %state.settings.base_url, "api listening");
        let stop = CancellationToken::new();
        let auth = Arc::clone(&state.auth);
        let shrink = stop.clone();
        tokio::spawn(async move {
            let mut every = tokio::time::interval(SHRINK_EVERY);
            loop {
                tokio::select! {
                    () = shrink.cancelled() => break,
                    _ = every.tick() => auth.limits.shrink(),
                }
            }
        });
        let admin_task = tokio::spawn(serve_admin(admin, state.settings.conn, stop.clone().cancelled_owned()));
        let writes = state.writes.clone();
        let signal = {
            let stop = stop.clone();
            async move {
                shutdown.await;
                stop.cancel();
            }
        };
        let served = serve(public, state, signal).await;
        stop.cancel();
        writes.close();
        if tokio::time::timeout(WRITES_GRACE, writes.wait()).await.is_err() {
            tracing::error!(
                left = writes.len(),
                "writes still unconfirmed at shutdown; the repair path will finish them"
            );
        }
        served.map_err(|e| RunError::Listener("public", e))?;
        match admin_task.await {
            Ok(result) => result.map_err(|e| RunError::Listener("admin", e))?,
            Err(e) => tracing::error!(error = %e, "the admin listener's task ended abnormally"),
        }
        tracing::info!("api stopped");
        Ok(())
    }
}
