//! One accepted connection, plain or TLS, that can peek at its first bytes (to tell
//! `/metrics` from a tunnel) and hand them back to the WebSocket handshake.

use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;

/// One accepted connection: plain TCP or server-side TLS, with the bytes read to tell
/// `/metrics` from a tunnel handed back before the rest of the stream.
pub(super) struct Conn {
    head: Vec<u8>,
    head_read: usize,
    inner: Inner,
}

pub(super) enum Inner {
    Plain(TcpStream),
    Tls(Box<tokio_rustls::server::TlsStream<TcpStream>>),
}

impl Conn {
    /// Reads until the stream's first bytes either start with `prefix` or cannot any more.
    pub(super) async fn starts_with(&mut self, prefix: &[u8]) -> std::io::Result<bool> {
        let mut byte = [0u8; 1];
        while self.head.len() < prefix.len() && prefix.starts_with(&self.head) {
            // Byte by byte: only a dozen bytes, once per connection, and nothing past the
            // request line is taken from the WebSocket handshake.
            let n = match &mut self.inner {
                Inner::Plain(s) => s.read(&mut byte).await?,
                Inner::Tls(s) => s.read(&mut byte).await?,
            };
            if n == 0 {
                break;
            }
            self.head.extend_from_slice(&byte);
        }
        Ok(self.head.starts_with(prefix))
    }
}

impl AsyncRead for Conn {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let this = &mut *self;
        if let Some(rest) = this.head.get(this.head_read..)
            && !rest.is_empty()
        {
            let n = rest.len().min(buf.remaining());
            buf.put_slice(rest.get(..n).unwrap_or_default());
            this.head_read += n;
            if this.head_read == this.head.len() {
                this.head = Vec::new();
                this.head_read = 0;
            }
            return Poll::Ready(Ok(()));
        }
        match &mut this.inner {
            Inner::Plain(s) => Pin::new(s).poll_read(cx, buf),
            Inner::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Conn {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        match &mut self.inner {
            Inner::Plain(s) => Pin::new(s).poll_write(cx, data),
            Inner::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, data),
        }
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        match &mut self.inner {
            Inner::Plain(s) => Pin::new(s).poll_flush(cx),
            Inner::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        match &mut self.inner {
            Inner::Plain(s) => Pin::new(s).poll_shutdown(cx),
            Inner::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
        }
    }
}

impl Conn {
    /// Wraps an accepted stream.
    pub(super) fn new(inner: Inner) -> Self {
        Self {
            head: Vec::new(),
            head_read: 0,
            inner,
        }
    }
}
