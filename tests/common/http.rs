//! A static HTTP server for tests: `python3 -m http.server` on a free loopback
//! port (never another address), its request log kept, killed on drop.

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

impl Http {
    pub fn serve(dir: &Path, log: &Path) -> Http {
        for _ in 0..5 {
            let port = TcpListener::bind("127.0.0.1:0")
                .unwrap()
                .local_addr()
                .unwrap()
                .port();
            let child = Command::new("python3")
                .args([
                    "-m",
                    "http.server",
                    &port.to_string(),
                    "--bind",
                    "127.0.0.1",
                ])
                .arg("--directory")
                .arg(dir)
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
