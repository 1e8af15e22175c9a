"""Driving sipp (SIP test tool) from tests: registrations, calls, answering phones, a landline trunk."""
from __future__ import annotations

import pathlib
import shutil
import subprocess
import tempfile
from dataclasses import dataclass

SCENARIOS = pathlib.Path(__file__).parent / "tests" / "scenarios"


def sipp_binary() -> str | None:
    return shutil.which("sipp")


@dataclass
class SippResult:
    returncode: int
    output: str
    messages: str

    @property
    def ok(self) -> bool:
        return self.returncode == 0


class Sipp:
    def __init__(self, scenario: str, *, server: tuple[str, int] | None, local_port: int, transport: str = "u1",
                 service: str = "", auth: tuple[str, str] | None = None, keys: dict | None = None,
                 local_ip: str = "127.0.0.1", timeout: int = 15, calls: int = 1, rate: int | None = None,
                 pause_ms: int = 0):
        self.dir = pathlib.Path(tempfile.mkdtemp(prefix="entryway-sipp-"))
        self.message_file = self.dir / "messages.log"
        args = [sipp_binary() or "sipp"]
        if server is not None:
            args.append(f"{server[0]}:{server[1]}")
        args += ["-sf", str(SCENARIOS / scenario), "-m", str(calls), "-t", transport, "-i", local_ip,
                 "-p", str(local_port), "-nostdin", "-timeout", f"{timeout}s", "-timeout_error",
                 "-trace_msg", "-message_file", str(self.message_file), "-trace_err",
                 "-error_file", str(self.dir / "errors.log"), "-max_retrans", "3", "-d", str(pause_ms)]
        if rate is not None:
            args += ["-r", str(rate), "-l", str(calls)]
        if service:
            args += ["-s", service]
        if auth:
            args += ["-au", auth[0], "-ap", auth[1]]
        for key, value in (keys or {}).items():
            args += ["-key", key, str(value)]
        self.args = args
        self.proc: subprocess.Popen | None = None

    def start(self) -> "Sipp":
        self.proc = subprocess.Popen(self.args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                     cwd=self.dir)
        return self

    def wait(self, timeout: float = 30) -> SippResult:
        assert self.proc is not None
        try:
            output, _ = self.proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            output, _ = self.proc.communicate()
        messages = self.message_file.read_text(errors="replace") if self.message_file.exists() else ""
        errors = self.dir / "errors.log"
        if errors.exists():
            output += "\n--- errors ---\n" + errors.read_text(errors="replace")
        shutil.rmtree(self.dir, ignore_errors=True)
        return SippResult(self.proc.returncode, output or "", messages)

    def run(self, timeout: float = 30) -> SippResult:
        return self.start().wait(timeout)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


def _digest_response(challenge: str, method: str, uri: str, user: str, password: str) -> str:
    import hashlib
    import re

    params = dict(re.findall(r'(\w+)="?([^",]+)"?', challenge))
    realm, nonce = params["realm"], params["nonce"]
    md5 = lambda s: hashlib.md5(s.encode(), usedforsecurity=False).hexdigest()  # noqa: E731
    ha1 = md5(f"{user}:{realm}:{password}")
    ha2 = md5(f"{method}:{uri}")
    if "qop" in params:
        cnonce, nc = "0a4f113b", "00000001"
        response = md5(f"{ha1}:{nonce}:{nc}:{cnonce}:auth:{ha2}")
        return (f'Digest username="{user}", realm="{realm}", nonce="{nonce}", uri="{uri}", '
                f'response="{response}", algorithm=MD5, qop=auth, nc={nc}, cnonce="{cnonce}"')
    response = md5(f"{ha1}:{nonce}:{ha2}")
    return f'Digest username="{user}", realm="{realm}", nonce="{nonce}", uri="{uri}", response="{response}"'


def register_over_stream(host: str, port: int, number: str, password: str, domain: str, *, tls: bool,
                         timeout: float = 5.0) -> int:
    """REGISTER over TCP or TLS (the Debian sipp is built without TLS); returns the final status code."""
    import socket
    import ssl
    import uuid

    raw = socket.create_connection((host, port), timeout=timeout)
    sock = raw
    if tls:
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        sock = context.wrap_socket(raw, server_hostname=domain)
    transport = "TLS" if tls else "TCP"
    local_host, local_port = sock.getsockname()[:2]
    call_id, tag = uuid.uuid4().hex, uuid.uuid4().hex[:8]
    uri = f"sip:{domain}"
    buffer = b""

    def send(cseq: int, authorization: str | None) -> int:
        nonlocal buffer
        lines = [
            f"REGISTER {uri} SIP/2.0",
            f"Via: SIP/2.0/{transport} {local_host}:{local_port};branch=z9hG4bK{uuid.uuid4().hex[:12]};rport",
            f"From: <sip:{number}@{domain}>;tag={tag}",
            f"To: <sip:{number}@{domain}>",
            f"Call-ID: {call_id}",
            f"CSeq: {cseq} REGISTER",
            f"Contact: <sip:{number}@{local_host}:{local_port};transport={transport.lower()}>",
            "Max-Forwards: 70",
            "Expires: 600",
        ]
        if authorization:
            lines.append(f"Authorization: {authorization}")
        lines += ["Content-Length: 0", "", ""]
        sock.sendall("\r\n".join(lines).encode())
        while b"\r\n\r\n" not in buffer:
            chunk = sock.recv(65536)
            if not chunk:
                raise ConnectionError("the SIP server closed the connection")
            buffer += chunk
        head, buffer = buffer.split(b"\r\n\r\n", 1)
        text = head.decode(errors="replace")
        send.last = text
        return int(text.split(" ", 2)[1])

    try:
        status = send(1, None)
        if status == 401:
            challenge = next(line.split(":", 1)[1].strip() for line in send.last.split("\r\n")
                             if line.lower().startswith("www-authenticate:"))
            status = send(2, _digest_response(challenge, "REGISTER", uri, number, password))
        return status
    finally:
        sock.close()


def self_signed_certificate(directory, common_name: str) -> tuple[str, str]:
    """A throw-away certificate and key for the SIP server's TLS listener in tests."""
    import datetime
    import pathlib

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(common_name)]), critical=False)
        .sign(key, hashes.SHA256())
    )
    directory = pathlib.Path(directory)
    cert_path, key_path = directory / "sip.crt", directory / "sip.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return str(cert_path), str(key_path)
