//! A TCP proxy that puts a network distance between idsync and Postgres:
//! every chunk of bytes is held for a fixed one-way delay in each
//! direction, so a round trip costs `2 × delay` more.
//!
//! Bytes are queued with the time they arrived and released at
//! arrival + delay, in order, while reading goes on: a pipelined stream
//! (several queries sent before the first answer) pays the delay once, not
//! once per packet, as on a real network.
//!
//! Plain threads rather than tokio tasks: tokio's timer ticks in whole
//! milliseconds, which would turn a 1 ms one-way delay into 1-2 ms; a
//! thread's sleep is precise to tens of microseconds. Connections are few
//! (a pool of 20), so four threads per connection cost nothing that shows.

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};

/// Bytes read at once; Postgres messages batch well below this.
const CHUNK: usize = 64 * 1024;

/// A running proxy. It lives until the process ends: a benchmark run
/// starts a handful, and each costs one parked thread when idle.
pub struct DelayProxy {
    pub addr: SocketAddr,
}

impl DelayProxy {
    /// Listens on a free loopback port and forwards each connection to
    /// `upstream`, adding `round_trip / 2` each way.
    pub fn start(upstream: SocketAddr, round_trip: Duration) -> Result<Self> {
        let listener =
            TcpListener::bind("127.0.0.1:0").context("cannot bind the delay proxy's port")?;
        let addr = listener.local_addr()?;
        let one_way = round_trip / 2;
        thread::Builder::new()
            .name("delay-proxy".to_owned())
            .spawn(move || {
                for client in listener.incoming() {
                    let connected = client.and_then(|client| {
                        let server = TcpStream::connect(upstream)?;
                        relay(client, server, one_way)
                    });
                    if let Err(e) = connected {
                        eprintln!("warning: delay proxy connection failed: {e}");
                    }
                }
            })?;
        Ok(Self { addr })
    }
}

/// Relays both directions of one connection.
fn relay(client: TcpStream, server: TcpStream, one_way: Duration) -> std::io::Result<()> {
    client.set_nodelay(true)?;
    server.set_nodelay(true)?;
    let (client_in, server_out) = (client.try_clone()?, server.try_clone()?);
    direction(client_in, server_out, one_way)?;
    direction(server, client, one_way)
}

/// One direction: a reader stamping chunks with their arrival, a writer
/// releasing each at arrival + `delay`.
fn direction(mut from: TcpStream, mut to: TcpStream, delay: Duration) -> std::io::Result<()> {
    let (queue, queued) = mpsc::channel::<(Instant, Vec<u8>)>();
    thread::Builder::new()
        .name("delay-proxy-read".to_owned())
        .spawn(move || {
            let mut buf = vec![0; CHUNK];
            loop {
                match from.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => {
                        if queue.send((Instant::now(), buf[..n].to_vec())).is_err() {
                            break;
                        }
                    }
                }
            }
            // Dropping `queue` ends the writer once it has sent the rest.
        })?;
    thread::Builder::new()
        .name("delay-proxy-write".to_owned())
        .spawn(move || {
            for (arrived, bytes) in queued {
                let due = arrived + delay;
                let now = Instant::now();
                if due > now {
                    thread::sleep(due - now);
                }
                if to.write_all(&bytes).is_err() {
                    break;
                }
            }
            let _ = to.shutdown(Shutdown::Write);
        })?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Ten messages written back to back come back after one round trip
    /// plus a little, not ten: the delay is per byte in flight, not per
    /// message.
    #[test]
    fn pipelined_messages_pay_one_round_trip() {
        let echo = TcpListener::bind("127.0.0.1:0").unwrap();
        let upstream = echo.local_addr().unwrap();
        thread::spawn(move || {
            let (mut s, _) = echo.accept().unwrap();
            let mut buf = [0; 1024];
            loop {
                let n = s.read(&mut buf).unwrap();
                if n == 0 {
                    break;
                }
                s.write_all(&buf[..n]).unwrap();
            }
        });
        let rtt = Duration::from_millis(100);
        let proxy = DelayProxy::start(upstream, rtt).unwrap();
        let mut conn = TcpStream::connect(proxy.addr).unwrap();
        let started = Instant::now();
        for i in 0..10u8 {
            conn.write_all(&[i; 10]).unwrap();
        }
        let mut got = vec![0; 100];
        conn.read_exact(&mut got).unwrap();
        let took = started.elapsed();
        let expected: Vec<u8> = (0..10u8).flat_map(|i| [i; 10]).collect();
        assert_eq!(got, expected, "bytes arrive intact and in order");
        // A lower bound only (no upper timing bound in tests): the
        // delay is there. The ordering check above covers pipelining.
        assert!(took >= rtt, "took {took:?}");
    }
}
