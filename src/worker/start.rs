//! Running a worker (built by `crate::wiring`): its health endpoint, the consumer and the repair
//! loop, until shutdown. Test harnesses build, then `Worker::run` on a listener of their own.
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use super::consumer::consume;
use super::health::{self, WorkerStats};
use super::repair::repair_loop;
use super::settings::RuntimeSettings;
use crate::app::AppError;
use crate::app::jobs::Jobs;
use crate::domain::queue::WorkQueue;
use crate::util::{BindError, bind};

/// A worker, assembled and ready to run: its jobs, the queue they come from, how it runs them.
pub struct Worker {
    pub jobs: Arc<dyn Jobs>,
    pub queue: Arc<dyn WorkQueue>,
    pub runtime: RuntimeSettings,
    pub repair_every: Duration,
    pub stats: Arc<WorkerStats>,
}

/// Why a worker stopped other than by shutdown.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error(transparent)]
    Bind(#[from] BindError),
    #[error("the health endpoint failed")]
    Health(#[source] std::io::Error),
}

impl Worker {
    /// One repair pass now, whatever the interval (for tests and operators' tools).
    pub async fn repair_once(&self) -> Result<usize, AppError> {
        self.jobs.repair().await
    }

    /// What a worker binary does: bind the health endpoint on `addr`, run until `shutdown`.
    pub async fn serve(self, addr: SocketAddr, shutdown: impl Future<Output = ()>) -> Result<(), RunError> {
        self.run(bind(addr).await?, shutdown).await
    }

    /// Serves `GET /status` on `listener`, consumes the queue and runs the repair loop until
    /// `shutdown` completes; returns once running jobs are finished or handed back.
    pub async fn run(self, listener: TcpListener, shutdown: impl Future<Output = ()>) -> Result<(), RunError> {
        let addr = listener.local_addr().map_err(RunError::Health)?;
        let name = self.jobs.name();
        // Two stages: `stop` ends the consumer and the repair loop; the health endpoint keeps
        // answering while they drain, and stops only after them (`health_stop`).
        let (stop, health_stop) = (CancellationToken::new(), CancellationToken::new());
        let app = health::router(name, Arc::clone(&self.stats));
        let health = tokio::spawn(
            axum::serve(listener, app).with_graceful_shutdown(health_stop.clone().cancelled_owned()).into_future(),
        );
        tracing::info!(worker = name, health = %addr, "worker started");

        let signal = {
            let stop = stop.clone();
            async move {
                tokio::select! {
                    () = shutdown => stop.cancel(),
                    () = stop.cancelled() => {}
                }
            }
        };
        let repair = repair_loop(
            Arc::clone(&self.jobs),
            self.repair_every,
            Arc::clone(&self.stats),
            stop.clone().cancelled_owned(),
        );
        let work = consume(self.jobs, self.queue, self.runtime, Arc::clone(&self.stats), stop.cancelled_owned());
        tokio::join!(signal, repair, work);

        health_stop.cancel();
        match health.await {
            Ok(Ok(())) | Err(_) => {}
            Ok(Err(e)) => return Err(RunError::Health(e)),
        }
        tracing::info!(worker = name, "worker stopped");
        Ok(())
    }
}
