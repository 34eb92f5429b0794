//! Hostile HTTP input against a real service: malformed and oversized bodies, wrong content
//! types, heads over the limits, slow clients and a flood of connections. Each gets its status
//! (or its connection closed), the service keeps answering, and nothing is written.

mod http_common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use anquan::interface::http::{ServeOptions, MAX_HEADER_BYTES};
use http_common::{envelope, hazard_report, post_bytes, raw, Served};

/// Tight bounds, so the slow-client cases end quickly.
fn options() -> ServeOptions {
    ServeOptions {
        request_timeout: Duration::from_secs(2),
        header_timeout: Duration::from_secs(1),
        max_connections: 8,
        max_body_bytes: 256 * 1024,
        ..ServeOptions::default()
    }
}

/// The service still answers, and the log is as it was.
fn unharmed(s: &Served, head: u64) {
    let h = s.client().get("/healthz", None);
    assert_eq!(h.status, 200, "{}", h.body);
    assert_eq!(h.json()["status"], "ready");
    assert_eq!(s.head(), head, "nothing written");
}

fn bearer(s: &Served) -> String {
    format!("Bearer {}", s.tokens.grid)
}

#[test]
fn malformed_bodies_are_refused_with_their_status() {
    let s = Served::with_options(options());
    let head = s.head();
    let auth = bearer(&s);
    let good = envelope("grid-7", hazard_report("H-1", "jd-01")).to_string();
    let mut invalid_utf8 = good.clone().into_bytes();
    let at = invalid_utf8.iter().position(|b| *b == b'3').unwrap();
    invalid_utf8[at] = 0xff;
    let bodies: Vec<(Vec<u8>, u16)> = vec![
        (b"\x00\x01\x02garbage".to_vec(), 400),
        // Nested beyond the JSON parser's depth.
        ("[".repeat(100_000).into_bytes(), 400),
        ("{\"a\":".repeat(50_000).into_bytes(), 400),
        (invalid_utf8, 400),
        (b"{\"command_id\": 1e999999}".to_vec(), 400),
        // JSON, but no command.
        (b"null".to_vec(), 422),
        (b"12345".to_vec(), 422),
        (b"{\"command_id\":\"x\",\"actor\":\"grid-7\"}".to_vec(), 422),
        (good.replace("hazard.report", "hazard.explode").into_bytes(), 422),
        (good.replace("\"jd-01\"", "\"jd-01\\u0000\"").into_bytes(), 422),
    ];
    for path in ["/v1/commands", "/v1/commands/batch"] {
        for (body, status) in &bodies {
            let request = post_bytes(path, &[("Authorization", &auth), ("Content-Type", "application/json")], body);
            let (got, text) = raw(s.addr, &request, Duration::from_secs(10));
            // A batch that is JSON but not an array is refused as a whole (422 too).
            assert_eq!(got, *status, "{path} {:?}: {text}", String::from_utf8_lossy(&body[..body.len().min(40)]));
            assert!(text.contains("application/problem+json"), "{text}");
        }
    }
    unharmed(&s, head);
}

#[test]
fn oversized_bodies_and_lying_lengths() {
    let s = Served::with_options(options());
    let head = s.head();
    let auth = bearer(&s);
    // Chunked, no length given, over the limit: refused once the limit is passed.
    let mut request = format!(
        "POST /v1/commands/batch HTTP/1.1\r\nHost: x\r\nAuthorization: {auth}\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
    )
    .into_bytes();
    let chunk = vec![b' '; 64 * 1024];
    for _ in 0..(options().max_body_bytes / chunk.len() + 2) {
        request.extend_from_slice(format!("{:x}\r\n", chunk.len()).as_bytes());
        request.extend_from_slice(&chunk);
        request.extend_from_slice(b"\r\n");
    }
    request.extend_from_slice(b"0\r\n\r\n");
    let (status, text) = raw(s.addr, &request, Duration::from_secs(10));
    assert_eq!(status, 413, "{text}");
    assert!(text.contains("application/problem+json"), "{text}");
    // A length over the limit: refused before the body is read.
    let big = vec![b' '; options().max_body_bytes + 1];
    let (status, _) = raw(
        s.addr,
        &post_bytes("/v1/commands", &[("Authorization", &auth), ("Content-Type", "application/json")], &big),
        Duration::from_secs(10),
    );
    assert_eq!(status, 413);
    // A length promising more than is sent, then the client goes: nothing to answer, nothing
    // written.
    {
        let mut c = TcpStream::connect(s.addr).unwrap();
        let head_only = format!(
            "POST /v1/commands HTTP/1.1\r\nHost: x\r\nAuthorization: {auth}\r\nContent-Type: application/json\r\nContent-Length: 5000\r\n\r\n{{\"command_id\""
        );
        c.write_all(head_only.as_bytes()).unwrap();
    }
    // Two lengths that disagree, or a length with chunking: a malformed request.
    let request = format!(
        "POST /v1/commands HTTP/1.1\r\nHost: x\r\nAuthorization: {auth}\r\nContent-Type: application/json\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nnull"
    );
    let (status, text) = raw(s.addr, request.as_bytes(), Duration::from_secs(10));
    assert!(status == 400 || status == 0, "{text}");
    unharmed(&s, head);
}

#[test]
fn wrong_content_types_are_415() {
    let s = Served::with_options(options());
    let head = s.head();
    let auth = bearer(&s);
    let body = envelope("grid-7", hazard_report("H-1", "jd-01")).to_string();
    for ct in [
        "application/jsonx",
        "text/json",
        "application/merge-patch+json",
        "multipart/form-data; boundary=x",
        "application/json\u{0}",
        "",
    ] {
        for path in ["/v1/commands", "/v1/commands/batch"] {
            let request = post_bytes(path, &[("Authorization", &auth), ("Content-Type", ct)], body.as_bytes());
            let (status, text) = raw(s.addr, &request, Duration::from_secs(10));
            // A NUL in a header value is not a header at all.
            let expected = if ct.contains('\u{0}') { 400 } else { 415 };
            assert_eq!(status, expected, "{path} {ct:?}: {text}");
        }
    }
    unharmed(&s, head);
}

#[test]
fn heads_over_the_limits_are_431_or_400() {
    let s = Served::with_options(options());
    let head = s.head();
    let auth = bearer(&s);
    // One header longer than the head may be.
    let long = format!(
        "GET /v1/head HTTP/1.1\r\nHost: x\r\nAuthorization: {auth}\r\nX-Pad: {}\r\n\r\n",
        "a".repeat(MAX_HEADER_BYTES + 1)
    );
    let (status, text) = raw(s.addr, long.as_bytes(), Duration::from_secs(10));
    assert_eq!(status, 431, "{}", &text[..text.len().min(200)]);
    // Too many headers.
    let mut many = format!("GET /v1/head HTTP/1.1\r\nHost: x\r\nAuthorization: {auth}\r\n");
    for i in 0..500 {
        many.push_str(&format!("X-H{i}: v\r\n"));
    }
    many.push_str("\r\n");
    let (status, _) = raw(s.addr, many.as_bytes(), Duration::from_secs(10));
    assert_eq!(status, 431);
    // A request line that is not HTTP, and a URI too long.
    let (status, _) = raw(s.addr, b"HELLO WORLD\r\n\r\n", Duration::from_secs(10));
    assert_eq!(status, 400);
    let uri = format!("GET /v1/stats?c={} HTTP/1.1\r\nHost: x\r\n\r\n", "x".repeat(MAX_HEADER_BYTES * 2));
    let (status, _) = raw(s.addr, uri.as_bytes(), Duration::from_secs(10));
    assert!(status == 414 || status == 431, "{status}");
    // A token in the wrong form is just an unknown token.
    for value in ["Bearer", "Basic Z3JpZC03OnB3", "Bearer \u{7f}\u{7f}", &format!("Bearer {}", "a".repeat(20_000))] {
        let request = format!("GET /v1/head HTTP/1.1\r\nHost: x\r\nAuthorization: {value}\r\n\r\n");
        let (status, text) = raw(s.addr, request.as_bytes(), Duration::from_secs(10));
        assert!(status == 401 || status == 400, "{value:?}: {text}");
    }
    unharmed(&s, head);
}

#[test]
fn slow_clients_are_cut_off() {
    let s = Served::with_options(options());
    let head = s.head();
    let auth = bearer(&s);
    // Headers a byte at a time, slower than the header deadline: the connection is closed.
    let mut c = TcpStream::connect(s.addr).unwrap();
    c.set_read_timeout(Some(Duration::from_millis(50))).unwrap();
    let started = Instant::now();
    let request = format!("GET /v1/head HTTP/1.1\r\nHost: x\r\nAuthorization: {auth}\r\n\r\n");
    let mut closed = false;
    for b in request.as_bytes() {
        if c.write_all(&[*b]).is_err() {
            closed = true;
            break;
        }
        let mut buf = [0u8; 512];
        match c.read(&mut buf) {
            Ok(0) => {
                closed = true;
                break;
            }
            Ok(n) => {
                let answer = String::from_utf8_lossy(&buf[..n]).to_string();
                assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
                closed = true;
                break;
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock || e.kind() == std::io::ErrorKind::TimedOut => {}
            Err(_) => {
                closed = true;
                break;
            }
        }
        std::thread::sleep(Duration::from_millis(50));
        assert!(started.elapsed() < Duration::from_secs(10), "a slow head was never cut off");
    }
    assert!(closed, "the whole head was taken at a byte per 50 ms");
    assert!(started.elapsed() < Duration::from_secs(5));

    // A command whose body trickles in slower than the request deadline: 408, nothing written.
    let body = envelope("grid-7", hazard_report("H-1", "jd-01")).to_string();
    let request =
        post_bytes("/v1/commands", &[("Authorization", &auth), ("Content-Type", "application/json")], body.as_bytes());
    let split = request.len() - body.len();
    let mut c = TcpStream::connect(s.addr).unwrap();
    c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    c.write_all(&request[..split + 10]).unwrap();
    let started = Instant::now();
    let mut answer = String::new();
    let _ = c.read_to_string(&mut answer);
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(started.elapsed() < Duration::from_secs(8));
    unharmed(&s, head);
}

#[test]
fn a_flood_of_connections_is_bounded_and_the_service_keeps_answering() {
    let s = Served::with_options(options());
    let head = s.head();
    // Many more idle connections than the service serves at once: they hold slots only until
    // their header deadline, so a real request is still answered, in bounded time.
    let idle: Vec<TcpStream> = (0..64).filter_map(|_| TcpStream::connect(s.addr).ok()).collect();
    assert!(idle.len() > options().max_connections);
    let started = Instant::now();
    let (status, text) =
        raw(s.addr, b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", Duration::from_secs(30));
    assert_eq!(status, 200, "{text}");
    assert!(started.elapsed() < Duration::from_secs(20), "{:?}", started.elapsed());
    drop(idle);
    // Many clients at once, each with a real request: all answered.
    let threads: Vec<_> = (0..64)
        .map(|_| {
            let addr = s.addr;
            std::thread::spawn(move || {
                raw(addr, b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", Duration::from_secs(30)).0
            })
        })
        .collect();
    for t in threads {
        assert_eq!(t.join().unwrap(), 200);
    }
    unharmed(&s, head);
}
