//! One blocking TCP connection to one broker: version discovery on connect, then
//! pipelined requests matched to answers by correlation id.

use super::codec::Reader;
use super::messages::{self, ApiVersions};
use super::WireError;
use std::io::{ErrorKind, Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::Instant;

/// Answers larger than this are refused: a corrupt size field must not allocate gigabytes.
const MAX_RESPONSE: usize = 256 << 20;

/// A connection to one broker.
#[derive(Debug)]
pub struct Conn {
    stream: TcpStream,
    addr: String,
    client_id: String,
    next_id: i32,
    versions: ApiVersions,
}

/// A request to send: API key, version and encoded body.
#[derive(Debug, Clone)]
pub struct Request {
    /// API key.
    pub api_key: i16,
    /// API version.
    pub version: i16,
    /// Encoded body.
    pub body: Vec<u8>,
}

/// A response frame; `body()` reads past the header.
#[derive(Debug)]
pub struct Response {
    buf: Vec<u8>,
    body_at: usize,
}

impl Response {
    /// A reader positioned at the response body.
    pub fn body(&self) -> Reader<'_> {
        Reader::new(&self.buf[self.body_at..])
    }
}

fn remaining(deadline: Instant, addr: &str) -> Result<std::time::Duration, WireError> {
    let left = deadline.saturating_duration_since(Instant::now());
    if left.is_zero() {
        return Err(WireError::Timeout { addr: addr.into() });
    }
    Ok(left)
}

fn io(addr: &str, op: &'static str, e: std::io::Error) -> WireError {
    if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) {
        return WireError::Timeout { addr: addr.into() };
    }
    WireError::Io {
        addr: addr.into(),
        op,
        source: e,
    }
}

impl Conn {
    /// Connects to `host:port` and asks which API versions the broker speaks.
    pub fn connect(
        host: &str,
        port: i32,
        client_id: &str,
        deadline: Instant,
    ) -> Result<Conn, WireError> {
        let addr = format!("{host}:{port}");
        let port = u16::try_from(port).map_err(|_| WireError::Malformed {
            what: "broker port",
            why: "out of range",
        })?;
        let targets: Vec<_> = (host, port)
            .to_socket_addrs()
            .map_err(|e| io(&addr, "resolve", e))?
            .collect();
        let mut last = None;
        let mut stream = None;
        for t in targets {
            match TcpStream::connect_timeout(&t, remaining(deadline, &addr)?) {
                Ok(s) => {
                    stream = Some(s);
                    break;
                }
                Err(e) => last = Some(e),
            }
        }
        let stream = match (stream, last) {
            (Some(s), _) => s,
            (None, Some(e)) => return Err(io(&addr, "connect", e)),
            (None, None) => {
                return Err(io(
                    &addr,
                    "resolve",
                    std::io::Error::new(ErrorKind::NotFound, "no address"),
                ))
            }
        };
        // Requests are small and answered at once: don't let Nagle hold them back.
        stream
            .set_nodelay(true)
            .map_err(|e| io(&addr, "configure", e))?;
        let mut conn = Conn {
            stream,
            addr,
            client_id: client_id.to_owned(),
            next_id: 0,
            versions: ApiVersions::new(),
        };
        let answer = conn.exchange(
            &[Request {
                api_key: messages::API_VERSIONS,
                version: 0,
                body: messages::api_versions_request(),
            }],
            deadline,
        )?;
        let versions = match answer.first() {
            Some(r) => messages::api_versions_response(&mut r.body())?,
            None => ApiVersions::new(),
        };
        conn.versions = versions;
        Ok(conn)
    }

    /// `host:port` of this broker.
    pub fn addr(&self) -> &str {
        &self.addr
    }

    /// Whether the broker speaks `version` of `api_key`.
    pub fn supports(&self, api_key: i16, version: i16) -> bool {
        messages::supports(&self.versions, api_key, version)
    }

    /// Sends every request, then reads every answer in order (the broker answers one
    /// connection's requests in the order sent, so they are processed back to back).
    pub fn exchange(
        &mut self,
        requests: &[Request],
        deadline: Instant,
    ) -> Result<Vec<Response>, WireError> {
        let mut ids = Vec::with_capacity(requests.len());
        let mut out = Vec::new();
        for r in requests {
            let id = self.next_id;
            self.next_id = self.next_id.wrapping_add(1);
            let frame = messages::frame(r.api_key, r.version, id, &self.client_id, &r.body)?;
            out.extend_from_slice(&frame);
            ids.push(id);
        }
        self.stream
            .set_write_timeout(Some(remaining(deadline, &self.addr)?))
            .map_err(|e| io(&self.addr, "configure", e))?;
        self.stream
            .write_all(&out)
            .map_err(|e| io(&self.addr, "write", e))?;
        drop(out);
        let mut answers = Vec::with_capacity(requests.len());
        for (r, id) in requests.iter().zip(ids) {
            let buf = self.read_frame(deadline)?;
            let mut reader = Reader::new(&buf);
            let got = messages::response_header(&mut reader, r.api_key, r.version)?;
            if got != id {
                return Err(WireError::Malformed {
                    what: "correlation_id",
                    why: "answer to another request",
                });
            }
            let body_at = buf.len() - reader.remaining();
            answers.push(Response { buf, body_at });
        }
        Ok(answers)
    }

    fn read_frame(&mut self, deadline: Instant) -> Result<Vec<u8>, WireError> {
        let mut size = [0u8; 4];
        self.read_exact(&mut size, deadline)?;
        let size = i32::from_be_bytes(size);
        let size = usize::try_from(size)
            .ok()
            .filter(|s| *s <= MAX_RESPONSE)
            .ok_or(WireError::Malformed {
                what: "response size",
                why: "negative or over 256 MiB",
            })?;
        let mut buf = vec![0u8; size];
        self.read_exact(&mut buf, deadline)?;
        Ok(buf)
    }

    fn read_exact(&mut self, mut buf: &mut [u8], deadline: Instant) -> Result<(), WireError> {
        // One timeout per read call would let a trickling broker stretch past the deadline.
        while !buf.is_empty() {
            self.stream
                .set_read_timeout(Some(remaining(deadline, &self.addr)?))
                .map_err(|e| io(&self.addr, "configure", e))?;
            match self.stream.read(buf) {
                Ok(0) => {
                    return Err(io(
                        &self.addr,
                        "read",
                        std::io::Error::new(ErrorKind::UnexpectedEof, "connection closed"),
                    ))
                }
                Ok(n) => buf = &mut buf[n..],
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => return Err(io(&self.addr, "read", e)),
            }
        }
        Ok(())
    }
}
