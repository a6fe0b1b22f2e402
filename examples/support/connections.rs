//! A lean load generator: each worker keeps one HTTP/1.1 connection and sends a request built
//! once, as wrk does. The generator shares the server's cores, so every microsecond it spends
//! per request (a full-featured client's pool, URL and header handling) is taken from the
//! server being measured.

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::client::conn::http1::SendRequest;
use hyper::{Method, Request};
use hyper_util::rt::TokioIo;
use tokio::sync::Mutex;

/// A request to send again and again: method, path, headers and body.
#[derive(Clone)]
pub struct Prepared {
    method: Method,
    path: String,
    headers: hyper::HeaderMap,
    body: Bytes,
}

impl Prepared {
    /// From a reqwest builder (the examples' usual way to describe a request).
    pub fn from(builder: reqwest::RequestBuilder) -> anyhow::Result<Self> {
        let request = builder.build()?;
        let mut headers = request.headers().clone();
        let url = request.url();
        let host = url.host_str().unwrap_or("127.0.0.1");
        let host = match url.port() {
            Some(port) => format!("{host}:{port}"),
            None => host.to_string(),
        };
        headers.insert(hyper::header::HOST, host.parse()?);
        let path = match url.query() {
            Some(query) => format!("{}?{query}", url.path()),
            None => url.path().to_string(),
        };
        let body = request.body().and_then(reqwest::Body::as_bytes).map(Bytes::copy_from_slice).unwrap_or_default();
        Ok(Self { method: request.method().clone(), path, headers, body })
    }

    fn request(&self) -> Request<Full<Bytes>> {
        let mut request = Request::new(Full::new(self.body.clone()));
        *request.method_mut() = self.method.clone();
        *request.uri_mut() = self.path.parse().expect("a path parsed before");
        *request.headers_mut() = self.headers.clone();
        request
    }
}

/// One open connection per worker to `address` (`host:port`).
pub struct Connections(Vec<Mutex<SendRequest<Full<Bytes>>>>);

impl Connections {
    pub async fn open(address: &str, workers: usize) -> anyhow::Result<Self> {
        let mut connections = Vec::with_capacity(workers);
        for _ in 0..workers {
            let stream = tokio::net::TcpStream::connect(address).await?;
            stream.set_nodelay(true)?;
            let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
            tokio::spawn(connection);
            connections.push(Mutex::new(sender));
        }
        Ok(Self(connections))
    }

    /// Sends `prepared` on the worker's connection and reads the whole answer: whether it is a
    /// 200 whose body starts with `prefix`.
    pub async fn succeeded(&self, worker: usize, prepared: &Prepared, prefix: &[u8]) -> bool {
        let mut sender = self.0[worker].lock().await;
        let Ok(response) = sender.send_request(prepared.request()).await else { return false };
        if response.status() != 200 {
            return false;
        }
        match response.into_body().collect().await {
            Ok(body) => body.to_bytes().starts_with(prefix),
            Err(_) => false,
        }
    }
}
