//! The /metrics body as a stream of bounded chunks.
//!
//! A large body built as one `String` stays in the allocator's arenas after the scrape (the
//! numbers are in BENCHMARKS.md). Here the encoder runs on a blocking thread and writes into
//! chunks of about [`CHUNK`] bytes handed over a channel of [`QUEUED`] slots, so at most a
//! few chunks of body exist at any time and a slow scraper slows the encoder instead of
//! making it buffer. With gzip the text chunks go through one streaming encoder and the
//! compressed bytes are cut into chunks of the same size: memory stays bounded, and the
//! body on the wire is a fraction of the text (Prometheus always asks for gzip).

use axum::body::Bytes;
use flate2::write::GzEncoder;
use futures::Stream;
use std::fmt;
use std::io::Write;
use tokio::sync::mpsc;

/// Target chunk size: below glibc's mmap threshold, so chunks are recycled from the arena,
/// and large enough that the channel hand-offs cost nothing next to the encoding.
pub const CHUNK: usize = 64 * 1024;

/// Chunks encoded ahead of the socket; memory per scrape is about (QUEUED + 2) x CHUNK.
const QUEUED: usize = 2;

/// One piece of the body; an error aborts the response mid-body so the scrape fails.
pub type Chunk = Result<Bytes, std::io::Error>;

/// The float formatter writes infinity as `inf`; both formats spell it `+Inf` (a
/// never-draining ETA is +Inf), and strict OpenMetrics parsers insist. Applied to whole
/// lines only, so a chunk boundary never splits a match.
pub(super) fn fix_inf(out: String) -> String {
    if out.contains(" inf\n") || out.contains(" -inf\n") {
        out.replace(" inf\n", " +Inf\n")
            .replace(" -inf\n", " -Inf\n")
    } else {
        out
    }
}

/// A `fmt::Write` that cuts its input at line ends into chunks of about [`CHUNK`] bytes.
struct ChunkWriter {
    buf: String,
    /// Compresses the text when the scraper accepts gzip; holds compressed bytes until a
    /// chunk's worth is ready.
    gzip: Option<GzEncoder<Vec<u8>>>,
    tx: mpsc::Sender<Chunk>,
    // The receiver is gone (scraper disconnected, or a HEAD request): not an encoding error.
    closed: bool,
}

impl ChunkWriter {
    fn fresh() -> String {
        // Room for one more line past CHUNK, so the buffer is not regrown by doubling.
        String::with_capacity(CHUNK + 4 * 1024)
    }

    /// Sends everything up to the last complete line.
    fn flush_lines(&mut self) -> fmt::Result {
        let Some(end) = self.buf.rfind('\n') else {
            return Ok(());
        };
        let mut next = Self::fresh();
        next.push_str(&self.buf[end + 1..]);
        let mut full = std::mem::replace(&mut self.buf, next);
        full.truncate(end + 1);
        self.send(full)
    }

    fn send(&mut self, s: String) -> fmt::Result {
        let text = fix_inf(s);
        let Some(gz) = self.gzip.as_mut() else {
            return self.hand_over(Bytes::from(text));
        };
        // Writing into a Vec cannot fail.
        gz.write_all(text.as_bytes()).map_err(|_| fmt::Error)?;
        if gz.get_ref().len() < CHUNK {
            return Ok(());
        }
        let out = std::mem::replace(gz.get_mut(), Vec::with_capacity(CHUNK + 4 * 1024));
        self.hand_over(Bytes::from(out))
    }

    /// Sends what is left: the last text, and with gzip the end of the compressed stream.
    fn finish(&mut self) -> fmt::Result {
        let rest = std::mem::take(&mut self.buf);
        if !rest.is_empty() {
            self.send(rest)?;
        }
        match self.gzip.take() {
            Some(gz) => {
                let out = gz.finish().map_err(|_| fmt::Error)?;
                self.hand_over(Bytes::from(out))
            }
            None => Ok(()),
        }
    }

    fn hand_over(&mut self, bytes: Bytes) -> fmt::Result {
        if self.tx.blocking_send(Ok(bytes)).is_err() {
            self.closed = true;
            return Err(fmt::Error);
        }
        Ok(())
    }
}

impl fmt::Write for ChunkWriter {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        self.buf.push_str(s);
        if self.buf.len() >= CHUNK {
            self.flush_lines()?;
        }
        Ok(())
    }
}

/// Runs `encode` on a blocking thread and yields its output in chunks ending at line ends;
/// the concatenation equals what `encode` wrote into one `String` (after [`fix_inf`]), or
/// with `gzip` is one gzip member that decompresses to it. Must be called inside a tokio
/// runtime.
pub(super) fn spawn<F>(encode: F, gzip: bool) -> impl Stream<Item = Chunk> + Send + 'static
where
    F: FnOnce(&mut dyn fmt::Write) -> fmt::Result + Send + 'static,
{
    let (tx, rx) = mpsc::channel(QUEUED);
    tokio::task::spawn_blocking(move || {
        // The fastest level: on these repetitive lines it already shrinks the body several
        // times, and a higher level would cost more than the encoding itself (BENCHMARKS.md).
        let gzip = gzip.then(|| {
            GzEncoder::new(
                Vec::with_capacity(CHUNK + 4 * 1024),
                flate2::Compression::fast(),
            )
        });
        let mut w = ChunkWriter {
            buf: ChunkWriter::fresh(),
            gzip,
            tx,
            closed: false,
        };
        let done = encode(&mut w).and_then(|()| w.finish());
        if done.is_err() && !w.closed {
            tracing::warn!("encoding /metrics failed; the response is cut short");
            let _ =
                w.tx.blocking_send(Err(std::io::Error::other("encoding metrics failed")));
        }
    });
    futures::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|chunk| (chunk, rx))
    })
}
