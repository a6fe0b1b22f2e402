//! A real SMTP listener on loopback (mailin-embedded) that hands each received message to the
//! test, so tests read verification codes and reset links out of real mail.

use std::time::Duration;

use mailin_embedded::{Handler, Response, Server, response};
use tokio::sync::mpsc;

#[derive(Debug, Clone)]
pub struct ReceivedMail {
    pub to: Vec<String>,
    /// Headers and body, with quoted-printable soft breaks undone.
    pub text: String,
}

#[derive(Clone)]
struct Collector {
    to: Vec<String>,
    data: Vec<u8>,
    sender: mpsc::UnboundedSender<ReceivedMail>,
}

impl Handler for Collector {
    fn data_start(&mut self, _domain: &str, _from: &str, _is8bit: bool, to: &[String]) -> Response {
        self.to = to.to_vec();
        self.data.clear();
        response::OK
    }

    fn data(&mut self, buf: &[u8]) -> std::io::Result<()> {
        self.data.extend_from_slice(buf);
        Ok(())
    }

    fn data_end(&mut self) -> Response {
        let raw = String::from_utf8_lossy(&self.data).to_string();
        let text = raw.replace("=\r\n", "").replace("=3D", "=");
        let _ = self.sender.send(ReceivedMail { to: self.to.clone(), text });
        response::OK
    }
}

pub struct MailSink {
    pub url: String,
    receiver: mpsc::UnboundedReceiver<ReceivedMail>,
}

impl MailSink {
    pub fn start() -> Self {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("smtp://{}", listener.local_addr().unwrap());
        let (sender, receiver) = mpsc::unbounded_channel();
        let mut server = Server::new(Collector { to: Vec::new(), data: Vec::new(), sender });
        // Several threads: lettre pools connections and may open a second one while the first is
        // still checked out; a one-thread sink would leave the second waiting.
        server.with_name("sink.test").with_num_threads(4).with_tcp_listener(listener);
        std::thread::spawn(move || {
            let _ = server.serve();
        });
        Self { url, receiver }
    }

    /// The next message, waiting up to ten seconds for it.
    pub async fn next(&mut self) -> ReceivedMail {
        tokio::time::timeout(Duration::from_secs(10), self.receiver.recv())
            .await
            .expect("an email arrives")
            .expect("the sink is running")
    }

    /// No message arrives within a short while.
    pub async fn assert_nothing_arrives(&mut self) {
        let got = tokio::time::timeout(Duration::from_millis(500), self.receiver.recv()).await;
        assert!(got.is_err(), "unexpected email: {:?}", got.ok().flatten().map(|m| m.to));
    }
}
