"""A QEMU process running ferry-test-guest.elf, RAM in a /dev/shm file (memory-backend-file,
share=on: the same layout ferry's own QEMU guests use), QMP and serial console on unix sockets."""
import os
import re
import subprocess
import time

from ferrybench.cleanup import stop_pid
from ferrybench.qmp import Qmp

_FILLED = re.compile(r"FILLED pages=(\d+) ms=(\d+)")
_HEARTBEAT = re.compile(r"HB (\d+) (\d+)")


def choose_accelerator(requested):
    """(accel, why). /dev/kvm here may be kvm_pvm, a software hypervisor slower than TCG, so "auto"
    takes KVM only with a hardware vendor module."""
    if requested in ("tcg", "kvm"):
        return requested, "requested"
    for vendor in ("kvm_intel", "kvm_amd"):
        if os.path.isdir(f"/sys/module/{vendor}") and os.access("/dev/kvm", os.R_OK | os.W_OK):
            return "kvm", f"{vendor} drives /dev/kvm"
    if os.path.isdir("/sys/module/kvm_pvm"):
        return "tcg", "/dev/kvm is kvm_pvm (software), slower than TCG"
    return "tcg", "no hardware KVM"


class QemuGuest:
    def __init__(self, name, path, side, run_dir, ram_path, memory_bytes, kernel, append, accel,
                 incoming=False):
        self.name = name
        self.run_dir, self.ram_path = run_dir, ram_path
        os.makedirs(run_dir, exist_ok=True)
        self.qmp_socket = os.path.join(run_dir, "qmp.sock")
        self.serial_socket = os.path.join(run_dir, "serial.sock")
        self.serial_log = os.path.join(run_dir, "serial.log")
        mib = memory_bytes >> 20
        cmd = ["qemu-system-x86_64", "-name", name, "-accel", accel,
               "-machine", "pc,memory-backend=mem", "-m", str(mib), "-smp", "1",
               "-display", "none", "-nodefaults", "-no-user-config",
               "-object", f"memory-backend-file,id=mem,size={mib}M,mem-path={ram_path},share=on",
               "-qmp", f"unix:{self.qmp_socket},server=on,wait=off",
               "-chardev", f"socket,id=ser0,path={self.serial_socket},server=on,wait=off,"
                           f"logfile={self.serial_log}",
               "-serial", "chardev:ser0", "-kernel", kernel, "-append", append]
        if accel == "kvm":
            cmd += ["-cpu", "host,-arch-capabilities"]
        if incoming:
            # Capabilities (multifd) must be set before the destination listens: defer, then
            # migrate-incoming with the tcp: URI.
            cmd += ["-incoming", "defer"]
        self.qemu_log = open(os.path.join(run_dir, "qemu.log"), "w")
        self.proc = subprocess.Popen(path.wrap(side, cmd), stdout=self.qemu_log,
                                     stderr=subprocess.STDOUT, start_new_session=True)
        try:
            self.qmp = Qmp(self.qmp_socket, is_alive=lambda: self.proc.poll() is None)
        except Exception:
            self.stop()
            raise

    @property
    def pid(self):
        return self.proc.pid

    def serial(self):
        try:
            with open(self.serial_log, "rb") as f:
                return f.read().decode(errors="replace")
        except OSError:
            return ""

    def qemu_output(self):
        try:
            with open(os.path.join(self.run_dir, "qemu.log"), errors="replace") as f:
                return f.read()[-400:]
        except OSError:
            return ""

    def wait_filled(self, timeout_s):
        """Seconds the guest took to write all its memory once."""
        deadline = time.time() + timeout_s
        while time.time() < deadline:
            m = _FILLED.search(self.serial())
            if m:
                return int(m.group(2)) / 1000
            if self.proc.poll() is not None:
                raise RuntimeError(f"QEMU {self.name} exited ({self.proc.returncode}) before filling its "
                                   f"memory: {self.qemu_output()}")
            time.sleep(0.05)
        raise RuntimeError(f"QEMU {self.name}: no FILLED line in {self.serial_log} within {timeout_s:.0f} s")

    def heartbeat_writes(self):
        beats = _HEARTBEAT.findall(self.serial()[-16384:])
        return int(beats[-1][1]) if beats else None

    def stop(self):
        """quit over QMP, then SIGTERM/SIGKILL by PID; removes the RAM file."""
        if self.proc.poll() is None:
            try:
                self.qmp.command("quit")
            except Exception:
                pass
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                stop_pid(self.proc.pid, grace_s=5)
                self.proc.wait()
        if hasattr(self, "qmp"):
            self.qmp.close()
        self.qemu_log.close()
        if os.path.exists(self.ram_path):
            os.unlink(self.ram_path)
