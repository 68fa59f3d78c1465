//! The router on in-memory stores, served over real HTTP on 127.0.0.1 from a background
//! runtime: fast checks that need to reach into the stores (outages) or the route table.

use std::sync::Arc;

use backend::api::accounts::EmbeddedAccounts;
use backend::app::{AppState, app};
use backend::clock::{Clock, SystemClock};
use backend::config::ApiConfig;
use backend::server::serve;
use backend::storage::memory::{MemoryBlobStore, MemoryMetadataStore};

/// A running in-process server; stopped on drop.
pub struct InProcess {
    pub base: String,
    pub meta: Arc<MemoryMetadataStore>,
    pub blobs: Arc<MemoryBlobStore>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl InProcess {
    pub fn start() -> Self {
        Self::start_with(|_| {}, Arc::new(SystemClock))
    }

    /// With settings changed by `configure` and time from `clock` (a test moves a
    /// `ManualClock` instead of sleeping).
    pub fn start_with(
        configure: impl FnOnce(&mut ApiConfig) + Send + 'static,
        clock: Arc<dyn Clock>,
    ) -> Self {
        let meta = Arc::new(MemoryMetadataStore::new());
        let blobs = Arc::new(MemoryBlobStore::new());
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let (m, b) = (Arc::clone(&meta), Arc::clone(&blobs));
        let thread = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .expect("tokio runtime");
            runtime.block_on(async move {
                let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
                    .await
                    .expect("bind loopback");
                let addr = listener.local_addr().expect("local addr");
                let base = format!("http://{addr}");
                let mut config = ApiConfig::new(&base);
                configure(&mut config);
                let state = AppState::with_parts(
                    config,
                    &[7u8; 32],
                    m,
                    b,
                    Arc::new(EmbeddedAccounts),
                    clock,
                );
                ready_tx.send(base).expect("report address");
                serve(listener, app(state), async {
                    let _ = stopped.await;
                })
                .await
                .expect("serve");
            });
        });
        let base = ready_rx.recv().expect("server started");
        Self {
            base,
            meta,
            blobs,
            stop: Some(stop),
            thread: Some(thread),
        }
    }

    pub fn client(&self) -> super::Client {
        super::Client::new(&self.base)
    }
}

impl Drop for InProcess {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
