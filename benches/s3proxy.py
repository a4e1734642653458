"""A counting HTTP proxy for benches/s3.sh: every request to an S3 endpoint, counted.

    python3 s3proxy.py LISTEN_PORT UPSTREAM_PORT [DELAY_MS]   # both on 127.0.0.1

Forwards each request as it came (path-style S3: /BUCKET/KEY?QUERY) to the
upstream server (moto) on a kept-alive connection per client connection and
records, per request: the method, the kind of S3 operation (GET, HEAD, PUT,
DELETE, LIST, POST), the key, the status and the body bytes sent up and down.
With DELAY_MS, each request waits that long (a sleep, no CPU) before it is
forwarded: the round trip to a store across a network, which moto on
127.0.0.1 does not have.

Its own control path (no bucket name may start with "__"):
    GET /__proxy/take            the requests since the last take, summed, as JSON
    GET /__proxy/take?log=FILE   the same, and each request as a line of FILE:
                                 kind, status, path, bytes up, bytes down, when
                                 it came (ms after the first of these) and how
                                 long it took (ms, upstream included)
The summary: {"n": total, "ops": {kind: count}, "up": bytes, "down": bytes,
"status": {code: count}, "groups": {"KIND group": count}} where a group is the
key with its bucket and first component dropped and digits folded to '#'
(pool/main/b/bench-pkg-#/..., dists/stable/main/binary-amd64/by-hash/SHA256/...),
so a count that grows with the repository shows which objects it comes from.
"""

import http.client
import http.server
import json
import re
import sys
import threading
import time
import urllib.parse
from collections import Counter

HOP = {
    "connection",
    "keep-alive",
    "proxy-connection",
    "transfer-encoding",
    "te",
    "trailer",
    "upgrade",
    "expect",
}
# Bucket-level GETs that are a listing (anything else there is the bucket's
# configuration: location, policy, versioning...).
LIST_QUERY = {"list-type", "prefix", "delimiter", "marker", "continuation-token", "max-keys", "start-after"}


def kind(method, path, query):
    key = path.lstrip("/").partition("/")[2]
    if method == "GET" and not key:
        params = set(urllib.parse.parse_qs(query, keep_blank_values=True))
        if not params or params & LIST_QUERY:
            return "LIST"
    return method


def group(path):
    parts = path.lstrip("/").split("/")[2:]  # bucket and prefix dropped
    if len(parts) > 1 and re.fullmatch(r"[0-9a-f]{16,}", parts[-1]):
        parts[-1] = "<digest>"
    if parts and parts[0] == "repodata" and len(parts) == 2:
        parts[1] = re.sub(r"^[0-9a-f]{16,}-", "<digest>-", parts[1])
    # A pool's letter directory and a package's own directory are one group.
    if parts and parts[0] == "pool" and len(parts) > 3:
        parts = parts[:2] + ["*"] * (len(parts) - 3) + [parts[-1]]
    return re.sub(r"[0-9]+", "#", "/".join(parts)) or "/"


class Stats:
    def __init__(self):
        self.lock = threading.Lock()
        self.records = []

    def add(self, rec):
        with self.lock:
            self.records.append(rec)

    def take(self):
        with self.lock:
            records, self.records = self.records, []
        return records


STATS = Stats()
UPSTREAM = ("127.0.0.1", 0)
DELAY = 0.0


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    upstream = None
    # A response is its headers and its body, two writes: with Nagle's
    # algorithm the body would wait for the client's delayed ACK of the
    # headers, 40 ms a GET with a body.
    disable_nagle_algorithm = True

    def log_message(self, *args):
        pass

    def read_body(self):
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            out = bytearray()
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip(), 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass  # trailers
                    return bytes(out)
                out += self.rfile.read(size)
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def forward(self, body):
        headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP}
        if body or self.command in ("PUT", "POST"):
            headers["Content-Length"] = str(len(body))
        for attempt in (0, 1):
            if self.upstream is None:
                self.upstream = http.client.HTTPConnection(*UPSTREAM, timeout=300)
            try:
                self.upstream.request(self.command, self.path, body=body, headers=headers)
                resp = self.upstream.getresponse()
                data = resp.read()
                return resp, data
            except (http.client.HTTPException, OSError):
                self.upstream.close()
                self.upstream = None
                if attempt:
                    raise
        raise AssertionError("unreachable")

    def control(self):
        url = urllib.parse.urlsplit(self.path)
        query = urllib.parse.parse_qs(url.query)
        if url.path != "/__proxy/take":
            self.reply(404, b"unknown control path\n")
            return
        records = STATS.take()
        if "log" in query:
            with open(query["log"][0], "w") as f:
                first = min((r["t"] for r in records), default=0)
                for r in records:
                    at = (r["t"] - first) * 1e3
                    f.write("%s %s %s %d %d %.1f %.1f\n" % (r["kind"], r["status"], r["path"], r["up"], r["down"], at, r["ms"]))
        summary = {
            "n": len(records),
            "ops": Counter(r["kind"] for r in records),
            "up": sum(r["up"] for r in records),
            "down": sum(r["down"] for r in records),
            "status": Counter(str(r["status"]) for r in records),
            "groups": Counter("%s %s" % (r["kind"], group(r["path"])) for r in records),
        }
        self.reply(200, json.dumps(summary).encode())

    def reply(self, status, data):
        self.send_response(status)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def handle_any(self):
        if self.path.startswith("/__proxy/"):
            self.control()
            return
        t0 = time.monotonic()
        body = self.read_body()
        if DELAY:
            time.sleep(DELAY)
        start = time.time()
        resp, data = self.forward(body)
        self.send_response_only(resp.status, resp.reason)
        for k, v in resp.getheaders():
            if k.lower() not in HOP and k.lower() != "content-length":
                self.send_header(k, v)
        if self.command == "HEAD":
            length = resp.getheader("Content-Length")
            if length is not None:
                self.send_header("Content-Length", length)
        else:
            self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)
        url = urllib.parse.urlsplit(self.path)
        STATS.add(
            {
                "kind": kind(self.command, url.path, url.query),
                "path": url.path,
                "status": resp.status,
                "up": len(body),
                "down": len(data),
                "t": start,
                "ms": (time.monotonic() - t0) * 1e3,
            }
        )

    do_GET = do_HEAD = do_PUT = do_POST = do_DELETE = handle_any


def main():
    global UPSTREAM, DELAY
    listen, upstream = int(sys.argv[1]), int(sys.argv[2])
    UPSTREAM = ("127.0.0.1", upstream)
    DELAY = float(sys.argv[3]) / 1e3 if len(sys.argv) > 3 else 0.0
    server = http.server.ThreadingHTTPServer(("127.0.0.1", listen), Handler)
    server.daemon_threads = True
    server.serve_forever()


if __name__ == "__main__":
    main()
