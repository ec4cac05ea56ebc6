//! Running a worker (built by `crate::wiring::worker`): its health endpoint, the consumer and the
//! repair loop, until shutdown. Test harnesses build, then `Worker::run` on a listener of their own.
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use super::config::RuntimeSettings;
use super::consumer::consume;
use super::handler::JobHandler;
use super::health::{self, WorkerStats};
use super::queue::SqsWorkQueue;
use super::repair::{RepairPass, repair_loop};
use super::{WorkerConfig, WorkerKind};
use crate::app::{AppError, Services};
pub use crate::wiring::StartError;

/// A worker, assembled and ready to run.
pub struct Worker {
    pub kind: WorkerKind,
    pub services: Services,
    pub handler: Arc<dyn JobHandler>,
    pub queue: Arc<SqsWorkQueue>,
    pub runtime: RuntimeSettings,
    pub repair: Arc<dyn RepairPass>,
    pub repair_every: Duration,
    pub stats: Arc<WorkerStats>,
}

/// What a worker binary does: bind the health endpoint, build, run until `shutdown`.
pub async fn serve(
    kind: WorkerKind,
    config: &WorkerConfig,
    shutdown: impl Future<Output = ()>,
) -> Result<(), StartError> {
    let addr = SocketAddr::new(config.http_host, config.http_port);
    let listener = TcpListener::bind(addr).await.map_err(|source| StartError::Bind { addr, source })?;
    crate::wiring::worker(kind, config).await?.run(listener, shutdown).await
}

impl Worker {
    /// One repair pass now, whatever the interval (for tests and operators' tools).
    pub async fn repair_once(&self) -> Result<usize, AppError> {
        self.repair.pass().await
    }

    /// Serves `GET /status` on `listener`, consumes the queue and runs the repair loop until
    /// `shutdown` completes; returns once running jobs are finished or handed back.
    pub async fn run(self, listener: TcpListener, shutdown: impl Future<Output = ()>) -> Result<(), StartError> {
        let addr = listener.local_addr().map_err(StartError::Health)?;
        // Two stages: `stop` ends the consumer and the repair loop; the health endpoint keeps
        // answering while they drain, and stops only after them (`health_stop`).
        let (stop, health_stop) = (CancellationToken::new(), CancellationToken::new());
        let app = health::router(self.kind.name(), Arc::clone(&self.stats));
        let health = tokio::spawn(
            axum::serve(listener, app).with_graceful_shutdown(health_stop.clone().cancelled_owned()).into_future(),
        );
        tracing::info!(worker = self.kind.name(), health = %addr, "worker started");

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
            Arc::clone(&self.repair),
            self.kind,
            self.repair_every,
            Arc::clone(&self.stats),
            stop.clone().cancelled_owned(),
        );
        let work = consume(self.handler, self.queue, self.runtime, Arc::clone(&self.stats), stop.cancelled_owned());
        tokio::join!(signal, repair, work);

        health_stop.cancel();
        match health.await {
            Ok(Ok(())) | Err(_) => {}
            Ok(Err(e)) => return Err(StartError::Health(e)),
        }
        tracing::info!(worker = self.kind.name(), "worker stopped");
        Ok(())
    }
}
