"""The test guest's disk writer under QEMU (TCG), checked from the host with guest_disk.py.

Boots ferry-test-guest.elf with an IDE disk (-drive if=ide,index=0) and disk=1, lets it write,
stops the writer and checks the image: exact sequence, then the same image with one sector
damaged in five ways, each reported at its LBA. Then: a crash (SIGKILL while writing flat out)
leaves a consistent image; the sequence continues across a migration (QEMU's own, of a stopped
VM, to a second QEMU on the same image); a guest without disk=1 does no disk I/O and its memory
check still passes; disk=1 without a drive says so and the memory check still passes.
Prints SKIPPED and exits 0 without qemu-system-x86_64 or the guest.
"""
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))
from guest_disk import SECTOR, check_image, parse_status, sector_bytes  # noqa: E402

BUILD = os.environ.get("FERRY_BUILD_DIR", os.path.join(HERE, "..", "..", "build"))
GUEST = os.path.abspath(os.path.join(BUILD, "ferry-test-guest.elf"))
MiB = 1 << 20


def log(msg):
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


class Guest:
    """One QEMU running the test guest; its serial console read by a thread, QMP on demand."""

    def __init__(self, workdir, name, append, image=None, incoming=None, memory_mib=64):
        self.name = name
        self.serial_path = os.path.join(workdir, f"{name}.serial")
        self.qmp_path = os.path.join(workdir, f"{name}.qmp")
        args = ["qemu-system-x86_64", "-name", name, "-accel", "tcg", "-machine", "pc",
                "-m", str(memory_mib), "-smp", "1", "-display", "none", "-nodefaults",
                "-no-user-config",
                "-chardev", f"socket,id=ser0,path={self.serial_path},server=on,wait=off",
                "-serial", "chardev:ser0", "-qmp", f"unix:{self.qmp_path},server=on,wait=off",
                "-kernel", GUEST, "-append", append]
        if image:
            args += ["-drive", f"file={image},format=raw,if=ide,index=0"]
        if incoming:
            args += ["-incoming", incoming]
        self.lines, self.cond = [], threading.Condition()
        self.proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        self.serial = self._connect(self.serial_path)
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()
        self.qmp = None

    def _connect(self, path, timeout=30):
        deadline = time.time() + timeout
        while True:
            sock = socket.socket(socket.AF_UNIX)
            try:
                sock.connect(path)
                return sock
            except OSError:
                sock.close()
                if self.proc.poll() is not None or time.time() > deadline:
                    raise RuntimeError(f"{self.name}: QEMU did not open {path}: "
                                       f"{self.proc.stderr.read().decode(errors='replace')}")
                time.sleep(0.05)

    def _read(self):
        pending = b""
        while True:
            try:
                data = self.serial.recv(65536)
            except OSError:
                data = b""
            if not data:
                return
            pending += data
            *complete, pending = pending.split(b"\n")
            with self.cond:
                self.lines += [line.decode(errors="replace").rstrip("\r") for line in complete]
                self.cond.notify_all()

    def wait_line(self, prefix, since=0, timeout=60):
        deadline = time.time() + timeout
        with self.cond:
            while True:
                for line in self.lines[since:]:
                    if line.startswith(prefix):
                        return line
                if time.time() > deadline or self.proc.poll() is not None:
                    raise RuntimeError(f"{self.name}: no line starting with {prefix!r} within "
                                       f"{timeout} s; last lines: {self.lines[-5:]}")
                self.cond.wait(0.2)

    def command(self, text, reply, timeout=60):
        with self.cond:
            since = len(self.lines)
        self.serial.sendall(text.encode() + b"\n")
        line = self.wait_line(reply, since, timeout)
        log(f"{self.name}: {text!r} -> {line}")
        return line

    def qmp_command(self, name, **arguments):
        if self.qmp is None:
            self.qmp = self._connect(self.qmp_path).makefile("rw")
            json.loads(self.qmp.readline())  # greeting
            self.qmp_command("qmp_capabilities")
        self.qmp.write(json.dumps({"execute": name, "arguments": arguments}) + "\n")
        self.qmp.flush()
        while True:
            reply = json.loads(self.qmp.readline())
            if "event" in reply:
                continue
            if "error" in reply:
                raise RuntimeError(f"{self.name}: QMP {name}: {reply['error']}")
            return reply["return"]

    def stop(self, sig=signal.SIGTERM):
        """Ends this QEMU (by its PID) and waits for it."""
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        for closable in (self.serial, self.qmp):
            try:
                if closable:
                    closable.close()
            except OSError:
                pass


def require(condition, what):
    if not condition:
        raise AssertionError(what)
    log(f"ok: {what}")


def disk_status(guest):
    return parse_status(guest.command("d", "DISK "))


def stop_writer(guest):
    """Stops the disk writer; returns the DISK status, where written == flushed."""
    guest.command("dr 0", "DRATE ")
    status = disk_status(guest)
    require(status["state"] == "on" and status["errors"] == 0
            and status["written"] == status["flushed"],
            f"{guest.name}: writer stopped with everything flushed, no errors "
            f"(written {status['written']}, flushed {status['flushed']})")
    return status


def make_image(path, size=32 * MiB):
    with open(path, "wb") as f:
        f.truncate(size)


def write_and_check(workdir):
    """A run that wraps its area a few times: the exact check, the memory and disk self-checks."""
    image = os.path.join(workdir, "disk.img")
    make_image(image)
    guest = Guest(workdir, "writer",
                  "disk=1 drate=2000 dsectors=2048 dbatch=16 rate=20 fill=32 tick=50", image=image)
    try:
        boot = parse_status(guest.wait_line("BOOT "))
        disk = parse_status(guest.wait_line("DISK "))
        require(disk["state"] == "on" and disk["id"] == boot["id"] and disk["sectors"] == 2048
                and disk["capacity"] == 32 * MiB // SECTOR,
                f"the guest found the disk: {disk['capacity']} sectors, area 0+{disk['sectors']}")
        guest.wait_line("FILLED")
        time.sleep(3)
        early = disk_status(guest)
        require(early["flushed"] > 0 and early["errors"] == 0,
                f"writing: {early['flushed']} flushed")
        require(guest.command("dv", "DVERIFY ").startswith("DVERIFY OK"),
                "the guest reads its area back intact while writing")
        require(guest.command("v", "VERIFY ").startswith("VERIFY OK"),
                "the memory check passes with the disk writer running")
        while disk_status(guest)["written"] < 3 * 2048:  # a few laps over the area
            time.sleep(1)
        final = stop_writer(guest)
        require(guest.command("dv", "DVERIFY ").startswith("DVERIFY OK"),
                "disk self-check after the stop")
    finally:
        guest.stop()
    exact = check_image(image, flushed=final["flushed"], written=final["written"],
                        boot_id=boot["id"], start_lba=0, area_sectors=2048)
    log(exact.report())
    require(exact.ok and exact.highest_seq == final["flushed"] and exact.intact == 2048,
            "the image holds the exact sequence up to the last flush")
    lax = check_image(image, flushed=early["flushed"])
    require(lax.ok and lax.boot_id == boot["id"],
            "the check from an earlier status (no 'written') passes")
    return image, boot["id"], final["flushed"]


def corruptions_are_found(image, boot_id, last):
    """Five copies, each with one sector damaged, and the checker names the sector."""
    with open(image, "rb") as f:
        good = f.read()
    area = 2048

    def lba_of(seq):
        return (seq - 1) % area

    def damaged(lba, content):
        data = bytearray(good)
        data[lba * SECTOR:(lba + 1) * SECTOR] = content
        return bytes(data)

    def sector(lba):
        return good[lba * SECTOR:(lba + 1) * SECTOR]

    flip_lba = lba_of(last - 700)
    flipped = bytearray(sector(flip_lba))
    flipped[300] ^= 0x10
    torn_lba = lba_of(last - 5)
    half = sector_bytes(boot_id, last - 5 - area, 0, area)
    cases = [
        ("a flipped bit", flip_lba, bytes(flipped), "torn"),
        ("a torn sector (second half from the previous lap)", torn_lba,
         sector(torn_lba)[:256] + half[256:], "torn"),
        ("a stale sector (the previous lap's write)", lba_of(last - 100),
         sector_bytes(boot_id, last - 100 - area, 0, area), "lost"),
        ("a zeroed sector", lba_of(last - 1500), bytes(SECTOR), "missing"),
        ("a sector copied over its neighbour", lba_of(last - 30) + 1, sector(lba_of(last - 30)),
         "duplicate"),
    ]
    for what, lba, content, kind in cases:
        result = check_image(damaged(lba, content), flushed=last, written=last)
        log(f"{what} at LBA {lba}: {result.report()}")
        require(not result.ok and result.counts.get(kind) and
                any(f"LBA {lba} " in p and p.startswith(kind) for p in result.problems),
                f"{what} at LBA {lba} is reported as {kind}")


def crash_leaves_a_consistent_image(workdir, image):
    """SIGKILL while writing flat out: everything flushed is there, at most a batch is not."""
    guest = Guest(workdir, "crash", "disk=1 drate=-1 dstart=4096 dsectors=4096 dbatch=32 fill=16",
                  image=image)
    try:
        guest.wait_line("FILLED")
        time.sleep(3)
        status = disk_status(guest)
        time.sleep(0.5)
    finally:
        guest.stop(signal.SIGKILL)
    require(status["flushed"] > 0 and status["start"] == 4096,
            f"flat out: {status['flushed']} flushed")
    result = check_image(image, flushed=status["flushed"], boot_id=status["id"], start_lba=4096,
                         area_sectors=4096)
    log(result.report())
    require(result.ok and result.highest_seq >= status["flushed"],
            "after a kill mid-write the image holds the sequence without a gap")


def sequence_continues_across_migration(workdir):
    """QEMU's own migration of the stopped guest to a second QEMU on the same image."""
    image = os.path.join(workdir, "migrate.img")
    state = os.path.join(workdir, "migrate.state")
    make_image(image, 8 * MiB)
    append = "disk=1 drate=1000 dsize=1 dbatch=8 rate=10 fill=16 tick=50"
    source = Guest(workdir, "source", append, image=image)
    try:
        boot_id = parse_status(source.wait_line("BOOT "))["id"]
        source.wait_line("FILLED")
        time.sleep(2)
        before = disk_status(source)
        source.qmp_command("stop")
        source.qmp_command("migrate", uri=f"exec:cat > {state}")
        deadline = time.time() + 60
        while (status := source.qmp_command("query-migrate").get("status")) != "completed":
            if status == "failed" or time.time() > deadline:
                raise RuntimeError(f"the migration to {state} did not complete: {status}")
            time.sleep(0.1)
    finally:
        source.stop()
    destination = Guest(workdir, "destination", append, image=image, incoming=f"exec:cat {state}")
    try:
        deadline = time.time() + 60
        while destination.qmp_command("query-status")["status"] == "inmigrate":
            if time.time() > deadline:
                raise RuntimeError("the destination did not load the migration stream")
            time.sleep(0.1)
        destination.qmp_command("cont")
        first = disk_status(destination)
        require(first["id"] == boot_id and first["written"] >= before["written"] > 0,
                f"the destination continues boot {boot_id}'s sequence at {first['written']} "
                f"(the source had written {before['written']} before it stopped)")
        time.sleep(2)
        final = stop_writer(destination)
        require(final["written"] > first["written"], f"and goes on writing (to {final['written']})")
        require(destination.command("v", "VERIFY ").startswith("VERIFY OK"),
                "the memory check passes after the move")
        require(destination.command("dv", "DVERIFY ").startswith("DVERIFY OK"),
                "the disk self-check passes after the move")
    finally:
        destination.stop()
    result = check_image(image, flushed=final["flushed"], written=final["written"], boot_id=boot_id)
    log(result.report())
    require(result.ok, "the image holds one sequence across source and destination")


def no_disk_option_changes_nothing(workdir):
    image = os.path.join(workdir, "untouched.img")
    make_image(image, 4 * MiB)
    guest = Guest(workdir, "nodisk", "rate=20 fill=32 tick=50", image=image)
    try:
        guest.wait_line("FILLED")
        time.sleep(1)
        require(not any(line.startswith("DISK") for line in guest.lines), "no DISK line at boot")
        require(guest.command("d", "DISK ") == "DISK state=off", "'d' says the disk is off")
        require(guest.command("dr 5", "ERR ").startswith("ERR disk is off"), "'dr' is refused")
        require(guest.command("s", "STATUS ").startswith("STATUS writes="), "'s' answers as before")
        require(guest.command("r 30", "RATE ").startswith("RATE rate=30"), "'r' answers as before")
        require(guest.command("v", "VERIFY ").startswith("VERIFY OK"), "the memory check passes")
        beats = [line.split() for line in guest.lines if line.startswith("HB ")]
        require(beats and all(len(b) == 3 and b[1].isdigit() and b[2].isdigit() for b in beats),
                f"heartbeats keep their form ({len(beats)} 'HB <n> <writes>' lines)")
    finally:
        guest.stop()
    with open(image, "rb") as f:
        require(not any(f.read()), "the disk was not written")


def disk_without_drive_fails_cleanly(workdir):
    guest = Guest(workdir, "nodrive", "disk=1 rate=20 fill=16 tick=50")
    try:
        disk = parse_status(guest.wait_line("DISK "))
        require(disk["state"] == "failed" and disk["last_error"] == "identify-no-drive",
                f"disk=1 without a drive: {disk['state']}, {disk['last_error']}")
        guest.wait_line("FILLED")
        require(guest.command("v", "VERIFY ").startswith("VERIFY OK"), "the memory check passes")
    finally:
        guest.stop()


def main():
    if shutil.which("qemu-system-x86_64") is None:
        print("SKIPPED: qemu-system-x86_64 is not installed", flush=True)
        return 0
    if not os.path.exists(GUEST):
        print(f"SKIPPED: the test guest {GUEST} was not built (needs gcc-multilib)", flush=True)
        return 0
    workdir = tempfile.mkdtemp(prefix="ferry-guest-disk-")
    try:
        image, boot_id, last = write_and_check(workdir)
        corruptions_are_found(image, boot_id, last)
        crash_leaves_a_consistent_image(workdir, image)
        sequence_continues_across_migration(workdir)
        no_disk_option_changes_nothing(workdir)
        disk_without_drive_fails_cleanly(workdir)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    log("PASS")
    return 0


if __name__ == "__main__":
    sys.exit(main())
