//! [`Moto`]: moto's S3 server on a free loopback port, the endpoint of the S3
//! publishing tests, killed on drop. Its python is `$CFY_AP_TEST_MOTO` (tests/run.sh
//! pip-installs `moto[server]` into a cached venv of its own). It starts with one
//! bucket, [`BUCKET`], whose policy lets anyone read objects (`s3:GetObject` to
//! `"Principal": "*"`), so apt and dnf read a repository from it over plain HTTP,
//! path-style: `http://127.0.0.1:PORT/BUCKET/PREFIX`.
//!
//! The helpers speak plain HTTP to it (moto checks no signatures: a request with
//! an `Authorization` header of the SigV4 form is an authenticated one, one
//! without is anonymous and gets only what the bucket policy allows).

use super::proxy::{Response, request, wait_until};
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// The bucket every [`Moto`] starts with.
pub const BUCKET: &str = "cfy-ap-repos";
/// The access key given to cfy-ap.
pub const ACCESS_KEY: &str = "AKIACFYAPTESTKEY0001";
/// The secret given to cfy-ap: it must never appear in what cfy-ap prints.
pub const SECRET: &str = "cfyApTestSecret/Never+Printed0123456789xyz";

/// What the helpers send as their credentials (moto does not check them).
const AUTH: &str = "AWS4-HMAC-SHA256 Credential=AKIACFYAPTESTKEY0001/20260101/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=0000";

/// The python of moto's private venv: `$CFY_AP_TEST_MOTO`, else the place
/// tests/run.sh installs it.
pub fn python() -> PathBuf {
    let p = std::env::var_os("CFY_AP_TEST_MOTO")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/var/cache/cfy-ap-test/moto/bin/python"));
    assert!(
        p.is_file(),
        "moto's python is needed at {} ($CFY_AP_TEST_MOTO): run tests/run.sh, which pip-installs moto[server] into /var/cache/cfy-ap-test/moto",
        p.display()
    );
    p
}

/// moto's S3 server on 127.0.0.1, killed on drop.
pub struct Moto {
    child: Child,
    pub port: u16,
    log: PathBuf,
}

impl Moto {
    /// Start moto (its request log in `work/moto.log`), wait until it answers
    /// (at most 60 s), and make [`BUCKET`] with its anonymous-read policy.
    pub fn start(work: &Path) -> Moto {
        Moto::launch(work, false)
    }

    /// The same, but checking credentials once the bucket is made (moto's
    /// `INITIAL_NO_AUTH_ACTION_COUNT`): every later request with an access key
    /// it does not know, [`ACCESS_KEY`] included, is refused (403
    /// InvalidAccessKeyId), the helpers' own too.
    pub fn start_refusing(work: &Path) -> Moto {
        Moto::launch(work, true)
    }

    fn launch(work: &Path, refusing: bool) -> Moto {
        let python = python();
        let log = work.join("moto.log");
        for _ in 0..5 {
            let port = std::net::TcpListener::bind("127.0.0.1:0")
                .unwrap()
                .local_addr()
                .unwrap()
                .port();
            let mut cmd = Command::new(&python);
            if refusing {
                // Two actions without credentials: the bucket and its policy.
                cmd.env("INITIAL_NO_AUTH_ACTION_COUNT", "2");
            }
            let child = cmd
                .args(["-m", "moto.server", "-H", "127.0.0.1", "-p"])
                .arg(port.to_string())
                .env("PYTHONDONTWRITEBYTECODE", "1")
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(fs::File::create(&log).unwrap())
                .spawn()
                .unwrap_or_else(|e| panic!("cannot start {}: {e}", python.display()));
            let mut moto = Moto {
                child,
                port,
                log: log.clone(),
            };
            let mut exited = false;
            let up = wait_until(Duration::from_secs(60), || {
                if moto.child.try_wait().unwrap().is_some() {
                    exited = true;
                    return true;
                }
                // (A request would count as an action: a connection does not.)
                if refusing {
                    std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
                } else {
                    request(port, "GET", "/", &[], b"").is_ok_and(|r| r.status == 200)
                }
            });
            if up && !exited {
                moto.create_bucket(BUCKET, true);
                return moto;
            }
            if !exited {
                panic!(
                    "moto did not answer on port {port} within 60 s:\n{}",
                    moto.requests()
                );
            }
            // The port was taken meanwhile: try another.
        }
        panic!(
            "could not start moto: {}",
            fs::read_to_string(&log).unwrap_or_default()
        );
    }

    /// `http://127.0.0.1:PORT`.
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The variables that point cfy-ap at this server (through `endpoint`, e.g.
    /// a [`super::proxy::FaultProxy`]'s, or moto's own), with the test's
    /// credentials; no AWS file of the host's is read.
    pub fn env_for(endpoint: &str) -> Vec<(String, String)> {
        [
            ("AWS_ENDPOINT_URL", endpoint),
            ("AWS_REGION", "us-east-1"),
            ("AWS_ACCESS_KEY_ID", ACCESS_KEY),
            ("AWS_SECRET_ACCESS_KEY", SECRET),
            ("AWS_CONFIG_FILE", "/nonexistent/cfy-ap-test/aws-config"),
            (
                "AWS_SHARED_CREDENTIALS_FILE",
                "/nonexistent/cfy-ap-test/aws-credentials",
            ),
            ("AWS_EC2_METADATA_DISABLED", "true"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
    }

    /// [`Moto::env_for`] this server directly.
    pub fn env(&self) -> Vec<(String, String)> {
        Moto::env_for(&self.endpoint())
    }

    /// `s3://BUCKET/prefix`: what `cfy-ap publish --repo` takes.
    pub fn s3_url(&self, prefix: &str) -> String {
        format!("s3://{BUCKET}/{prefix}")
    }

    /// `http://127.0.0.1:PORT/BUCKET/prefix`: where apt and dnf read it, anonymously.
    pub fn http_url(&self, prefix: &str) -> String {
        format!("http://127.0.0.1:{}/{BUCKET}/{prefix}", self.port)
    }

    /// An authenticated request to moto; panics when there is no answer.
    pub fn call(&self, method: &str, target: &str, body: &[u8]) -> Response {
        request(
            self.port,
            method,
            target,
            &[
                ("Authorization", AUTH),
                ("Content-Type", "application/octet-stream"),
            ],
            body,
        )
        .unwrap_or_else(|e| panic!("moto: {method} {target}: {e}"))
    }

    /// Make a bucket; `public`: with the policy that lets anyone read its objects.
    pub fn create_bucket(&self, name: &str, public: bool) {
        let r = self.call("PUT", &format!("/{name}"), b"");
        assert_eq!(r.status, 200, "create bucket {name}: {}", r.text());
        if public {
            let policy = format!(
                r#"{{"Version":"2012-10-17","Statement":[{{"Sid":"AnonymousRead","Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::{name}/*"}}]}}"#
            );
            let r = request(
                self.port,
                "PUT",
                &format!("/{name}?policy"),
                &[
                    ("Authorization", AUTH),
                    ("Content-Type", "application/json"),
                ],
                policy.as_bytes(),
            )
            .unwrap();
            assert!(
                r.status == 200 || r.status == 204,
                "bucket policy: {}",
                r.text()
            );
        }
    }

    /// Every key of [`BUCKET`] under `prefix`, sorted (a paginated ListObjectsV2).
    pub fn keys(&self, prefix: &str) -> Vec<String> {
        let mut out = Vec::new();
        let mut token: Option<String> = None;
        for _ in 0..10_000 {
            let mut target = format!(
                "/{BUCKET}?list-type=2&max-keys=1000&prefix={}",
                encode(prefix)
            );
            if let Some(t) = &token {
                target += &format!("&continuation-token={}", encode(t));
            }
            let r = self.call("GET", &target, b"");
            assert_eq!(r.status, 200, "list {prefix}: {}", r.text());
            let text = r.text();
            out.extend(elements(&text, "Key"));
            token = elements(&text, "NextContinuationToken").into_iter().next();
            if elements(&text, "IsTruncated").first().map(String::as_str) != Some("true")
                || token.is_none()
            {
                out.sort();
                return out;
            }
        }
        panic!("more than 10,000 pages of keys under {prefix}");
    }

    /// The object at `key` of [`BUCKET`] (None: 404), read with credentials.
    pub fn get(&self, key: &str) -> Option<Vec<u8>> {
        let r = self.call("GET", &format!("/{BUCKET}/{}", encode_path(key)), b"");
        match r.status {
            200 => Some(r.body),
            404 => None,
            s => panic!("GET {key}: {s} {}", r.text()),
        }
    }

    /// Every object under `prefix` and the SHA256 of its bytes: what a test
    /// compares before and after something that must write nothing.
    pub fn snapshot(&self, prefix: &str) -> std::collections::BTreeMap<String, String> {
        use sha2::{Digest, Sha256};
        self.keys(prefix)
            .into_iter()
            .map(|k| {
                let d = hex::encode(Sha256::digest(self.get(&k).unwrap()));
                (k, d)
            })
            .collect()
    }

    /// The same read anonymously, as apt and dnf read: (status, body).
    pub fn get_anonymous(&self, key: &str) -> (u16, Vec<u8>) {
        let r = request(
            self.port,
            "GET",
            &format!("/{BUCKET}/{}", encode_path(key)),
            &[],
            b"",
        )
        .unwrap();
        (r.status, r.body)
    }

    pub fn put(&self, key: &str, body: &[u8]) {
        let r = self.call("PUT", &format!("/{BUCKET}/{}", encode_path(key)), body);
        assert_eq!(r.status, 200, "PUT {key}: {}", r.text());
    }

    pub fn delete(&self, key: &str) {
        let r = self.call("DELETE", &format!("/{BUCKET}/{}", encode_path(key)), b"");
        assert!(
            r.status == 204 || r.status == 200,
            "DELETE {key}: {}",
            r.text()
        );
    }

    /// What moto logged (one line per request, and any traceback).
    pub fn requests(&self) -> String {
        fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The texts of every `<name>…</name>` element of `xml`, unescaped.
pub fn elements(xml: &str, name: &str) -> Vec<String> {
    let (open, close) = (format!("<{name}>"), format!("</{name}>"));
    let mut out = Vec::new();
    let mut rest = xml;
    while let Some(i) = rest.find(&open) {
        let after = &rest[i + open.len()..];
        let Some(j) = after.find(&close) else { break };
        out.push(
            after[..j]
                .replace("&lt;", "<")
                .replace("&gt;", ">")
                .replace("&quot;", "\"")
                .replace("&apos;", "'")
                .replace("&amp;", "&"),
        );
        rest = &after[j + close.len()..];
    }
    out
}

/// Percent-encoding of a query value (everything but unreserved characters).
fn encode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out += &format!("%{b:02X}");
        }
    }
    out
}

/// Percent-encoding of a key in a path (`/` kept).
fn encode_path(key: &str) -> String {
    key.split('/').map(encode).collect::<Vec<_>>().join("/")
}
