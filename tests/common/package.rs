//! A package-test workspace: a small synthetic agent tar (`agent.tar.gz`, text plus
//! ~200 KB of incompressible data, made with `cfy-ap archive`) and `c.yaml` whose
//! `package:` section gets the given lines; builds with `--from-tar` so package
//! tests need no virtualenv. Shared by the deb and rpm tests.

use super::{Cmd, repo};
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Output;

pub const EPOCH: &str = "1700000000";

pub struct Setup {
    dir: tempfile::TempDir,
    /// `deb` or `rpm`.
    format: &'static str,
    distribution: &'static str,
    release: &'static str,
}

/// Runs cfy-ap ([`Cmd::cfy_ap`]) in `dir` with SOURCE_DATE_EPOCH set and no
/// VERSION or passphrase inherited from the environment; `envs` are set last.
pub fn cfy_ap(dir: &Path, args: &[&str], envs: &[(&str, &str)]) -> Output {
    Cmd::cfy_ap()
        .current_dir(dir)
        .args(args)
        .env("SOURCE_DATE_EPOCH", EPOCH)
        .env_remove("VERSION")
        .env_remove("CFY_AP_SIGN_PASSPHRASE")
        .envs(envs)
        .output()
}

impl Setup {
    /// `format` decides the distribution used: Ubuntu trusty for deb, centos Core for rpm.
    pub fn new(format: &'static str, package: &str) -> Setup {
        let (distribution, release) = match format {
            "deb" => ("Ubuntu", "trusty"),
            _ => ("centos", "Core"),
        };
        Setup::release(format, distribution, release, package)
    }

    /// The same for another distribution release.
    pub fn release(
        format: &'static str,
        distribution: &'static str,
        release: &'static str,
        package: &str,
    ) -> Setup {
        let dir = tempfile::tempdir().unwrap();
        let env = dir.path().join("env");
        fs::create_dir_all(env.join("bin")).unwrap();
        fs::create_dir_all(env.join("lib/python3/site-packages")).unwrap();
        fs::write(
            env.join("lib/python3/site-packages/mod.py"),
            "x = 1\n".repeat(500),
        )
        .unwrap();
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        let blob: Vec<u8> = (0..200_000)
            .map(|_| {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                (seed >> 24) as u8
            })
            .collect();
        fs::write(env.join("lib/blob.so"), blob).unwrap();
        std::os::unix::fs::symlink("/usr/bin/python3", env.join("bin/python")).unwrap();
        let prefix = format!("cloudify/{distribution}-{release}-agent/env");
        let o = cfy_ap(
            dir.path(),
            &["archive", "env", "agent.tar.gz", "--prefix", &prefix],
            &[],
        );
        assert!(o.status.success(), "{}", super::text(&o));
        fs::remove_dir_all(&env).unwrap();
        fs::create_dir(dir.path().join("out")).unwrap();
        let s = Setup {
            dir,
            format,
            distribution,
            release,
        };
        s.config(package);
        s
    }

    /// (Re)write `c.yaml` with `package` as the package section's extra lines.
    pub fn config(&self, package: &str) {
        let mut indented: String = package.lines().map(|l| format!("  {l}\n")).collect();
        if !package.contains("config_files:") {
            indented += &format!(
                "  config_files: {}/packaging/{}\n",
                repo().display(),
                self.distribution.to_lowercase()
            );
        }
        let (d, r) = (self.distribution, self.release);
        let yaml = format!(
            "distribution: {d}\nrelease: {r}\noutput_tar: {d}-{r}-agent.tar.gz\npackage:\n  output_dir: out\n{indented}"
        );
        fs::write(self.path().join("c.yaml"), yaml).unwrap();
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// `cfy-ap -c c.yaml --format <format> --from-tar agent.tar.gz <extra>`.
    pub fn build(&self, extra: &[&str], envs: &[(&str, &str)]) -> Output {
        let mut args = vec![
            "-c",
            "c.yaml",
            "--format",
            self.format,
            "--from-tar",
            "agent.tar.gz",
        ];
        args.extend_from_slice(extra);
        cfy_ap(self.path(), &args, envs)
    }

    /// The files in `out/`, sorted.
    pub fn out_files(&self) -> Vec<String> {
        let mut v: Vec<String> = fs::read_dir(self.path().join("out"))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }

    /// Builds (must succeed) and returns the agent package written; the other
    /// file written is the distribution's common package ([`Setup::common`]).
    pub fn package(&self, extra: &[&str], envs: &[(&str, &str)]) -> PathBuf {
        let o = self.build(extra, envs);
        assert!(o.status.success(), "{}", super::text(&o));
        let files = self.out_files();
        assert_eq!(
            files.len(),
            2,
            "the agent and the common package: {files:?}"
        );
        let agent = files.iter().find(|f| !f.contains("-agent-common"));
        self.path()
            .join("out")
            .join(agent.expect("an agent package"))
    }

    /// The common package the last build wrote into `out/`.
    pub fn common(&self) -> PathBuf {
        let files = self.out_files();
        let common = files.iter().find(|f| f.contains("-agent-common"));
        self.path()
            .join("out")
            .join(common.expect("a common package"))
    }
}
