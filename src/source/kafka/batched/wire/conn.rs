//! One blocking connection to one broker (TCP, or TLS over it): version discovery and SASL
//! authentication on connect, then pipelined requests matched to answers by correlation id.

use super::api::{Answer, Call};
use super::stream::Stream;
use super::versions::{self, Announced};
use super::{error, sasl, tls, WireError};
use crate::config::security::Security;
use bytes::{BufMut, Bytes, BytesMut};
use kafka_protocol::messages::{
    ApiKey, ApiVersionsRequest, ApiVersionsResponse, RequestHeader, ResponseHeader,
};
use kafka_protocol::protocol::{Decodable, Encodable, StrBytes};
use std::borrow::Cow;
use std::io::{ErrorKind, Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::sync::Arc;
use std::time::Instant;

/// Answers larger than this are refused: a corrupt size field must not allocate gigabytes.
const MAX_RESPONSE: usize = 256 << 20;

/// ApiVersions v0: every broker speaks it (Kafka 4.x too), and its answer has no tagged
/// fields. v3 would name the client to the broker (KIP-511), but librdkafka's mock cluster
/// answers v3 without the per-entry tagged fields, which no schema-true decoder can read.
const API_VERSIONS_VERSION: i16 = 0;

/// A connection to one broker.
pub struct Conn {
    stream: Stream,
    addr: String,
    client_id: StrBytes,
    next_id: i32,
    announced: Announced,
    security: Arc<Security>,
    /// When the SASL session the broker granted is to be renewed (KIP-368).
    reauth_at: Option<Instant>,
}

impl std::fmt::Debug for Conn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Conn")
            .field("addr", &self.addr)
            .field("protocol", &self.security.protocol())
            .finish_non_exhaustive()
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
    // rustls reports a refused certificate or a broker's alert inside an I/O error.
    if let Some(t) = e
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<rustls::Error>())
    {
        return WireError::Tls {
            addr: addr.into(),
            source: t.clone(),
        };
    }
    WireError::Io {
        addr: addr.into(),
        op,
        source: e,
    }
}

impl Conn {
    /// Connects to `host:port` (with TLS and SASL as `security` says) and asks which API
    /// versions the broker speaks.
    pub fn connect(
        host: &str,
        port: i32,
        client_id: &str,
        security: &Arc<Security>,
        deadline: Instant,
    ) -> Result<Conn, WireError> {
        let addr = format!("{host}:{port}");
        let port = u16::try_from(port).map_err(|_| WireError::Malformed {
            addr: addr.clone(),
            why: "broker port out of range",
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
        let stream = match &security.tls {
            None => Stream::Plain(stream),
            Some(settings) => {
                let config = tls::client_config(settings)?;
                let name =
                    rustls::pki_types::ServerName::try_from(host.to_owned()).map_err(|_| {
                        WireError::Malformed {
                            addr: addr.clone(),
                            why: "the broker's host is not a valid TLS server name",
                        }
                    })?;
                let session = rustls::ClientConnection::new(config, name).map_err(|source| {
                    WireError::Tls {
                        addr: addr.clone(),
                        source,
                    }
                })?;
                Stream::Tls(Box::new(rustls::StreamOwned::new(session, stream)))
            }
        };
        let mut conn = Conn {
            stream,
            addr,
            client_id: StrBytes::from_string(client_id.to_owned()),
            next_id: 0,
            announced: Announced::new(),
            security: security.clone(),
            reauth_at: None,
        };
        conn.handshake(deadline)?;
        conn.announced = conn.api_versions(deadline)?;
        conn.authenticate(deadline)?;
        Ok(conn)
    }

    /// Completes the TLS handshake now, so a refused certificate is reported as such rather
    /// than as a failed first request.
    fn handshake(&mut self, deadline: Instant) -> Result<(), WireError> {
        let Stream::Tls(t) = &mut self.stream else {
            return Ok(());
        };
        while t.conn.is_handshaking() {
            let left = remaining(deadline, &self.addr)?;
            t.sock
                .set_read_timeout(Some(left))
                .and_then(|()| t.sock.set_write_timeout(Some(left)))
                .map_err(|e| io(&self.addr, "configure", e))?;
            t.conn
                .complete_io(&mut t.sock)
                .map_err(|e| io(&self.addr, "TLS handshake", e))?;
        }
        Ok(())
    }

    /// Authenticates when the cluster uses SASL (again when the session is due for renewal).
    fn authenticate(&mut self, deadline: Instant) -> Result<(), WireError> {
        let security = self.security.clone();
        if let Some(settings) = &security.sasl {
            self.reauth_at = sasl::authenticate(self, settings, deadline)?;
        }
        Ok(())
    }

    /// The highest version of `api` the broker announced.
    pub fn broker_max(&self, api: ApiKey) -> Option<i16> {
        self.announced.get(&(api as i16)).map(|(_, max)| *max)
    }

    /// Sends one request at `version` and reads its answer (the SASL exchange, which is
    /// not pipelined: each message depends on the last answer).
    pub fn request<Req: Encodable, Resp: Decodable>(
        &mut self,
        api: ApiKey,
        version: i16,
        req: &Req,
        deadline: Instant,
    ) -> Result<Resp, WireError> {
        let id = self.take_id();
        let mut out = BytesMut::new();
        self.frame(&mut out, api, version, id, |b| {
            req.encode(b, version).map_err(|source| WireError::Encode {
                api,
                version,
                source,
            })
        })?;
        self.write(&out, deadline)?;
        let mut body = self.read_answer(api, version, id, deadline)?;
        Resp::decode(&mut body, version).map_err(|source| self.decode_error(api, version, source))
    }

    fn api_versions(&mut self, deadline: Instant) -> Result<Announced, WireError> {
        let req = ApiVersionsRequest::default();
        let id = self.take_id();
        let mut out = BytesMut::new();
        let v = API_VERSIONS_VERSION;
        self.frame(&mut out, ApiKey::ApiVersions, v, id, |b| {
            req.encode(b, v).map_err(|source| WireError::Encode {
                api: ApiKey::ApiVersions,
                version: v,
                source,
            })
        })?;
        self.write(&out, deadline)?;
        let mut body = self.read_answer(ApiKey::ApiVersions, v, id, deadline)?;
        let answer = ApiVersionsResponse::decode(&mut body, v)
            .map_err(|source| self.decode_error(ApiKey::ApiVersions, v, source))?;
        match error(answer.error_code) {
            None => {}
            Some(code) => {
                return Err(WireError::Broker {
                    addr: self.addr.clone(),
                    code,
                })
            }
        }
        Ok(answer
            .api_keys
            .iter()
            .map(|k| (k.api_key, (k.min_version, k.max_version)))
            .collect())
    }

    /// `host:port` of this broker.
    pub fn addr(&self) -> &str {
        &self.addr
    }

    /// The version of `api` this connection speaks, if the broker and lagwatch share one.
    pub fn version(&self, api: ApiKey) -> Option<i16> {
        versions::pick(&self.announced, api)
    }

    fn take_id(&mut self) -> i32 {
        let id = self.next_id;
        self.next_id = self.next_id.wrapping_add(1);
        id
    }

    fn decode_error(&self, api: ApiKey, version: i16, source: anyhow::Error) -> WireError {
        WireError::Decode {
            addr: self.addr.clone(),
            api,
            version,
            source,
        }
    }

    /// Appends one framed request: size, header, then what `body` writes.
    fn frame(
        &self,
        out: &mut BytesMut,
        api: ApiKey,
        version: i16,
        id: i32,
        body: impl FnOnce(&mut BytesMut) -> Result<(), WireError>,
    ) -> Result<(), WireError> {
        let header = RequestHeader::default()
            .with_request_api_key(api as i16)
            .with_request_api_version(version)
            .with_correlation_id(id)
            .with_client_id(Some(self.client_id.clone()));
        let at = out.len();
        out.put_i32(0);
        header
            .encode(out, api.request_header_version(version))
            .map_err(|source| WireError::Encode {
                api,
                version,
                source,
            })?;
        body(out)?;
        let size = i32::try_from(out.len() - at - 4).map_err(|_| WireError::Encode {
            api,
            version,
            source: anyhow::anyhow!("request over 2 GiB"),
        })?;
        out[at..at + 4].copy_from_slice(&size.to_be_bytes());
        Ok(())
    }

    /// Sends every request, each at the version this connection speaks, then reads every
    /// answer in order (the broker answers one connection's requests in the order sent, so
    /// they are processed back to back), handing each to `digest` as soon as it is decoded:
    /// the decoded answer (and its frame, which its strings point into) is gone before the
    /// next one is read. Requests made for this exchange alone (`Cow::Owned`) are dropped
    /// once encoded. The caller checks [`Conn::version`] first.
    pub fn exchange<T>(
        &mut self,
        calls: Cow<'_, [Call]>,
        deadline: Instant,
        mut digest: impl FnMut(Answer) -> T,
    ) -> Result<Vec<T>, WireError> {
        if self.reauth_at.is_some_and(|at| Instant::now() >= at) {
            self.authenticate(deadline)?;
        }
        let mut sent = Vec::with_capacity(calls.len());
        let mut out = BytesMut::new();
        for c in calls.iter() {
            let api = c.api();
            let version = self.version(api).ok_or(WireError::Malformed {
                addr: self.addr.clone(),
                why: "a request the broker does not speak",
            })?;
            let id = self.take_id();
            self.frame(&mut out, api, version, id, |b| c.encode(b, version))?;
            sent.push((api, version, id));
        }
        drop(calls);
        self.write(&out, deadline)?;
        drop(out);
        let mut answers = Vec::with_capacity(sent.len());
        for (api, version, id) in sent {
            let mut body = self.read_answer(api, version, id, deadline)?;
            let answer = Answer::decode(api, &mut body, version)
                .ok_or(WireError::Malformed {
                    addr: self.addr.clone(),
                    why: "an answer to a request this client does not send",
                })?
                .map_err(|source| self.decode_error(api, version, source))?;
            answers.push(digest(answer));
        }
        Ok(answers)
    }

    fn write(&mut self, out: &[u8], deadline: Instant) -> Result<(), WireError> {
        self.stream
            .tcp()
            .set_write_timeout(Some(remaining(deadline, &self.addr)?))
            .map_err(|e| io(&self.addr, "configure", e))?;
        self.stream
            .write_all(out)
            .and_then(|()| self.stream.flush())
            .map_err(|e| io(&self.addr, "write", e))
    }

    /// Reads the next frame, checks it answers request `id`, and returns its body.
    fn read_answer(
        &mut self,
        api: ApiKey,
        version: i16,
        id: i32,
        deadline: Instant,
    ) -> Result<Bytes, WireError> {
        let mut buf = Bytes::from(self.read_frame(deadline)?);
        let header = ResponseHeader::decode(&mut buf, api.response_header_version(version))
            .map_err(|source| self.decode_error(api, version, source))?;
        if header.correlation_id != id {
            return Err(WireError::Malformed {
                addr: self.addr.clone(),
                why: "an answer to another request (correlation id)",
            });
        }
        Ok(buf)
    }

    fn read_frame(&mut self, deadline: Instant) -> Result<Vec<u8>, WireError> {
        let mut size = [0u8; 4];
        self.read_exact(&mut size, deadline)?;
        let size = i32::from_be_bytes(size);
        let size = usize::try_from(size)
            .ok()
            .filter(|s| *s <= MAX_RESPONSE)
            .ok_or_else(|| WireError::Malformed {
                addr: self.addr.clone(),
                why: "answer size negative or over 256 MiB",
            })?;
        let mut buf = vec![0u8; size];
        self.read_exact(&mut buf, deadline)?;
        Ok(buf)
    }

    fn read_exact(&mut self, mut buf: &mut [u8], deadline: Instant) -> Result<(), WireError> {
        // One timeout per read call would let a trickling broker stretch past the deadline.
        while !buf.is_empty() {
            self.stream
                .tcp()
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
