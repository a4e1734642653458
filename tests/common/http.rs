//! A static HTTP server for tests: `python3 -m http.server` on a free loopback
//! port (never another address), its request log kept, killed on drop; or the
//! same over HTTPS with a certificate from a throwaway CA ([`Tls`]).

use std::fs;
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// `python3 -m http.server` on a free loopback port, killed on drop.
pub struct Http {
    child: Child,
    pub port: u16,
    log: PathBuf,
}

/// http.server's handler over TLS: `port dir cert key`.
const HTTPS_SERVER: &str = "import functools, http.server, ssl, sys
port, root, cert, key = sys.argv[1:5]
handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=root)
server = http.server.ThreadingHTTPServer(('127.0.0.1', int(port)), handler)
tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
tls.load_cert_chain(cert, key)
server.socket = tls.wrap_socket(server.socket, server_side=True)
server.serve_forever()
";

impl Http {
    pub fn serve(dir: &Path, log: &Path) -> Http {
        Http::start(dir, log, None)
    }

    /// Serve `dir` over HTTPS on 127.0.0.1 with `tls`'s server certificate.
    pub fn serve_tls(dir: &Path, log: &Path, tls: &Tls) -> Http {
        Http::start(dir, log, Some(tls))
    }

    fn start(dir: &Path, log: &Path, tls: Option<&Tls>) -> Http {
        for _ in 0..5 {
            let port = TcpListener::bind("127.0.0.1:0")
                .unwrap()
                .local_addr()
                .unwrap()
                .port();
            let mut cmd = Command::new("python3");
            match tls {
                None => {
                    cmd.args([
                        "-m",
                        "http.server",
                        &port.to_string(),
                        "--bind",
                        "127.0.0.1",
                    ])
                    .arg("--directory")
                    .arg(dir);
                }
                Some(t) => {
                    cmd.args(["-c", HTTPS_SERVER, &port.to_string()])
                        .arg(dir)
                        .arg(&t.cert)
                        .arg(&t.key);
                }
            }
            let child = cmd
                .stdout(Stdio::null())
                .stderr(fs::File::create(log).unwrap())
                .spawn()
                .unwrap();
            let mut http = Http {
                child,
                port,
                log: log.to_path_buf(),
            };
            let start = Instant::now();
            while start.elapsed() < Duration::from_secs(10) {
                if TcpStream::connect(("127.0.0.1", port)).is_ok() {
                    return http;
                }
                if http.child.try_wait().unwrap().is_some() {
                    break; // port taken meanwhile: try another
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = http.child.kill();
        }
        panic!("could not start python3 -m http.server");
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}/{path}", self.port)
    }

    pub fn https_url(&self, path: &str) -> String {
        format!("https://127.0.0.1:{}/{path}", self.port)
    }

    pub fn requests(&self) -> String {
        fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Http {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A throwaway CA and a certificate it signed for 127.0.0.1, made with openssl
/// in `dir`: `ca` is the file a client must trust.
pub struct Tls {
    pub ca: PathBuf,
    pub cert: PathBuf,
    pub key: PathBuf,
}

impl Tls {
    pub fn new(dir: &Path) -> Tls {
        fs::create_dir_all(dir).unwrap();
        let p = |name: &str| dir.join(name).to_str().unwrap().to_string();
        let openssl = |args: &[&str]| super::tool("openssl", args);
        openssl(&[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "2",
            "-subj",
            "/CN=cfy-ap throwaway test CA",
            "-addext",
            "basicConstraints=critical,CA:TRUE",
            "-addext",
            "keyUsage=critical,keyCertSign,cRLSign",
            "-keyout",
            &p("ca.key"),
            "-out",
            &p("ca.pem"),
        ]);
        openssl(&[
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-subj",
            "/CN=127.0.0.1",
            "-keyout",
            &p("server.key"),
            "-out",
            &p("server.csr"),
        ]);
        fs::write(
            dir.join("server.ext"),
            "basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\nsubjectAltName=IP:127.0.0.1\nauthorityKeyIdentifier=keyid\nsubjectKeyIdentifier=hash\n",
        )
        .unwrap();
        openssl(&[
            "x509",
            "-req",
            "-days",
            "2",
            "-in",
            &p("server.csr"),
            "-CA",
            &p("ca.pem"),
            "-CAkey",
            &p("ca.key"),
            "-CAcreateserial",
            "-extfile",
            &p("server.ext"),
            "-out",
            &p("server.pem"),
        ]);
        Tls {
            ca: dir.join("ca.pem"),
            cert: dir.join("server.pem"),
            key: dir.join("server.key"),
        }
    }
}

/// A PEP 503 simple index of the wheels in `wheels`, in `dir`: the files in
/// `dir/files/`, a page per project in `dir/simple/<name>/`.
/// Every variable that names a CA bundle (the test machine may set them all).
pub const CA_VARS: [&str; 4] = [
    "PIP_CERT",
    "REQUESTS_CA_BUNDLE",
    "CURL_CA_BUNDLE",
    "SSL_CERT_FILE",
];

/// A PEP 503 index of the fixture wheels served over HTTPS on 127.0.0.1, its
/// certificate signed by a throwaway CA made under `dir` (what a private index
/// or a TLS-intercepting proxy looks like to pip), and `cfg` (an offline
/// fixture config) with its `pip_options` pointing at it instead.
pub fn fixture_index(dir: &Path, cfg: &str) -> (Tls, Http, String) {
    let tls = Tls::new(&dir.join("ca"));
    let served = dir.join("index");
    simple_index(&served, &super::fixtures().join("wheels"));
    let https = Http::serve_tls(&served, &dir.join("https.log"), &tls);
    let offline = format!(
        "pip_options: [--no-index, --find-links, {}/wheels]",
        super::fixtures().display()
    );
    let index = https.https_url("simple/");
    assert!(cfg.contains(&offline), "{cfg}");
    let cfg = cfg.replace(&offline, &format!("pip_options: [--index-url, {index}]"));
    (tls, https, cfg)
}

pub fn simple_index(dir: &Path, wheels: &Path) {
    let files = dir.join("files");
    fs::create_dir_all(&files).unwrap();
    for e in fs::read_dir(wheels).unwrap().flatten() {
        let file = e.file_name().to_string_lossy().into_owned();
        let Some(dist) = file.strip_suffix(".whl").and_then(|f| f.split('-').next()) else {
            continue;
        };
        fs::copy(e.path(), files.join(&file)).unwrap();
        let name = dist.to_lowercase().replace(['_', '.'], "-");
        let page = dir.join("simple").join(&name);
        fs::create_dir_all(&page).unwrap();
        let index = page.join("index.html");
        let mut html = fs::read_to_string(&index).unwrap_or_default();
        html.push_str(&format!("<a href=\"../../files/{file}\">{file}</a>\n"));
        fs::write(index, html).unwrap();
    }
}
