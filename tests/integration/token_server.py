# A bearer token service for docker-registry's "token" auth, for the OCI tests: it signs
# JWTs (RS256, x5c header) with a key whose self-signed certificate the registry trusts,
# granting every scope asked for to user alice:s3cret and refusing anyone else (401).
# Usage: token_server.py DIR ISSUER; writes DIR/cert.pem and prints its port.
import base64, http.server, json, os, sys, time, urllib.parse
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID
import datetime

d, issuer = sys.argv[1], sys.argv[2]
key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "envcache test token signer")])
now = datetime.datetime.utcnow()
cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
        .public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=2))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256()))
with open(os.path.join(d, "cert.pem"), "wb") as f:
    f.write(cert.public_bytes(serialization.Encoding.PEM))
der = base64.b64encode(cert.public_bytes(serialization.Encoding.DER)).decode()

def b64u(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()

class H(http.server.BaseHTTPRequestHandler):
    def log_message(self, *a):
        sys.stderr.write("token %s\n" % self.path); sys.stderr.flush()
    def do_GET(self):
        q = urllib.parse.parse_qs(urllib.parse.urlparse(self.path).query)
        auth = self.headers.get("Authorization", "")
        if auth != "Basic " + base64.b64encode(b"alice:s3cret").decode():
            self.send_response(401); self.send_header("Content-Length", "0"); self.end_headers(); return
        access = []
        for sc in " ".join(q.get("scope", [])).split():
            t, n, a = sc.split(":", 2) if sc.count(":") >= 2 else (sc, "", "")
            access.append({"type": t, "name": n, "actions": a.split(",")})
        t = int(time.time())
        claims = {"iss": issuer, "sub": "alice", "aud": q.get("service", [""])[0],
                  "exp": t + 600, "nbf": t - 60, "iat": t, "jti": os.urandom(8).hex(),
                  "access": access}
        head = {"alg": "RS256", "typ": "JWT", "x5c": [der]}
        signing = b64u(json.dumps(head).encode()) + "." + b64u(json.dumps(claims).encode())
        sig = key.sign(signing.encode(), padding.PKCS1v15(), hashes.SHA256())
        body = json.dumps({"token": signing + "." + b64u(sig)}).encode()
        self.send_response(200); self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body))); self.end_headers(); self.wfile.write(body)

s = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
print(s.server_address[1], flush=True)
s.serve_forever()
