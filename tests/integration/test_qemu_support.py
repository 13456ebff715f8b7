"""Shared by the QEMU integration tests (test_qemu_migrate.py, test_qemu_failures.py); not a test
itself. Starts ferry's test guest (tests/guest) under QEMU through an agent's API and reads what
the agent records about it: the serial console's host log, where each line carries the wall-clock
time it reached the host, and the guest's RAM file.
"""
import os
import shutil
import struct
import sys
import time

from ferrytest import BUILD, log

GUEST_KERNEL = os.path.abspath(os.path.join(BUILD, "ferry-test-guest.elf"))
MiB = 1 << 20
TEST_RAM_START = 16 * MiB  # the test guest's page 0 (guest-physical = RAM file offset below 3 GiB)


def skip_unless_qemu():
    """Prints "SKIPPED: <reason>" and exits 0 when QEMU or the test guest is missing."""
    if shutil.which("qemu-system-x86_64") is None:
        print("SKIPPED: qemu-system-x86_64 is not installed", flush=True)
        sys.exit(0)
    if not os.path.exists(GUEST_KERNEL):
        print(f"SKIPPED: the test guest {GUEST_KERNEL} was not built (needs gcc-multilib)", flush=True)
        sys.exit(0)


def start_guest(agent, name, memory_mib, append, timeout=120):
    """Starts a test guest on `agent` and waits until it has filled its memory."""
    spec = {"name": name, "memory_bytes": memory_mib * MiB, "kernel": GUEST_KERNEL,
            "append": append, "test_guest": True}
    started = time.time()
    status, body = agent.api("POST", "/v1/vms", {"kind": "qemu", "spec": spec})
    assert status == 201, f"starting {name} on {agent.name}: {status} {body}"
    log(f"{name}: QEMU pid {body['pid']} on {agent.name}, accelerator {body['accelerator']}")
    deadline = time.time() + timeout
    while time.time() < deadline:
        lines = host_log(body["serial_host_log"])
        filled = [text for _, text in lines if text.startswith("FILLED")]
        if filled:
            log(f"{name}: {filled[0]} ({time.time() - started:.1f} s after the start request)")
            return body
        time.sleep(0.2)
    raise RuntimeError(f"{name} did not fill its memory within {timeout} s: {agent.vm(name)}")


def host_log(path):
    """[(unix time, text)] from a serial host log ("1718000000.123456 HB 12 3400")."""
    lines = []
    try:
        with open(path, errors="replace") as f:
            for line in f:
                stamp, _, text = line.rstrip("\n").partition(" ")
                try:
                    lines.append((float(stamp), text))
                except ValueError:
                    pass
    except OSError:
        pass
    return lines


def heartbeats(lines):
    """[(time, beats, writes)] of the "HB <beats> <writes>" lines."""
    beats = []
    for at, text in lines:
        words = text.split()
        if len(words) == 3 and words[0] == "HB" and words[1].isdigit() and words[2].isdigit():
            beats.append((at, int(words[1]), int(words[2])))
    return beats


def boot_id(lines):
    for _, text in lines:
        if text.startswith("BOOT "):
            for word in text.split():
                if word.startswith("id="):
                    return int(word[3:])
    return None


def seed_in_ram(ram_path):
    """The seed the guest wrote into its first test page's header (word 3): its BOOT id."""
    with open(ram_path, "rb") as f:
        f.seek(TEST_RAM_START)
        page, gen_lo, gen_hi, seed = struct.unpack("<4I", f.read(16))
    return seed


def switchover_gap(source_lines, destination_lines):
    """The guest-visible pause: from the source's last heartbeat to the destination's first.

    Returns (gap seconds, last beat on the source, first beat on the destination) with beats as
    (time, number, writes), or None when either side printed none."""
    before, after = heartbeats(source_lines), heartbeats(destination_lines)
    if not before or not after:
        return None
    return after[0][0] - before[-1][0], before[-1], after[0]


def largest_gap(lines, since, until):
    """The largest gap (seconds) between consecutive heartbeats in [since, until]."""
    beats = [b for b in heartbeats(lines) if since <= b[0] <= until]
    return max((b[0] - a[0] for a, b in zip(beats, beats[1:])), default=0.0)


def dirty_rate_mib(lines, seconds=1.0):
    """Pages written per second over the last `seconds` of heartbeats, in MiB/s."""
    beats = heartbeats(lines)
    if len(beats) < 2:
        return 0.0
    last = beats[-1]
    first = next((b for b in beats if b[0] >= last[0] - seconds), beats[0])
    if last[0] <= first[0]:
        return 0.0
    return (last[2] - first[2]) * 4096 / MiB / (last[0] - first[0])


def qemu_pids_using(directory):
    """PIDs of QEMU processes whose command line names a file in `directory`."""
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                args = f.read().split(b"\0")
        except OSError:
            continue
        if args and args[0].endswith(b"qemu-system-x86_64") and any(
                directory.encode() in a for a in args):
            pids.append(int(entry))
    return pids


def process_gone(pid):
    """True when `pid` no longer exists (or is a zombie nobody will run again)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True


def figures(stats):
    """The headline numbers of a finished migration, for the log."""
    return (f"total {stats.get('total-time')} ms, downtime {stats.get('downtime')} ms, "
            f"{stats.get('transferred', 0) / MiB:.1f} MiB sent, rounds {stats.get('round', 0) + 1}, "
            f"setup {stats.get('setup-time')} ms, {stats.get('mbps', 0):.0f} Mbit/s last round")
