#!/usr/bin/env python3
"""A QEMU guest writing to its disk moves between hosts and keeps writing; the disk, read back,
holds its whole write sequence.

    test_storage_qemu.py nfs|iscsi|local

nfs and iscsi: the disk is shared, read back through libnfs or libiscsi. local: the disk is a file
only its host sees (driver "local"); the migration copies it live (QEMU's drive-mirror into the
destination's NBD export, completed at switchover), the source's stale copy is removed after the
move, a destination that already has such a file refuses before the guest is touched, and the job
reports the copy's progress ("disk" in its statistics).

The storage server runs in host A's namespace: nfs-ganesha (scripts/fixtures/nfs-server) or tgtd
(scripts/fixtures/iscsi-target). Each agent maps the pool's repository "sr1" to its own access (for
iSCSI, its own initiator IQN). The test guest (tests/guest) boots with disk=1: it writes
sequence-numbered sectors to its IDE disk (the NFS image or the iSCSI LUN, opened by QEMU's own
libnfs/libiscsi drivers with the drive specification the storage driver produced) and flushes
after every batch; its serial console answers "d" (status), "dr N" (rate) and "dv" (read back).

Checks: the guest writes on A; it migrates A -> B with verification while writing; on B its
drive is the one B's driver attached and the sequence keeps growing; then back B -> A the same
way. Finally the writer stops ("dr 0"), the guest reads its area back ("dv"), and the disk, read
from the host through libnfs/libiscsi (qemu-img convert with nfs:// / iscsi:// URLs), holds every
sequence number up to the last one written, in order, none lost, duplicated or torn, across both
moves (tests/integration/guest_disk.py).
"""
import json
import os
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(__file__))
from ferrytest import Checks, Topology, can_use_netns, log  # noqa: E402
from guest_disk import check_image, parse_status  # noqa: E402
from test_qemu_support import GUEST_KERNEL, MiB, host_log, skip_unless_qemu  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
FIXTURES = os.path.join(HERE, "..", "..", "scripts", "fixtures")
KIND = sys.argv[1] if len(sys.argv) > 1 else ""
if KIND not in ("nfs", "iscsi", "local"):
    print("usage: test_storage_qemu.py nfs|iscsi|local", file=sys.stderr)
    sys.exit(2)

skip_unless_qemu()
ok, why = can_use_netns()
if not ok:
    print(f"SKIPPED: needs network namespaces for the storage host: {why}", flush=True)
    sys.exit(0)
tools = {"nfs": ("ganesha.nfsd", "rpcbind"), "iscsi": ("tgtd", "tgtadm"), "local": ()}[KIND]
for tool in tools:
    if not any(os.access(os.path.join(d, tool), os.X_OK) for d in ("/usr/bin", "/usr/sbin", "/bin", "/sbin")):
        print(f"SKIPPED: {tool} is not installed", flush=True)
        sys.exit(0)

SERVER_IP = "10.231.0.1"  # host A's address in the topology
DISK_MIB = 16
AREA_MIB = 4
TARGET = "iqn.2026-11.ferry.test:qemu-disk"
CTL = 60 + os.getpid() % 30
PORTAL = f"{SERVER_IP}:3260"
INITIATORS = {"a": "iqn.2026-11.ferry.pool:host-a", "b": "iqn.2026-11.ferry.pool:host-b"}

c = Checks()
storage = tempfile.mkdtemp(prefix=f"ferry-it-{KIND}q-storage-")
confdir = tempfile.mkdtemp(prefix=f"ferry-it-{KIND}q-conf-")
server_started = False


def disk_dir(host):
    return os.path.join(storage, f"host-{host}-disks")


def host_config(host):
    if KIND == "local":
        return {"resources": {"local": {"directory": disk_dir(host)}}}
    if KIND == "nfs":
        return {"resources": {"nfs": {"repositories": {"sr1": {"server": SERVER_IP, "export": "/export"}}}}}
    return {"resources": {"iscsi": {"initiator": INITIATORS[host],
                                    "repositories": {"sr1": {"portals": [PORTAL]}}}}}


def disk_resource():
    if KIND == "local":
        return {"id": "disk0", "driver": "local", "image": "vm1/disk0.img"}
    if KIND == "nfs":
        return {"id": "disk0", "driver": "nfs", "sr": "sr1", "image": "vm1/disk0.img"}
    return {"id": "disk0", "driver": "iscsi", "sr": "sr1", "target": TARGET, "lun": 1}


def console(agent, line, expect, timeout_ms=20000):
    status, body = agent.api("POST", "/v1/vms/vm1/console",
                             {"line": line, "expect": expect, "timeout-ms": timeout_ms})
    if status != 200:
        raise RuntimeError(f"console '{line}' on {agent.name}: {status} {body}")
    return body["reply"]


def disk_status(agent):
    return parse_status(console(agent, "d", "DISK "))


def wait_written_beyond(agent, seq, timeout=60):
    """Waits until the guest on `agent` has written past sequence number `seq`."""
    deadline = time.time() + timeout
    status = {}
    while time.time() < deadline:
        status = disk_status(agent)
        if status.get("written", 0) > seq:
            return status
        time.sleep(0.3)
    return status


for host in ("a", "b"):
    with open(os.path.join(confdir, f"{host}.json"), "w") as f:
        json.dump(host_config(host), f)

try:
    with Topology(f"{KIND}q", agent_extra_a=["--config", os.path.join(confdir, "a.json")],
                  agent_extra_b=["--config", os.path.join(confdir, "b.json")]) as t:
        # --- the storage server, in host A's namespace
        if KIND == "local":
            os.makedirs(os.path.join(disk_dir("a"), "vm1"))
            with open(os.path.join(disk_dir("a"), "vm1", "disk0.img"), "wb") as f:
                f.truncate(DISK_MIB * MiB)
            started = subprocess.CompletedProcess([], 0, "", "")
            read_url = os.path.join(disk_dir("a"), "vm1", "disk0.img")
        elif KIND == "nfs":
            os.makedirs(os.path.join(storage, "export", "vm1"))
            os.makedirs(os.path.join(storage, "export-ro"))
            with open(os.path.join(storage, "export", "vm1", "disk0.img"), "wb") as f:
                f.truncate(DISK_MIB * MiB)
            started = t.run_in(t.a, [os.path.join(FIXTURES, "nfs-server"), "start", storage, SERVER_IP],
                               capture_output=True, text=True)
            read_url = f"nfs://{SERVER_IP}/export/vm1/disk0.img"
        else:
            fixture = os.path.join(FIXTURES, "iscsi-target")
            started = t.run_in(t.a, [fixture, "start", storage, str(CTL), PORTAL], capture_output=True, text=True)
            if started.returncode == 0:
                for step in (["target", storage, str(CTL), "1", TARGET],
                             ["lun", storage, str(CTL), "1", "1", f"{DISK_MIB}M"]):
                    r = subprocess.run([fixture, *step], capture_output=True, text=True)
                    assert r.returncode == 0, f"iscsi-target {step[0]}: {r.stderr}"
            read_url = f"iscsi://{PORTAL}/{TARGET}/1"
        if started.returncode == 3:
            print(f"SKIPPED: {started.stderr.strip()}", flush=True)
            sys.exit(0)
        assert started.returncode == 0, f"starting the {KIND} server: {started.stdout} {started.stderr}"
        server_started = KIND != "local"
        log(f"{KIND} storage served from {SERVER_IP} (host A's namespace); the disk is {read_url}")

        # --- the guest, writing to its shared disk on A
        spec = {"name": "vm1", "memory_bytes": 64 * MiB, "kernel": GUEST_KERNEL, "test_guest": True,
                "append": f"disk=1 drate=200 dsize={AREA_MIB}", "resources": [disk_resource()]}
        status, body = t.a.api("POST", "/v1/vms", {"kind": "qemu", "spec": spec})
        c.check(status == 201, f"vm1 starts on A with its {KIND} disk ({status} {body if status != 201 else ''})")
        if status != 201:
            c.finish()
        serial_log = body["serial_host_log"]
        boot_status = wait_written_beyond(t.a, 200)
        log(f"on A: {boot_status}")
        c.check(boot_status.get("state") == "on" and boot_status.get("errors") == 0,
                f"the guest's disk works on A (state {boot_status.get('state')}, errors {boot_status.get('errors')})")
        c.check(boot_status.get("written", 0) > 200, f"the guest writes on A (written {boot_status.get('written')})")
        boot_id = boot_status.get("id")

        if KIND == "local":
            # --- a destination that already has a file of that name refuses; nothing is lost
            squatter = os.path.join(disk_dir("b"), "vm1", "disk0.img")
            os.makedirs(os.path.dirname(squatter))
            with open(squatter, "wb") as f:
                f.write(b"someone else's disk")
            mid = t.a.migrate("vm1", t.b.endpoint)
            final = t.a.wait_migration(mid, timeout=120)
            err = final.get("error") or ""
            log(f"vm1 A -> B with a file in the way: {final.get('status')}: {err}")
            c.check(final.get("status") == "failed" and "prepare" in err and "exists already" in err,
                    "a destination already holding the image refuses in prepare")
            with open(squatter, "rb") as f:
                c.check(f.read() == b"someone else's disk", "the file on B is untouched")
            os.unlink(squatter)
            c.check((t.a.vm("vm1") or {}).get("state") == "running", "vm1 keeps running on A")
            c.check(wait_written_beyond(t.a, disk_status(t.a).get("written", 0) + 20).get("errors") == 0,
                    "and keeps writing there")

        moves = []
        for src, dst in ((t.a, t.b), (t.b, t.a)):
            before = disk_status(src)
            mid = src.migrate("vm1", dst.endpoint, verify=True)
            disk_events = []
            final = src.wait_migration(mid, timeout=300, on_event=lambda e: disk_events.append(
                (e.get("stats") or {}).get("disk")))
            log(f"vm1 {src.name} -> {dst.name}: {final.get('status')} downtime {final.get('downtime')} ms "
                f"total {final.get('total-time')} ms {final.get('error') or ''}")
            c.check(final.get("status") == "completed", f"vm1 moves {src.name} -> {dst.name} while writing")
            c.check(final.get("verification", {}).get("verified") is True, f"its memory verified on {dst.name}")
            if final.get("status") != "completed":
                break
            on_dst = dst.vm("vm1") or {}
            res = on_dst.get("resources", [])
            c.check(len(res) == 1 and res[0].get("active") is True, f"its disk is active on {dst.name}: {res}")
            cmdline = ""
            try:
                with open(f"/proc/{on_dst.get('pid')}/cmdline", "rb") as f:
                    cmdline = f.read().decode(errors="replace").replace("\0", " ")
            except OSError:
                pass
            expected = {"nfs": "nfs://" + SERVER_IP,
                        "iscsi": f"initiator-name={INITIATORS[dst.name[-1]]}",
                        "local": f"file={os.path.join(disk_dir(dst.name[-1]), 'vm1', 'disk0.img')}"}[KIND]
            c.check(expected in cmdline, f"{dst.name}'s QEMU opened the disk through {dst.name}'s own access "
                                         f"({expected})")
            if KIND == "local":
                disk = final.get("disk") or {}
                log(f"disk copy in the job's statistics: {disk}")
                c.check(disk.get("total", 0) >= DISK_MIB * MiB and disk.get("transferred") == disk.get("total"),
                        f"the job reports the disk copy, complete ({disk})")
                stale = os.path.join(disk_dir(src.name[-1]), "vm1", "disk0.img")
                c.check(not os.path.exists(stale), f"the stale copy on {src.name} is removed")
                seen = [e for e in disk_events if e]
                c.check(seen, f"progress events carry the disk copy ({len(seen)} of {len(disk_events)}; "
                              f"first {seen[0] if seen else None})")
            after = wait_written_beyond(dst, before.get("written", 0) + 200)
            log(f"on {dst.name}: {after}")
            c.check(after.get("state") == "on" and after.get("errors") == 0 and
                    after.get("written", 0) > before.get("written", 0) + 200,
                    f"the guest keeps writing on {dst.name} (written {before.get('written')} before the move, "
                    f"{after.get('written')} after; errors {after.get('errors')})")
            c.check(after.get("id") == boot_id, "same guest, same boot")
            moves.append((src.name, dst.name, final.get("downtime"), before.get("written"), after.get("written")))

        # --- stop the writer, let the guest read its area back, read the disk from the host
        home = t.a
        stopped = parse_status(console(home, "dr 0", "DRATE "))
        final_status = disk_status(home)
        log(f"writer stopped: {final_status}")
        c.check(final_status.get("written") == final_status.get("flushed"),
                f"everything written is flushed ({final_status.get('written')} / {final_status.get('flushed')})")
        dv = parse_status(console(home, "dv", "DVERIFY ", timeout_ms=120000))
        c.check(dv.get("result") == "OK", f"the guest reads its whole area back intact ({dv})")

        image = os.path.join(storage, "readback.raw")
        reader = ["qemu-img", "convert", "-O", "raw"]
        if KIND == "local":
            reader = ["cp", read_url, image]
        elif KIND == "iscsi":
            reader = ["qemu-img", "convert", "--image-opts", "-O", "raw",
                      f"driver=iscsi,transport=tcp,portal={PORTAL},target={TARGET},lun=1,"
                      f"initiator-name=iqn.2026-11.ferry.test:checker", image]
        else:
            reader = reader + [read_url, image]
        r = t.run_in(t.a, reader, capture_output=True, text=True)
        c.check(r.returncode == 0, f"the disk is read back ({' '.join(reader)}: {r.stderr.strip()})")
        if r.returncode == 0:
            result = check_image(image, flushed=final_status["flushed"], written=final_status["written"],
                                 boot_id=boot_id, start_lba=final_status.get("start"),
                                 area_sectors=final_status.get("sectors"))
            log(result.report())
            c.check(result.ok, f"the disk holds sequence 1..{final_status['written']} with no gap, duplicate "
                               f"or torn sector across {len(moves)} moves")
        for m in moves:
            log(f"move {m[0]} -> {m[1]}: downtime {m[2]} ms; sequence {m[3]} before, {m[4]} after")
        gaps = [text for _, text in host_log(serial_log) if text.startswith("ERR")]
        c.check(not gaps, f"no error on the guest's console ({gaps[:3]})")
finally:
    if KIND != "local" and (server_started or KIND == "iscsi"):
        if KIND == "nfs":
            r = subprocess.run([os.path.join(FIXTURES, "nfs-server"), "stop", storage], capture_output=True, text=True)
        else:
            r = subprocess.run([os.path.join(FIXTURES, "iscsi-target"), "stop", storage, str(CTL)],
                               capture_output=True, text=True)
        if r.returncode != 0:
            log(f"stopping the {KIND} server: {r.stdout} {r.stderr}")
    subprocess.run(["rm", "-rf", storage, confdir])
c.finish()
