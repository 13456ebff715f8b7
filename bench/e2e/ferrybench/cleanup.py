"""Everything the benchmark starts or creates, undone in reverse order: processes by PID, network
namespaces by name, files and directories by path. Runs at normal exit, on an exception, on Ctrl-C
and on SIGTERM (the handler turns the signal into KeyboardInterrupt so `finally` blocks run)."""
import os
import shutil
import signal
import subprocess
import time

from ferrybench.log import log


def pid_alive(pid):
    try:
        os.kill(pid, 0)
        return True
    except ProcessLookupError:
        return False
    except PermissionError:
        return True


def pid_runs(pid, program_substring):
    """The PID exists and still runs the program we started (guards against PID reuse)."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return program_substring.encode() in f.read()
    except OSError:
        return False


def stop_pid(pid, grace_s=10.0, program_substring=None):
    """SIGTERM, then SIGKILL after grace_s; only if the PID still runs what we started."""
    if program_substring is not None and not pid_runs(pid, program_substring):
        return
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.time() + grace_s
    while time.time() < deadline:
        if not pid_alive(pid) or (program_substring and not pid_runs(pid, program_substring)):
            return
        time.sleep(0.05)
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def pids_with_argument(marker):
    """PIDs whose command line contains marker (a path unique to this run)."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                if marker.encode() in f.read():
                    found.append(int(entry))
        except OSError:
            pass
    return found


def stop_process(proc, grace_s=10.0):
    """Stops a subprocess.Popen by its PID and reaps it."""
    if proc.poll() is None:
        try:
            proc.send_signal(signal.SIGTERM)
            proc.wait(grace_s)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        except ProcessLookupError:
            pass


class Cleanup:
    """A stack of undo actions; `undo_all` runs each once, newest first, and keeps going on errors."""

    def __init__(self):
        self._actions = []

    def push(self, what, action):
        entry = (what, action)
        self._actions.append(entry)
        return entry

    def done(self, entry):
        """The caller undid it itself (e.g. a VM stopped after its run)."""
        if entry in self._actions:
            self._actions.remove(entry)

    def process(self, proc, what, grace_s=10.0):
        return self.push(f"stop {what} (pid {proc.pid})", lambda: stop_process(proc, grace_s))

    def pid(self, pid, what, program_substring):
        return self.push(f"stop {what} (pid {pid})",
                         lambda: stop_pid(pid, program_substring=program_substring))

    def processes_using(self, marker, what):
        """Stops, by PID, whatever still runs with `marker` on its command line (guests a crashed
        agent left behind: their RAM file lives in this run's own directory)."""
        def sweep():
            for pid in pids_with_argument(marker):
                log(f"cleanup: stopping leftover {what} process {pid}")
                stop_pid(pid, grace_s=5, program_substring=marker)

        return self.push(f"stop leftover {what} processes ({marker})", sweep)

    def namespace(self, name):
        return self.push(f"remove network namespace {name}",
                         lambda: subprocess.run(["ip", "netns", "del", name], capture_output=True))

    def path(self, path):
        def remove():
            if os.path.isdir(path) and not os.path.islink(path):
                shutil.rmtree(path, ignore_errors=True)
            elif os.path.lexists(path):
                os.unlink(path)

        return self.push(f"remove {path}", remove)

    def undo(self, entry):
        """Runs one action now and forgets it."""
        if entry in self._actions:
            self._actions.remove(entry)
            entry[1]()

    def undo_all(self):
        while self._actions:
            what, action = self._actions.pop()
            try:
                action()
            except Exception as e:  # keep cleaning up
                log(f"cleanup: {what}: {e}")


def install_signal_handlers():
    """Ctrl-C, SIGTERM and SIGHUP end the run with KeyboardInterrupt, so every cleanup action runs
    (also when started in the background, where the shell ignores SIGINT for us)."""

    def interrupt(signum, _frame):
        raise KeyboardInterrupt(f"signal {signum}")

    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, interrupt)
