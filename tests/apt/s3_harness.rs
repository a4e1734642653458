//! The S3 tests' harness proven on its own, before the publishing tests lean on
//! it: moto starts with a bucket anyone may read (and only read), lists and
//! objects come back as written, the server dies with its handle; the fault
//! proxy forwards every kind of request byte for byte, counts them by method,
//! and injects exactly the faults asked for on exactly the requests chosen.

use crate::common::proxy::{Fault, FaultProxy, request};
use crate::common::s3::{BUCKET, Moto};
use std::io::ErrorKind;
use std::process::Command;
use std::time::{Duration, Instant};

#[test]
fn moto_serves_a_bucket_anyone_may_read_and_dies_with_its_handle() {
    let work = tempfile::tempdir().unwrap();
    let moto = Moto::start(work.path());
    let port = moto.port;
    moto.put("apt/dists/stable/InRelease", b"release text");
    moto.put("apt/pool/main/a b+c.deb", b"deb bytes");
    moto.put("other/x", b"x");
    assert_eq!(
        moto.keys("apt/"),
        ["apt/dists/stable/InRelease", "apt/pool/main/a b+c.deb"]
    );
    assert_eq!(moto.get("apt/pool/main/a b+c.deb").unwrap(), b"deb bytes");
    assert_eq!(moto.get("apt/missing"), None);
    // Anonymous reads, as apt and dnf make them: allowed by the bucket policy...
    let (status, body) = moto.get_anonymous("apt/dists/stable/InRelease");
    assert_eq!((status, body.as_slice()), (200, &b"release text"[..]));
    assert_eq!(moto.get_anonymous("apt/missing").0, 404);
    // ...and only reads: an anonymous delete is refused, the object stays.
    let r = request(port, "DELETE", &format!("/{BUCKET}/other/x"), &[], b"").unwrap();
    assert_eq!(r.status, 403, "{}", r.text());
    assert_eq!(moto.get("other/x").unwrap(), b"x");
    // Without the policy nobody reads anonymously: it is what grants apt access.
    moto.create_bucket("private-bucket", false);
    let r = request(
        port,
        "PUT",
        "/private-bucket/k",
        &[(
            "Authorization",
            "AWS4-HMAC-SHA256 Credential=a/b/c/s3/aws4_request, SignedHeaders=host, Signature=0",
        )],
        b"k",
    )
    .unwrap();
    assert_eq!(r.status, 200, "{}", r.text());
    let r = request(port, "GET", "/private-bucket/k", &[], b"").unwrap();
    assert_eq!(r.status, 403, "{}", r.text());
    // Deletes take effect.
    moto.delete("other/x");
    assert_eq!(moto.get("other/x"), None);
    // More keys than one page of a listing.
    for i in 0..1005 {
        moto.put(&format!("many/{i:04}"), b"");
    }
    let keys = moto.keys("many/");
    assert_eq!(keys.len(), 1005);
    assert_eq!(keys[1004], "many/1004");
    drop(moto);
    assert!(
        std::net::TcpStream::connect(("127.0.0.1", port)).is_err(),
        "moto still answers after its handle was dropped"
    );
}

#[test]
fn the_proxy_forwards_every_request_intact_and_counts_them_by_method() {
    let work = tempfile::tempdir().unwrap();
    let moto = Moto::start(work.path());
    let proxy = FaultProxy::start(moto.port);
    let base = format!("{}/{BUCKET}", proxy.endpoint());
    // A 3 MB body through curl: sent chunked and after `Expect: 100-continue`.
    let big: Vec<u8> = (0..3_000_000u32).map(|i| (i * 7 % 251) as u8).collect();
    let file = work.path().join("big");
    std::fs::write(&file, &big).unwrap();
    let curl = |args: &[&str]| {
        Command::new("curl")
            .args([
                "-sS",
                "--max-time",
                "30",
                "-o",
                "/dev/null",
                "-w",
                "%{http_code}",
            ])
            .args(args)
            .output()
            .unwrap()
    };
    let auth = "Authorization: AWS4-HMAC-SHA256 Credential=a/b/c/s3/aws4_request, SignedHeaders=host, Signature=0";
    let o = curl(&[
        "-H",
        auth,
        "-H",
        "Transfer-Encoding: chunked",
        "-H",
        "Expect: 100-continue",
        "-T",
        file.to_str().unwrap(),
        &format!("{base}/p/big"),
    ]);
    assert_eq!(String::from_utf8_lossy(&o.stdout), "200", "{o:?}");
    assert_eq!(
        moto.get("p/big").unwrap(),
        big,
        "the chunked PUT arrived whole"
    );
    let r = request(proxy.port, "GET", &format!("/{BUCKET}/p/big"), &[], b"").unwrap();
    assert_eq!(r.status, 200);
    assert_eq!(r.body, big, "the GET came back whole through the proxy");
    let r = request(
        proxy.port,
        "HEAD",
        &format!("/{BUCKET}/p/big"),
        &[("Authorization", &auth[15..])],
        b"",
    )
    .unwrap();
    assert_eq!(r.status, 200);
    assert_eq!(r.head.header("content-length"), Some("3000000"));
    let r = request(
        proxy.port,
        "GET",
        &format!("/{BUCKET}?list-type=2&prefix=p/"),
        &[("Authorization", &auth[15..])],
        b"",
    )
    .unwrap();
    assert!(r.text().contains("<Key>p/big</Key>"), "{}", r.text());
    let r = request(
        proxy.port,
        "DELETE",
        &format!("/{BUCKET}/p/big"),
        &[("Authorization", &auth[15..])],
        b"",
    )
    .unwrap();
    assert_eq!(r.status, 204);
    assert_eq!(moto.get("p/big"), None);
    let counts = proxy.counts();
    assert_eq!(
        counts.into_iter().collect::<Vec<_>>(),
        [
            ("DELETE".to_string(), 1),
            ("GET".to_string(), 2),
            ("HEAD".to_string(), 1),
            ("PUT".to_string(), 1)
        ]
    );
    let log = proxy.log();
    assert_eq!(log[0].target, format!("/{BUCKET}/p/big"));
    assert!(log.iter().all(|s| s.fault.is_none()));
    assert_eq!(proxy.faults_injected(), 0);
}

#[test]
fn the_proxy_injects_exactly_the_faults_asked_for() {
    let work = tempfile::tempdir().unwrap();
    let moto = Moto::start(work.path());
    let proxy = FaultProxy::start(moto.port);
    let auth = (
        "Authorization",
        "AWS4-HMAC-SHA256 Credential=a/b/c/s3/aws4_request, SignedHeaders=host, Signature=0",
    );
    let put = |key: &str, body: &[u8]| {
        request(
            proxy.port,
            "PUT",
            &format!("/{BUCKET}/{key}"),
            &[auth],
            body,
        )
    };
    // The 2nd and 3rd PUTs whose path contains "/idx/": reset before moto sees them.
    proxy.fault("PUT", "/idx/", 2, 2, Fault::Reset);
    // Every GET of "slow" from the first: a second late.
    proxy.fault(
        "GET",
        "/slow",
        1,
        usize::MAX,
        Fault::Delay(Duration::from_secs(1)),
    );
    // The first PUT of "/ambiguous": applied by moto, the answer lost.
    proxy.fault("PUT", "/ambiguous", 1, 1, Fault::ResetAfter);
    // The first PUT of "/stalled": held 1 s, then reset, never forwarded.
    proxy.fault(
        "PUT",
        "/stalled",
        1,
        1,
        Fault::Stall(Duration::from_secs(1)),
    );
    // Every PUT whose target ends with "/end": 500 ("/end.asc" is another).
    proxy.fault("PUT", "/end$", 1, usize::MAX, Fault::Status(500));
    // The 1st GET of "/busy" answers 503, the 2nd 500, then through.
    proxy.fault("GET", "/busy", 1, 1, Fault::Status(503));
    proxy.fault("GET", "/busy", 2, 1, Fault::Status(500));

    assert_eq!(put("p/idx/1", b"1").unwrap().status, 200);
    for n in [2, 3] {
        let e = put(&format!("p/idx/{n}"), b"n").unwrap_err();
        assert_eq!(e.kind(), ErrorKind::ConnectionReset, "{e}");
    }
    assert_eq!(put("p/idx/4", b"4").unwrap().status, 200);
    assert_eq!(
        put("p/other", b"o").unwrap().status,
        200,
        "other paths untouched"
    );
    assert_eq!(
        moto.keys("p/idx/"),
        ["p/idx/1", "p/idx/4"],
        "reset requests never reached moto"
    );

    let start = Instant::now();
    let e = put("p/stalled", b"s").unwrap_err();
    assert_eq!(e.kind(), ErrorKind::ConnectionReset, "{e}");
    assert!(
        start.elapsed() >= Duration::from_secs(1),
        "{:?}",
        start.elapsed()
    );
    assert_eq!(
        moto.get("p/stalled"),
        None,
        "a stalled request was forwarded"
    );
    assert_eq!(put("p/end", b"e").unwrap().status, 500);
    assert_eq!(put("p/end.asc", b"e").unwrap().status, 200);
    assert_eq!(put("p/end", b"e").unwrap().status, 500);
    let e = put("p/ambiguous", b"a").unwrap_err();
    assert_eq!(e.kind(), ErrorKind::ConnectionReset, "{e}");
    assert_eq!(
        moto.get("p/ambiguous").unwrap(),
        b"a",
        "moto applied it before the reset"
    );
    assert_eq!(
        put("p/ambiguous", b"b").unwrap().status,
        200,
        "only the first"
    );

    moto.put("p/slow", b"s");
    moto.put("p/busy", b"b");
    for expected in [503, 500, 200, 200] {
        let r = request(proxy.port, "GET", &format!("/{BUCKET}/p/busy"), &[], b"").unwrap();
        assert_eq!(r.status, expected, "{}", r.text());
        if expected != 200 {
            let code = if expected == 503 {
                "SlowDown"
            } else {
                "InternalError"
            };
            assert!(
                r.text().contains(&format!("<Code>{code}</Code>")),
                "{}",
                r.text()
            );
        }
    }
    for _ in 0..2 {
        let start = Instant::now();
        let r = request(proxy.port, "GET", &format!("/{BUCKET}/p/slow"), &[], b"").unwrap();
        assert_eq!((r.status, r.body.as_slice()), (200, &b"s"[..]));
        assert!(
            start.elapsed() >= Duration::from_secs(1),
            "{:?}",
            start.elapsed()
        );
    }

    let log = proxy.log();
    let faults: Vec<(String, String, Option<Fault>)> = log
        .iter()
        .filter(|s| s.fault.is_some())
        .map(|s| (s.method.clone(), s.target.clone(), s.fault))
        .collect();
    let b = |k: &str| format!("/{BUCKET}/{k}");
    let slow = Some(Fault::Delay(Duration::from_secs(1)));
    assert_eq!(
        faults,
        [
            ("PUT".into(), b("p/idx/2"), Some(Fault::Reset)),
            ("PUT".into(), b("p/idx/3"), Some(Fault::Reset)),
            (
                "PUT".into(),
                b("p/stalled"),
                Some(Fault::Stall(Duration::from_secs(1)))
            ),
            ("PUT".into(), b("p/end"), Some(Fault::Status(500))),
            ("PUT".into(), b("p/end"), Some(Fault::Status(500))),
            ("PUT".into(), b("p/ambiguous"), Some(Fault::ResetAfter)),
            ("GET".into(), b("p/busy"), Some(Fault::Status(503))),
            ("GET".into(), b("p/busy"), Some(Fault::Status(500))),
            ("GET".into(), b("p/slow"), slow),
            ("GET".into(), b("p/slow"), slow),
        ]
    );
    assert_eq!(proxy.count("PUT"), 11);
    assert_eq!(proxy.count("GET"), 6);
    // Cleared rules inject nothing more.
    proxy.clear_faults();
    assert_eq!(put("p/idx/5", b"5").unwrap().status, 200);
    assert_eq!(proxy.faults_injected(), 10);
}
