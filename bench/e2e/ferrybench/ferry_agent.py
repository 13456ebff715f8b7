"""A ferry agent process on one side of a path, and its HTTP API (docs/operations.md)."""
import http.client
import json
import os
import socket
import subprocess
import time

from ferrybench.cleanup import stop_process


class ApiError(RuntimeError):
    pass


class _UnixHTTPConnection(http.client.HTTPConnection):
    def __init__(self, socket_path, timeout):
        super().__init__("localhost", timeout=timeout)
        self.socket_path = socket_path

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(self.timeout)
        self.sock.connect(self.socket_path)


class FerryAgent:
    def __init__(self, ferry_binary, path, side, state_dir, ram_dir, pki_dir=None):
        """pki_dir: a pool CA directory holding this agent's certificate (ferry pki), for mutual
        TLS; None for plain TCP."""
        self.ferry_binary = ferry_binary
        self.pki_dir = pki_dir
        self.path, self.side = path, side
        self.name = f"bench-{side}"
        self.state_dir, self.ram_dir = state_dir, ram_dir
        self.proc = None
        self.port = None

    def start(self, cleanup, timeout_s=15):
        os.makedirs(self.state_dir, exist_ok=True)
        os.makedirs(self.ram_dir, exist_ok=True)
        if self.pki_dir:
            security = ["--tls-ca", os.path.join(self.pki_dir, "ca.pem"),
                        "--tls-cert", os.path.join(self.pki_dir, f"{self.name}.pem"),
                        "--tls-key", os.path.join(self.pki_dir, f"{self.name}-key.pem")]
        else:
            security = ["--insecure"]  # plain TCP between the benchmark's own namespaces or loopback
        cmd = self.path.wrap(self.side, [
            self.ferry_binary, "agent", "--listen", f"{self.path.address(self.side)}:0",
            "--state-dir", self.state_dir, "--ram-dir", self.ram_dir, "--host-name", self.name]
            + security)
        info = os.path.join(self.state_dir, "agent.json")
        if os.path.exists(info):
            os.unlink(info)  # a previous agent's port
        self.log_path = os.path.join(self.state_dir, "agent.log")
        with open(self.log_path, "ab") as out:
            # A session of its own: Ctrl-C reaches only the benchmark, which then stops it by PID.
            self.proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        self.cleanup_entry = cleanup.process(self.proc, f"ferry agent {self.name}", grace_s=20)
        deadline = time.time() + timeout_s
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise ApiError(f"ferry agent {self.name} exited with {self.proc.returncode}: {self.log_tail()}")
            try:
                with open(info) as f:
                    self.port = json.load(f)["port"]
                if os.path.exists(os.path.join(self.state_dir, "api.sock")):
                    return self
            except (OSError, ValueError, KeyError):
                pass
            time.sleep(0.02)
        raise ApiError(f"ferry agent {self.name} did not start within {timeout_s} s: {self.log_tail()}")

    def stop(self):
        if self.proc:
            stop_process(self.proc, grace_s=20)

    @property
    def endpoint(self):
        return f"{self.path.address(self.side)}:{self.port}"

    def log_tail(self, lines=8):
        try:
            with open(self.log_path, errors="replace") as f:
                return " | ".join(line.strip() for line in f.readlines()[-lines:])
        except OSError:
            return ""

    def _connection(self, timeout):
        return _UnixHTTPConnection(os.path.join(self.state_dir, "api.sock"), timeout)

    def _check_alive(self):
        # A dead agent's socket may still be held open by a guest that inherited it: asking would
        # only hang until the timeout.
        if self.proc is None or self.proc.poll() is not None:
            code = self.proc.returncode if self.proc else "never started"
            raise ApiError(f"ferry agent {self.name} is not running (exit {code})")

    def api(self, method, target, body=None, timeout=30):
        """(status, parsed JSON body or None)."""
        self._check_alive()
        conn = self._connection(timeout)
        try:
            payload = json.dumps(body) if body is not None else None
            conn.request(method, target, body=payload, headers={"Content-Type": "application/json"})
            r = conn.getresponse()
            data = r.read().decode(errors="replace")
        finally:
            conn.close()
        try:
            return r.status, (json.loads(data) if data.strip() else None)
        except ValueError:
            return r.status, {"error": {"message": data[:300]}}

    def events(self, migration_id, timeout=900):
        """The migration's JSON-line events as they come, until the job ends (or the connection
        does: the caller then asks for the final state)."""
        self._check_alive()
        deadline = time.time() + timeout
        # Short reads, so that a dead agent or a hung stream is noticed within seconds.
        conn = self._connection(5)
        try:
            conn.request("GET", f"/v1/migrations/{migration_id}/events")
            r = conn.getresponse()
            buffer = b""
            while True:
                try:
                    chunk = r.read1(65536)
                except TimeoutError:
                    self._check_alive()
                    if time.time() > deadline:
                        raise
                    continue
                except http.client.IncompleteRead:
                    break
                if not chunk:
                    break
                buffer += chunk
                while b"\n" in buffer:
                    line, buffer = buffer.split(b"\n", 1)
                    if line.strip():
                        yield json.loads(line)
        finally:
            conn.close()


def error_text(status, body):
    """The agent's error message, for a skipped/failed record."""
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        e = body["error"]
        return f"HTTP {status} {e.get('code', '')}: {e.get('message', '')}".strip()
    return f"HTTP {status}: {json.dumps(body)[:300]}"
