# A proxy in front of a registry, for the OCI tests: it forwards every request and can
#   --fail-patch N   answer the Nth PATCH (an upload chunk) with HTTP 500, not forwarded
#   --referrers      act as a registry with the referrers API: a manifest PUT with a
#                    "subject" is answered with OCI-Subject and remembered, and
#                    GET /v2/NAME/referrers/DIGEST answers an index of those
# Usage: registry_proxy.py UPSTREAM_HOST:PORT [options]; prints its port; logs to stderr.
import hashlib, http.client, http.server, json, sys, threading

up = sys.argv[1]
fail_patch = int(sys.argv[sys.argv.index("--fail-patch") + 1]) if "--fail-patch" in sys.argv else 0
referrers_api = "--referrers" in sys.argv
patches = [0]
refs = {}  # (repo, subject digest) -> [descriptor]
lock = threading.Lock()

def log(msg):
    sys.stderr.write(msg + "\n"); sys.stderr.flush()

class P(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def log_message(self, *a): pass
    def reply(self, status, body=b"", headers=()):
        self.send_response(status)
        for k, v in headers: self.send_header(k, v)
        self.send_header("Content-Length", str(len(body))); self.end_headers()
        if self.command != "HEAD": self.wfile.write(body)
    def do(self):
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n) if n else None
        path = self.path.split("?")[0]
        if self.command == "PATCH":
            with lock:
                patches[0] += 1; k = patches[0]
            if k == fail_patch:
                log("failed chunk %s" % self.headers.get("Content-Range"))
                return self.reply(500)
        if referrers_api and self.command == "GET" and "/referrers/" in path:
            repo, digest = path[4:].split("/referrers/")
            log("referrers %s %s" % (repo, digest))
            with lock:
                ms = list(refs.get((repo, digest), []))
            idx = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
                              "manifests": ms}).encode()
            return self.reply(200, idx, [("Content-Type", "application/vnd.oci.image.index.v1+json")])
        c = http.client.HTTPConnection(up)
        c.request(self.command, self.path, body, dict(self.headers))
        r = c.getresponse(); data = r.read()
        extra = []
        if referrers_api and self.command == "PUT" and "/manifests/" in path and r.status == 201:
            m = json.loads(body)
            if "subject" in m:
                repo = path[4:].split("/manifests/")[0]
                d = {"mediaType": m.get("mediaType"), "digest": "sha256:" + hashlib.sha256(body).hexdigest(),
                     "size": len(body)}
                for k in ("artifactType", "annotations"):
                    if k in m: d[k] = m[k]
                with lock:
                    lst = refs.setdefault((repo, m["subject"]["digest"]), [])
                    if d not in lst: lst.append(d)
                extra.append(("OCI-Subject", m["subject"]["digest"]))
        hs = [(k, v) for k, v in r.getheaders() if k.lower() not in ("transfer-encoding", "connection", "content-length")]
        self.reply(r.status, data, hs + extra)
    do_GET = do_HEAD = do_PUT = do_POST = do_PATCH = do_DELETE = do

s = http.server.ThreadingHTTPServer(("127.0.0.1", 0), P)
print(s.server_address[1], flush=True)
s.serve_forever()
