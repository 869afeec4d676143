//! The native DOIP listener: DOIP v2.0 messages over TLS, as the DONA reference
//! implementation and its clients (Cordra's, `doip-sdk`'s) frame them. A message is a
//! series of segments: a JSON segment is its text followed by a line holding only `#`; a
//! bytes segment is a line `@`, then chunks each as a line with its length and the bytes,
//! then a line `#`; a lone `#` line (an empty segment) ends the message. One request is
//! answered per connection, as the reference client sends it.
//!
//! The certificate is made at start and self-signed: a client learns who the service is
//! from the node description in its signed `Hello`, not from the certificate.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt as _;
use tokio::io::{AsyncBufReadExt as _, AsyncRead, AsyncReadExt as _, AsyncWrite, AsyncWriteExt as _, BufReader};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

use crate::domain::doip::{DoipRequest, DoipResponse, DoipStatus};
use crate::service::Context;
use crate::service::doip::{DoipAnswer, perform};

/// Most bytes a request may hold (its JSON segments; the node's operations take no bytes).
const MAX_REQUEST_BYTES: usize = 64 * 1024;
/// Time a connection has to send its request, and to take the answer.
const CONNECTION_TIME_LIMIT: Duration = Duration::from_secs(60);
/// Most connections served at once.
const MAX_CONNECTIONS: usize = 256;

/// A TLS acceptor with a certificate made now for `host`, self-signed.
pub fn self_signed_acceptor(host: &str) -> anyhow::Result<TlsAcceptor> {
    let certified = rcgen::generate_simple_self_signed(vec![host.to_owned(), "localhost".to_owned()])?;
    let key = rustls_pki_types::PrivateKeyDer::Pkcs8(certified.key_pair.serialize_der().into());
    let provider = Arc::new(tokio_rustls::rustls::crypto::ring::default_provider());
    let config = tokio_rustls::rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(vec![certified.cert.der().clone()], key)?;
    Ok(TlsAcceptor::from(Arc::new(config)))
}

/// Serves DOIP on `listener` until the task is dropped.
pub async fn serve(listener: TcpListener, ctx: Context, tls: TlsAcceptor) {
    let local = listener.local_addr().ok();
    let slots = Arc::new(tokio::sync::Semaphore::new(MAX_CONNECTIONS));
    loop {
        let (socket, peer) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(error) => {
                tracing::warn!(%error, "DOIP accept failed");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let Ok(slot) = Arc::clone(&slots).acquire_owned().await else {
            return;
        };
        let (ctx, tls) = (ctx.clone(), tls.clone());
        tokio::spawn(async move {
            let served = tokio::time::timeout(CONNECTION_TIME_LIMIT, async {
                let stream = tls.accept(socket).await?;
                answer(stream, &ctx, local).await
            })
            .await;
            match served {
                Ok(Ok(())) => {}
                Ok(Err(error)) => tracing::debug!(%error, %peer, "DOIP connection ended early"),
                Err(_) => tracing::debug!(%peer, "DOIP connection timed out"),
            }
            drop(slot);
        });
    }
}

/// Reads one request from `stream` and writes its answer.
async fn answer<S: AsyncRead + AsyncWrite + Unpin>(
    stream: S,
    ctx: &Context,
    local: Option<SocketAddr>,
) -> std::io::Result<()> {
    let mut stream = BufReader::new(stream);
    let answer = match read_request(&mut stream).await? {
        Ok(request) => perform(ctx, request, local).await,
        Err(why) => DoipAnswer {
            response: DoipResponse::failure(None, DoipStatus::Invalid, &why),
            element: None,
        },
    };
    write_answer(stream.get_mut(), answer).await
}

/// The request's first segment, or why it is not a request; the rest of the message is
/// read and must hold no bytes.
async fn read_request<S: AsyncRead + Unpin>(stream: &mut BufReader<S>) -> std::io::Result<Result<DoipRequest, String>> {
    let mut segments: Vec<String> = Vec::new();
    let mut segment = String::new();
    let mut read = 0;
    loop {
        let mut line = String::new();
        let count = (&mut *stream)
            .take((MAX_REQUEST_BYTES - read + 1) as u64)
            .read_line(&mut line)
            .await;
        let count = match count {
            Ok(count) => count,
            // Not UTF-8: no DOIP request of the node's operations.
            Err(error) if error.kind() == std::io::ErrorKind::InvalidData => {
                return Ok(Err("a request's segments are UTF-8 JSON".into()));
            }
            Err(error) => return Err(error),
        };
        read += count;
        if count == 0 {
            return Ok(Err("the message ended before its empty segment".into()));
        }
        if read > MAX_REQUEST_BYTES {
            return Ok(Err(format!("a request holds at most {MAX_REQUEST_BYTES} bytes")));
        }
        match line.trim() {
            "#" if segment.trim().is_empty() => break,
            "#" => segments.push(std::mem::take(&mut segment)),
            "@" => return Ok(Err("this service's operations take no bytes segments".into())),
            _ => segment.push_str(&line),
        }
    }
    let Some(first) = segments.first() else {
        return Ok(Err("the message has no segment".into()));
    };
    Ok(serde_json::from_str(first).map_err(|error| format!("the first segment is not a DOIP request: {error}")))
}

/// Writes the answer: its JSON segment, the element's bytes segment if any, the end.
async fn write_answer<S: AsyncWrite + Unpin>(stream: &mut S, answer: DoipAnswer) -> std::io::Result<()> {
    let mut first = serde_json::to_vec(&answer.response).map_err(std::io::Error::other)?;
    first.extend_from_slice(b"\n#\n");
    stream.write_all(&first).await?;
    if let Some(mut element) = answer.element {
        stream.write_all(b"@\n").await?;
        while let Some(chunk) = element.bytes.next().await {
            let chunk = chunk?;
            if chunk.is_empty() {
                continue;
            }
            stream.write_all(format!("{}\n", chunk.len()).as_bytes()).await?;
            stream.write_all(&chunk).await?;
            stream.write_all(b"\n").await?;
        }
        stream.write_all(b"#\n").await?;
    }
    stream.write_all(b"#\n").await?;
    stream.flush().await?;
    stream.shutdown().await
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn request_of(bytes: &[u8]) -> Result<DoipRequest, String> {
        let mut reader = BufReader::new(bytes);
        read_request(&mut reader).await.expect("read")
    }

    #[tokio::test]
    async fn requests_are_read_segment_by_segment_and_bounded() {
        let hello = request_of(b"{\"targetId\":\"sl.x/service\",\n\"operationId\":\"0.DOIP/Op.Hello\"}\n#\n#\n").await;
        assert_eq!(hello.expect("a request").operation_id, "0.DOIP/Op.Hello");
        let unended = request_of(b"{\"targetId\":\"t\",\"operationId\":\"o\"}\n#\n").await;
        assert!(unended.expect_err("no end").contains("ended"));
        let bytes = request_of(b"{\"targetId\":\"t\",\"operationId\":\"o\"}\n#\n@\n3\nabc\n#\n#\n").await;
        assert!(bytes.expect_err("bytes refused").contains("bytes"));
        let large = [b"x".repeat(MAX_REQUEST_BYTES + 10), b"\n#\n#\n".to_vec()].concat();
        assert!(request_of(&large).await.expect_err("too large").contains("at most"));
        let empty = request_of(b"#\n").await;
        assert!(empty.expect_err("no segment").contains("no segment"));
        let not_json = request_of(b"hello\n#\n#\n").await;
        assert!(not_json.expect_err("not JSON").contains("not a DOIP request"));
    }
}
