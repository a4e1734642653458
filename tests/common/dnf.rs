//! A private dnf for the yum tests: its own config, repositories and install
//! root, nothing of the host's.

use super::text;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// A private dnf: its own config, repos and install root.
pub struct Dnf {
    pub dir: PathBuf,
}

impl Dnf {
    pub fn new(work: &Path) -> Dnf {
        let dir = work.join("dnf");
        fs::create_dir_all(dir.join("repos.d")).unwrap();
        fs::create_dir_all(dir.join("root")).unwrap();
        fs::write(
            dir.join("dnf.conf"),
            "[main]\ngpgcheck=1\nrepo_gpgcheck=1\nskip_if_unavailable=False\nmetadata_expire=0\n",
        )
        .unwrap();
        Dnf { dir }
    }

    /// A `.repo` file as the README tells clients to write it.
    pub fn repo(&self, id: &str, baseurl: &str, gpgkey: &Path) {
        fs::write(
            self.dir.join(format!("repos.d/{id}.repo")),
            format!(
                "[{id}]\nname={id}\nbaseurl={baseurl}\nenabled=1\ngpgcheck=1\nrepo_gpgcheck=1\ngpgkey=file://{}\n",
                gpgkey.display()
            ),
        )
        .unwrap();
    }

    /// A local repository read without any signature check.
    pub fn unsigned_repo(&self, id: &str, dir: &Path) {
        self.unsigned_url(id, &format!("file://{}", dir.display()));
    }

    /// A repository at `baseurl` read without any signature check.
    pub fn unsigned_url(&self, id: &str, baseurl: &str) {
        fs::write(
            self.dir.join(format!("repos.d/{id}.repo")),
            format!("[{id}]\nname={id}\nbaseurl={baseurl}\ngpgcheck=0\nrepo_gpgcheck=0\n"),
        )
        .unwrap();
    }

    pub fn run(&self, repo: &str, args: &[&str]) -> Output {
        let d = self.dir.display();
        Command::new("dnf")
            .args([
                "-y",
                &format!("--installroot={d}/root"),
                &format!("--config={d}/dnf.conf"),
                &format!("--setopt=reposdir={d}/repos.d"),
                "--releasever=9",
                "--disablerepo=*",
                &format!("--enablerepo={repo}"),
            ])
            .args(args)
            .env("LC_ALL", "C.UTF-8")
            .output()
            .expect("dnf (apt-get install dnf)")
    }

    #[track_caller]
    pub fn ok(&self, repo: &str, args: &[&str]) -> String {
        let o = self.run(repo, args);
        assert!(o.status.success(), "dnf {args:?}: {}", text(&o));
        String::from_utf8_lossy(&o.stdout).into_owned()
    }

    /// The version-release of `name` installed in the root.
    pub fn installed(&self, name: &str) -> String {
        let o = Command::new("rpm")
            .arg(format!("--root={}/root", self.dir.display()))
            .args(["-q", "--qf", "%{VERSION}-%{RELEASE}", name])
            .output()
            .unwrap();
        if !o.status.success() {
            return String::new();
        }
        String::from_utf8_lossy(&o.stdout).into_owned()
    }

    /// The install root dnf installs into.
    pub fn root(&self) -> PathBuf {
        self.dir.join("root")
    }

    /// `rpm -V name` in the install root: every file as the package has it.
    #[track_caller]
    pub fn verify(&self, name: &str) {
        let o = Command::new("rpm")
            .arg(format!("--root={}", self.root().display()))
            .args(["-V", name])
            .output()
            .unwrap();
        assert!(o.status.success(), "rpm -V {name}: {}", text(&o));
    }
}
