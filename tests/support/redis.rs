//! A redis-server of the test's own on a free loopback port (`#[path = "support/redis.rs"] mod
//! redis;`), and just enough of the RESP protocol to send it commands. Native only.
#![allow(dead_code)] // each test uses the helpers it needs

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running redis-server, stopped (killed and reaped) when dropped.
pub struct Server {
    child: Child,
    pub port: u16,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts redis-server on 127.0.0.1 with nothing written to disk, or `None` (after saying why)
/// when there is no redis-server to start: scripts/setup.sh installs Debian's, so only a machine
/// that could not install it skips.
pub fn start() -> Option<Server> {
    if Command::new("redis-server")
        .arg("--version")
        .stdout(Stdio::null())
        .status()
        .is_err()
    {
        eprintln!("SKIPPED: redis-server is not installed (scripts/setup.sh installs Debian's redis-server)");
        return None;
    }
    // A port that was free a moment ago may be taken by the time redis binds it: a few tries.
    for _ in 0..5 {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free loopback port")
            .port();
        let child = Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server starts");
        let mut server = Server { child, port };
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = server.child.try_wait() {
                break; // exited: the port was taken
            }
            match serves(port) {
                // Ours: not another test's server that bound the port first (tests run in
                // parallel, each with its own server, and two may pick the same free port).
                Some(pid) if pid == server.child.id() => return Some(server),
                Some(_) => break,
                None => {}
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        // Dropped here: killed and reaped before the next try.
    }
    panic!("redis-server did not start on a loopback port in 5 tries");
}

/// The process id of the redis-server answering on `port`, if one answers (`INFO server`); no
/// panic on a refused or reset connection, which only means not yet, or not any more.
fn serves(port: u16) -> Option<u32> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    s.write_all(b"*2\r\n$4\r\nINFO\r\n$6\r\nserver\r\n").ok()?;
    let mut text = String::new();
    let mut buf = [0u8; 4096];
    // The bulk reply's length comes first; reading until `process_id` shows up is enough.
    while !text.contains("process_id:") || !text[text.find("process_id:")?..].contains("\r\n") {
        let n = s.read(&mut buf).ok()?;
        if n == 0 {
            return None;
        }
        text.push_str(&String::from_utf8_lossy(&buf[..n]));
    }
    let at = text.find("process_id:")? + "process_id:".len();
    text[at..].split("\r\n").next()?.trim().parse().ok()
}

/// A RESP reply.
#[derive(Debug, PartialEq)]
pub enum Reply {
    Status(String),
    Error(String),
    Int(i64),
    Bulk(Option<String>),
    Array(Vec<Reply>),
}

impl Reply {
    pub fn int(&self) -> i64 {
        match self {
            Reply::Int(n) => *n,
            other => panic!("not an integer: {other:?}"),
        }
    }
    pub fn text(&self) -> &str {
        match self {
            Reply::Bulk(Some(s)) | Reply::Status(s) => s,
            other => panic!("not a string: {other:?}"),
        }
    }
    pub fn items(&self) -> &[Reply] {
        match self {
            Reply::Array(items) => items,
            other => panic!("not an array: {other:?}"),
        }
    }
}

/// One connection.
pub struct Conn {
    read: BufReader<TcpStream>,
    write: TcpStream,
}

impl Conn {
    pub fn open(port: u16) -> std::io::Result<Conn> {
        let s = TcpStream::connect(("127.0.0.1", port))?;
        s.set_read_timeout(Some(Duration::from_secs(10)))?;
        Ok(Conn {
            read: BufReader::new(s.try_clone()?),
            write: s,
        })
    }

    /// Sends one command and reads its reply.
    pub fn cmd(&mut self, args: &[&str]) -> Reply {
        let mut out = format!("*{}\r\n", args.len()).into_bytes();
        for a in args {
            out.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
            out.extend_from_slice(a.as_bytes());
            out.extend_from_slice(b"\r\n");
        }
        self.write.write_all(&out).expect("redis write");
        self.reply()
    }

    fn line(&mut self) -> String {
        let mut l = String::new();
        self.read.read_line(&mut l).expect("redis read");
        l.truncate(l.trim_end_matches("\r\n").len());
        l
    }

    fn reply(&mut self) -> Reply {
        let l = self.line();
        let (kind, rest) = l.split_at(1);
        match kind {
            "+" => Reply::Status(rest.into()),
            "-" => Reply::Error(rest.into()),
            ":" => Reply::Int(rest.parse().expect("an integer reply")),
            "$" => {
                let n: i64 = rest.parse().expect("a bulk length");
                if n < 0 {
                    return Reply::Bulk(None);
                }
                let mut buf = vec![0; n as usize + 2];
                self.read.read_exact(&mut buf).expect("a bulk body");
                buf.truncate(n as usize);
                Reply::Bulk(Some(String::from_utf8(buf).expect("UTF-8")))
            }
            "*" => {
                let n: i64 = rest.parse().expect("an array length");
                Reply::Array((0..n.max(0)).map(|_| self.reply()).collect())
            }
            _ => panic!("unexpected RESP line {l:?}"),
        }
    }
}
