//! A TCP proxy that can be cut: while cut it closes every connection it carries and every
//! new one at once, as a broker that went down would (its data stays, unlike a killed
//! in-memory tansu). Plain threads, so it works from any test, async or not.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The running proxy; stops accepting when dropped.
pub struct CutProxy {
    /// The port clients connect to (the one the broker must advertise).
    pub port: u16,
    down: Arc<AtomicBool>,
    open: Arc<Mutex<Vec<TcpStream>>>,
    stop: Arc<AtomicBool>,
}

impl CutProxy {
    /// Listens on a free loopback port and forwards to `127.0.0.1:upstream`.
    pub fn start(upstream: u16) -> CutProxy {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the proxy");
        let port = listener.local_addr().expect("proxy address").port();
        listener.set_nonblocking(true).expect("nonblocking accept");
        let down = Arc::new(AtomicBool::new(false));
        let open = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let (d, o, s) = (down.clone(), open.clone(), stop.clone());
        std::thread::spawn(move || {
            while !s.load(Ordering::Acquire) {
                let client = match listener.accept() {
                    Ok((c, _)) => c,
                    Err(_) => {
                        std::thread::sleep(Duration::from_millis(10));
                        continue;
                    }
                };
                if d.load(Ordering::Acquire) {
                    let _ = client.shutdown(Shutdown::Both);
                    continue;
                }
                let _ = client.set_nonblocking(false);
                let Ok(broker) = TcpStream::connect(("127.0.0.1", upstream)) else {
                    continue;
                };
                let _ = client.set_nodelay(true);
                let _ = broker.set_nodelay(true);
                if let (Ok(c2), Ok(b2)) = (client.try_clone(), broker.try_clone()) {
                    let mut list = o.lock().expect("connections");
                    list.push(c2);
                    list.push(b2);
                }
                pipe(&client, &broker);
                pipe(&broker, &client);
            }
        });
        CutProxy {
            port,
            down,
            open,
            stop,
        }
    }

    /// Closes every connection and refuses new ones until [`CutProxy::restore`].
    pub fn cut(&self) {
        self.down.store(true, Ordering::Release);
        for s in self.open.lock().expect("connections").drain(..) {
            let _ = s.shutdown(Shutdown::Both);
        }
    }

    /// Carries connections again.
    pub fn restore(&self) {
        self.down.store(false, Ordering::Release);
    }
}

impl Drop for CutProxy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Release);
        self.cut();
    }
}

/// Copies `from` to `to` on its own thread until either side closes.
fn pipe(from: &TcpStream, to: &TcpStream) {
    let (Ok(mut from), Ok(mut to)) = (from.try_clone(), to.try_clone()) else {
        return;
    };
    std::thread::spawn(move || {
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            match from.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    if to.write_all(&buf[..n]).is_err() {
                        break;
                    }
                }
            }
        }
        let _ = to.shutdown(Shutdown::Both);
        let _ = from.shutdown(Shutdown::Both);
    });
}
