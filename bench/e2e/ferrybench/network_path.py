"""The network path between the two "hosts" of a benchmark: loopback in this namespace, or two
network namespaces (ferry-bench-<pid>-a/-b) joined by a veth pair. Every measurement of one path
(raw TCP, ferry, QEMU) runs over exactly the same link."""
import itertools
import os
import socket
import subprocess

from ferrybench.log import log


def netns_usable():
    """(True, "") when we may create namespaces, else (False, why)."""
    if os.geteuid() != 0:
        return False, "not root"
    probe = f"ferry-bench-probe-{os.getpid()}"
    r = subprocess.run(["ip", "netns", "add", probe], capture_output=True, text=True)
    if r.returncode != 0:
        return False, f"ip netns add failed: {r.stderr.strip()}"
    subprocess.run(["ip", "netns", "del", probe], capture_output=True)
    return True, ""


class LoopbackPath:
    """Both hosts on 127.0.0.1 of the benchmark's own namespace."""

    name = "loopback"
    description = "loopback (127.0.0.1), both hosts in one network namespace"

    def setup(self, cleanup):
        return self

    def address(self, side):
        return "127.0.0.1"

    def wrap(self, side, cmd):
        return list(cmd)

    def free_port(self):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            return s.getsockname()[1]


class VethPath:
    """Hosts A and B in namespaces of their own, joined by veth (10.232.0.1 <-> 10.232.0.2)."""

    name = "veth"
    description = "veth pair between two network namespaces (10.232.0.1 -> 10.232.0.2)"
    _addresses = {"a": "10.232.0.1", "b": "10.232.0.2"}

    def __init__(self):
        tag = os.getpid()
        self.namespaces = {"a": f"ferry-bench-{tag}-a", "b": f"ferry-bench-{tag}-b"}
        self._ports = itertools.count(7600)

    def setup(self, cleanup):
        va, vb = f"fba{os.getpid()}"[:15], f"fbb{os.getpid()}"[:15]
        for side, ns in self.namespaces.items():
            self._run(["ip", "netns", "add", ns])
            cleanup.namespace(ns)  # deleting the namespace also deletes its veth end
            self._run(["ip", "-n", ns, "link", "set", "lo", "up"])
        a, b = self.namespaces["a"], self.namespaces["b"]
        self._run(["ip", "link", "add", va, "netns", a, "type", "veth", "peer", vb, "netns", b])
        self._run(["ip", "-n", a, "addr", "add", f"{self._addresses['a']}/24", "dev", va])
        self._run(["ip", "-n", b, "addr", "add", f"{self._addresses['b']}/24", "dev", vb])
        self._run(["ip", "-n", a, "link", "set", va, "up"])
        self._run(["ip", "-n", b, "link", "set", vb, "up"])
        log(f"path veth: {a} ({self._addresses['a']}) <-> {b} ({self._addresses['b']})")
        return self

    @staticmethod
    def _run(cmd):
        r = subprocess.run(cmd, capture_output=True, text=True)
        if r.returncode != 0:
            raise RuntimeError(f"setting up the veth path: `{' '.join(cmd)}` failed: {r.stderr.strip()}")

    def address(self, side):
        return self._addresses[side]

    def wrap(self, side, cmd):
        # `ip netns exec` execs the command, so the PID we get is the program's own.
        return ["ip", "netns", "exec", self.namespaces[side], *cmd]

    def free_port(self):
        return next(self._ports)  # fresh namespaces: nothing else listens there


def make_path(name):
    if name == "loopback":
        return LoopbackPath()
    if name == "veth":
        return VethPath()
    raise ValueError(f"unknown path '{name}' (known: loopback, veth)")
