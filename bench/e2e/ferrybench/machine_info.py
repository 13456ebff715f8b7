"""What the figures were measured on: CPU, memory, kernel, versions, git commit, and how busy the
machine was (other work on a shared 2-core machine changes every figure)."""
import os
import platform
import subprocess
import time


def _first_line(cmd):
    try:
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=10)
        return (r.stdout or r.stderr).strip().splitlines()[0]
    except (OSError, IndexError, subprocess.TimeoutExpired):
        return None


def _cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or None


def mem_available_bytes():
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    return 0


def shm_free_bytes(path="/dev/shm"):
    st = os.statvfs(path)
    return st.f_bavail * st.f_frsize


def busy_fraction(seconds=1.0):
    """Share of all CPU time that was busy over `seconds` (before we start anything)."""
    def sample():
        with open("/proc/stat") as f:
            values = [int(v) for v in f.readline().split()[1:]]
        idle = values[3] + values[4]  # idle + iowait
        return sum(values), idle

    total0, idle0 = sample()
    time.sleep(seconds)
    total1, idle1 = sample()
    return round(1 - (idle1 - idle0) / max(1, total1 - total0), 3)


def load_average():
    return [round(v, 2) for v in os.getloadavg()]


def machine_info(repo):
    return {
        "hostname": platform.node(),
        "cpu": _cpu_model(),
        "cpus": os.cpu_count(),
        "memory_bytes": os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"),
        "kernel": platform.release(),
        "qemu": _first_line(["qemu-system-x86_64", "--version"]),
        "iperf3": _first_line(["iperf3", "--version"]),
        "python": platform.python_version(),
    }


def git_commit(repo):
    commit = _first_line(["git", "-C", repo, "rev-parse", "HEAD"])
    dirty = subprocess.run(["git", "-C", repo, "status", "--porcelain", "--untracked-files=no"],
                           capture_output=True, text=True).stdout.strip()
    return {"commit": commit, "uncommitted_changes": bool(dirty)}
