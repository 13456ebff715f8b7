"""Test hosts for ferry's integration tests: real agents, each "host" in its own network namespace.

Every process a test starts is stopped by its PID, and every namespace, mount and file it made is
removed, even when the test fails (use Topology as a context manager).
"""
import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time

BUILD = os.environ.get("FERRY_BUILD_DIR", os.path.join(os.path.dirname(__file__), "..", "..", "build"))
FERRY = os.path.join(BUILD, "ferry")


def log(msg):
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


def can_use_netns():
    """Namespaces need root and a working `ip netns`; say why when we cannot."""
    if os.geteuid() != 0:
        return False, "not root"
    probe = f"ferry-probe-{os.getpid()}"
    r = subprocess.run(["ip", "netns", "add", probe], capture_output=True, text=True)
    if r.returncode != 0:
        return False, f"ip netns add failed: {r.stderr.strip()}"
    subprocess.run(["ip", "netns", "del", probe], capture_output=True)
    return True, ""


class UnixHTTPConnection(http.client.HTTPConnection):
    def __init__(self, path, timeout=120):
        super().__init__("localhost", timeout=timeout)
        self.path = path

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(self.timeout)
        self.sock.connect(self.path)


class Agent:
    """One ferry agent process, in a namespace or on loopback."""

    def __init__(self, name, workdir, address, netns=None, ram_dir=None, extra=()):
        self.name, self.netns, self.address = name, netns, address
        self.state_dir = os.path.join(workdir, name)
        os.makedirs(self.state_dir, exist_ok=True)
        # Each host keeps guest RAM in a directory of its own, so a test can see what it left.
        self.ram_dir = ram_dir or tempfile.mkdtemp(prefix=f"ferry-it-{name}-", dir="/dev/shm")
        self.extra = list(extra)
        self.proc = None
        self.port = None

    def start(self, port=0):
        cmd = [FERRY, "agent", "--listen", f"{self.address}:{port}", "--state-dir", self.state_dir,
               "--host-name", self.name, "--ram-dir", self.ram_dir, *self.extra]
        # Agents without a TLS identity talk plain TCP between test namespaces, and say so.
        if not any(a.startswith("--tls-") or a == "--insecure" for a in self.extra):
            cmd.append("--insecure")
            log(f"{self.name}: peers over plain TCP (--insecure)")
        if os.environ.get("FERRY_AGENT_WRAP"):
            cmd = os.environ["FERRY_AGENT_WRAP"].split() + cmd
        if self.netns:
            cmd = ["ip", "netns", "exec", self.netns] + cmd
        self.logfile = open(os.path.join(self.state_dir, "agent.log"), "ab")
        info = os.path.join(self.state_dir, "agent.json")
        if os.path.exists(info):
            os.unlink(info)
        self.proc = subprocess.Popen(cmd, stdout=self.logfile, stderr=subprocess.STDOUT)
        deadline = time.time() + (90 if os.environ.get("FERRY_AGENT_WRAP") else 10)
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"agent {self.name} exited with {self.proc.returncode}: {self.log_tail()}")
            try:
                with open(info) as f:
                    self.port = json.load(f)["port"]
                return self
            except (OSError, ValueError, KeyError):
                time.sleep(0.02)
        raise RuntimeError(f"agent {self.name} did not start: {self.log_tail()}")

    @property
    def endpoint(self):
        return f"{self.address}:{self.port}"

    def log_tail(self, lines=20):
        try:
            with open(os.path.join(self.state_dir, "agent.log"), errors="replace") as f:
                return "".join(f.readlines()[-lines:])
        except OSError:
            return ""

    def api(self, method, path, body=None, timeout=120):
        conn = UnixHTTPConnection(os.path.join(self.state_dir, "api.sock"), timeout=timeout)
        payload = json.dumps(body) if body is not None else None
        conn.request(method, path, body=payload, headers={"Content-Type": "application/json"})
        r = conn.getresponse()
        data = r.read().decode()
        conn.close()
        return r.status, (json.loads(data) if data.strip() else None)

    def events(self, migration_id, timeout=600):
        """Yields the migration's events as they come."""
        conn = UnixHTTPConnection(os.path.join(self.state_dir, "api.sock"), timeout=timeout)
        conn.request("GET", f"/v1/migrations/{migration_id}/events")
        r = conn.getresponse()
        buf = b""
        while True:
            chunk = r.read1(65536) if hasattr(r, "read1") else r.read(4096)
            if not chunk:
                break
            buf += chunk
            while b"\n" in buf:
                line, buf = buf.split(b"\n", 1)
                if line.strip():
                    yield json.loads(line)
        conn.close()

    def start_sim(self, name, memory, dirty_rate, pattern="uniform", seed=7, **spec):
        status, body = self.api("POST", "/v1/vms", {"kind": "sim", "spec": {
            "name": name, "memory": memory, "dirty_rate_mib": dirty_rate, "pattern": pattern, "seed": seed,
            **spec}})
        assert status == 201, f"starting {name} on {self.name}: {status} {body}"
        return body

    def vm(self, name):
        status, body = self.api("GET", f"/v1/vms/{name}")
        return body if status == 200 else None

    def verify(self, name):
        status, body = self.api("POST", f"/v1/vms/{name}/verify", timeout=300)
        assert status == 200, f"verify {name} on {self.name}: {status} {body}"
        return body

    def migrate(self, vm, to, **options):
        status, body = self.api("POST", "/v1/migrations", {"vm": vm, "to": to, **options})
        assert status == 202, f"migrate {vm}: {status} {body}"
        return body["id"]

    def wait_migration(self, migration_id, on_event=None, timeout=600):
        final = None
        for event in self.events(migration_id, timeout=timeout):
            if on_event:
                on_event(event)
            if event.get("event") in ("completed", "failed"):
                final = event["stats"]
        if final is None:
            status, body = self.api("GET", f"/v1/migrations/{migration_id}")
            final = body["stats"]
        return final

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc:
            self.logfile.close()

    def kill(self):
        """SIGKILL, as a crashed agent: no clean-up of its own."""
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


class Topology:
    """Two hosts A and B: network namespaces joined by veth when possible, else loopback."""

    def __init__(self, tag, use_netns=True, ram_dir_b=None, agent_extra_b=(), agent_extra_a=()):
        self.tag = f"{tag}{os.getpid() % 100000}"
        self.workdir = tempfile.mkdtemp(prefix=f"ferry-it-{tag}-")
        self.namespaces = []
        self.mounts = []
        self.agents = []
        self.processes = []
        self.ram_dir_b = ram_dir_b
        self.agent_extra_b = agent_extra_b
        self.agent_extra_a = agent_extra_a
        ok, why = can_use_netns() if use_netns else (False, "loopback requested")
        self.netns = ok
        if not ok:
            log(f"hosts on loopback, not in network namespaces: {why}")

    def __enter__(self):
        try:
            if self.netns:
                a, b = f"ferry-test-{self.tag}-a", f"ferry-test-{self.tag}-b"
                for ns in (a, b):
                    subprocess.run(["ip", "netns", "add", ns], check=True)
                    self.namespaces.append(ns)
                    subprocess.run(["ip", "-n", ns, "link", "set", "lo", "up"], check=True)
                va, vb = f"fva{os.getpid()}"[:15], f"fvb{os.getpid()}"[:15]
                subprocess.run(["ip", "link", "add", va, "netns", a, "type", "veth", "peer", vb, "netns", b], check=True)
                subprocess.run(["ip", "-n", a, "addr", "add", "10.231.0.1/24", "dev", va], check=True)
                subprocess.run(["ip", "-n", b, "addr", "add", "10.231.0.2/24", "dev", vb], check=True)
                subprocess.run(["ip", "-n", a, "link", "set", va, "up"], check=True)
                subprocess.run(["ip", "-n", b, "link", "set", vb, "up"], check=True)
                self.a = Agent("host-a", self.workdir, "10.231.0.1", netns=a, extra=self.agent_extra_a)
                self.b = Agent("host-b", self.workdir, "10.231.0.2", netns=b, ram_dir=self.ram_dir_b,
                               extra=self.agent_extra_b)
                log(f"hosts: {a} (10.231.0.1) and {b} (10.231.0.2) joined by veth")
            else:
                self.a = Agent("host-a", self.workdir, "127.0.0.1", extra=self.agent_extra_a)
                self.b = Agent("host-b", self.workdir, "127.0.0.1", ram_dir=self.ram_dir_b,
                               extra=self.agent_extra_b)
            self.agents = [self.a, self.b]
            self.a.start()
            self.b.start()
            return self
        except BaseException:
            self.__exit__(None, None, None)
            raise

    def run_in(self, agent, cmd, **kwargs):
        if agent.netns:
            cmd = ["ip", "netns", "exec", agent.netns] + cmd
        return subprocess.run(cmd, **kwargs)

    def popen_in(self, agent, cmd, **kwargs):
        if agent.netns:
            cmd = ["ip", "netns", "exec", agent.netns] + cmd
        p = subprocess.Popen(cmd, **kwargs)
        self.processes.append(p)
        return p

    def tmpfs(self, size):
        """A small tmpfs of our own (root only), unmounted at exit."""
        path = tempfile.mkdtemp(prefix="ferry-it-tmpfs-")
        subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", path], check=True)
        self.mounts.append(path)
        return path

    def __exit__(self, *exc):
        for agent in self.agents:
            try:
                agent.stop()
            except Exception as e:  # keep cleaning up
                log(f"stopping {agent.name}: {e}")
        # Guests of an agent that crashed outlive it: stop every process that names our directories.
        mine = [self.workdir] + [a.ram_dir for a in self.agents]
        for pid in os.listdir("/proc"):
            if not pid.isdigit() or int(pid) == os.getpid():
                continue
            try:
                with open(f"/proc/{pid}/cmdline", "rb") as f:
                    cmdline = f.read().decode(errors="replace")
            except OSError:
                continue
            if any(d in cmdline for d in mine):
                try:
                    os.kill(int(pid), signal.SIGKILL)
                except OSError:
                    pass
        for p in self.processes:
            if p.poll() is None:
                p.kill()
                p.wait()
        for ns in self.namespaces:
            subprocess.run(["ip", "netns", "del", ns], capture_output=True)
        for agent in self.agents:
            if agent.ram_dir.startswith("/dev/shm/ferry-it-"):
                subprocess.run(["rm", "-rf", agent.ram_dir])
        for m in self.mounts:
            subprocess.run(["umount", m], capture_output=True)
            os.rmdir(m)
        if not os.environ.get("FERRY_KEEP_WORKDIR"):
            subprocess.run(["rm", "-rf", self.workdir])
        return False


class Checks:
    """Counts assertions so every test ends with 'N passed, N failed'."""

    def __init__(self):
        self.passed = 0
        self.failed = 0

    def check(self, condition, what):
        if condition:
            self.passed += 1
            log(f"ok: {what}")
        else:
            self.failed += 1
            log(f"FAILED: {what}")
        return condition

    def finish(self):
        print(f"{self.passed} passed, {self.failed} failed", flush=True)
        sys.exit(1 if self.failed else 0)
