//! `ovlt health`: one GET of a running server's `/health`, for `HEALTHCHECK` in an image that has
//! no curl. Exit 0 on 200; 1 with a one-line reason on anything else, within three seconds.

use std::net::IpAddr;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use hyper_util::rt::TokioIo;

const TIMEOUT: Duration = Duration::from_secs(3);

pub fn check(url: Option<String>) -> ExitCode {
    let url = url.unwrap_or_else(default_url);
    let answer = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")
        .and_then(|runtime| {
            runtime.block_on(async { tokio::time::timeout(TIMEOUT, status(&url)).await }).map_err(Into::into)
        })
        .and_then(|answer| answer);
    match answer {
        Ok(200) => ExitCode::SUCCESS,
        Ok(status) => {
            eprintln!("ovlt health: {url} answered {status}");
            ExitCode::FAILURE
        }
        Err(e) => {
            eprintln!("ovlt health: {url}: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// The server's own address as its environment gives it: the listening host (loopback when it
/// listens on every address) and `OVLT_PORT`.
fn default_url() -> String {
    let port = std::env::var("OVLT_PORT").unwrap_or_else(|_| "3000".into());
    let host = match std::env::var("OVLT_HOST").ok().and_then(|h| h.parse::<IpAddr>().ok()) {
        Some(IpAddr::V4(ip)) if !ip.is_unspecified() => ip.to_string(),
        Some(IpAddr::V6(ip)) if !ip.is_unspecified() => format!("[{ip}]"),
        _ => "127.0.0.1".into(),
    };
    format!("http://{host}:{port}/health")
}

async fn status(url: &str) -> anyhow::Result<u16> {
    let uri: hyper::Uri = url.parse().context("not a URL")?;
    anyhow::ensure!(uri.scheme_str() == Some("http"), "only http:// URLs are checked (the server's own port)");
    let authority = uri.authority().context("the URL names no host")?.clone();
    let host = authority.host().trim_start_matches('[').trim_end_matches(']');
    let stream =
        tokio::net::TcpStream::connect((host, authority.port_u16().unwrap_or(80))).await.context("cannot connect")?;
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
    tokio::spawn(connection);
    let path = uri.path_and_query().map_or("/", |p| p.as_str());
    let request = hyper::Request::get(path).header(hyper::header::HOST, authority.as_str()).body(String::new())?;
    Ok(sender.send_request(request).await?.status().as_u16())
}
