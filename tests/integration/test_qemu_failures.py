"""Failures on the destination of a QEMU guest's migration. Whatever breaks before B resumes the
guest, the migration fails, the guest keeps running on A and verifies, and B keeps nothing.

usage: test_qemu_failures.py SCENARIO
  dest-qemu-killed        B's waiting QEMU is killed during pre-copy
  device-state-refused    B's QEMU refuses the device state: a proxy between A and B rewrites the
                          DEVICE_STATE record (its QEMU stream magic) and fixes the record's CRC,
                          so ferry carries it intact and only QEMU can notice
       test_qemu_failures.py proxy LISTEN_PORT TARGET_HOST TARGET_PORT   (used by the above)
"""
import asyncio
import os
import signal
import struct
import subprocess
import sys
import time

MiB = 1 << 20
DEVICE_STATE = 0x0012
HEADER = struct.Struct("<HHII")  # type, flags, length, crc32c (docs/protocol.md)


def crc32c_table():
    table = []
    for n in range(256):
        crc = n
        for _ in range(8):
            crc = (crc >> 1) ^ 0x82F63B78 if crc & 1 else crc >> 1
        table.append(crc)
    return table


CRC_TABLE = crc32c_table()


def crc32c(data, crc=0xFFFFFFFF):
    for byte in data:
        crc = CRC_TABLE[(crc ^ byte) & 0xFF] ^ (crc >> 8)
    return crc


def finish_crc(crc):
    return crc ^ 0xFFFFFFFF


assert finish_crc(crc32c(b"123456789")) == 0xE3069283


async def forward(reader, writer):
    try:
        while data := await reader.read(1 << 20):
            writer.write(data)
            await writer.drain()
    except (ConnectionError, asyncio.CancelledError):
        pass
    finally:
        writer.close()


async def forward_records(reader, writer):
    """Forwards whole records; the first DEVICE_STATE chunk gets a broken QEMU stream magic."""
    try:
        while True:
            header = await reader.readexactly(HEADER.size)
            kind, flags, length, crc = HEADER.unpack(header)
            payload = await reader.readexactly(length)
            if kind == DEVICE_STATE and struct.unpack_from("<Q", payload, 0)[0] == 0:
                data = bytearray(payload)
                data[16:20] = b"XXXX"  # QEMU's stream starts with "QEVM"
                payload = bytes(data)
                crc = finish_crc(crc32c(payload, crc32c(header[:8])))
                header = HEADER.pack(kind, flags, length, crc)
                print(f"rewrote the device state's first chunk ({length} bytes), CRC fixed", flush=True)
            writer.write(header + payload)
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError, asyncio.CancelledError):
        pass
    finally:
        writer.close()


def run_proxy(port, host, target_port):
    count = 0

    async def handle(reader, writer):
        nonlocal count
        index, count = count, count + 1
        try:
            target_reader, target_writer = await asyncio.open_connection(host, target_port)
        except OSError:
            writer.close()
            return
        # The source opens its control connection first; data connections pass untouched.
        upstream = forward_records if index == 0 else forward
        await asyncio.gather(upstream(reader, target_writer), forward(target_reader, writer))

    async def main():
        server = await asyncio.start_server(handle, "127.0.0.1", port)
        print("READY", flush=True)
        async with server:
            await server.serve_forever()

    asyncio.run(main())


if len(sys.argv) == 5 and sys.argv[1] == "proxy":
    run_proxy(int(sys.argv[2]), sys.argv[3], int(sys.argv[4]))
    sys.exit(0)

from ferrytest import Checks, Topology, log  # noqa: E402
from test_qemu_support import qemu_pids_using, skip_unless_qemu, start_guest  # noqa: E402

skip_unless_qemu()
scenario = sys.argv[1]
assert scenario in ("dest-qemu-killed", "device-state-refused"), __doc__
c = Checks()


def run(t):
    guest = start_guest(t.a, "db-1", 256, "rate=20 tick=10")
    target = t.b.endpoint
    if scenario == "device-state-refused":
        proxy = t.popen_in(t.a, [sys.executable, os.path.abspath(__file__), "proxy", "17461",
                                 t.b.address, str(t.b.port)], stdout=subprocess.PIPE, text=True)
        assert proxy.stdout.readline().strip() == "READY"
        target = "127.0.0.1:17461"
        settings = {}
    else:
        # A capped bandwidth keeps pre-copy going long enough to act in the middle of it.
        settings = {"max-bandwidth": 24 * MiB}
    mid = t.a.migrate("db-1", target, streams=1, verify=True, settings=settings)

    killed = []

    def on_event(event):
        stats = event.get("stats", {})
        if scenario != "dest-qemu-killed" or killed or event.get("event") != "progress":
            return
        if stats.get("transferred", 0) < 32 * MiB:
            return
        pids = qemu_pids_using(t.b.ram_dir)
        if len(pids) != 1:
            log(f"waiting for B's QEMU (found {pids})")
            return
        os.kill(pids[0], signal.SIGKILL)
        killed.append(pids[0])
        log(f"killed B's waiting QEMU (pid {pids[0]}) during pre-copy "
            f"({stats.get('transferred', 0) // MiB} MiB sent); lifting the bandwidth cap")
        t.a.api("PATCH", f"/v1/migrations/{mid}", {"settings": {"max-bandwidth": 0}})

    final = t.a.wait_migration(mid, on_event=on_event, timeout=180)
    error = final.get("error", "")
    log(f"final: status={final.get('status')} location={final.get('vm-location')} error={error!r}")
    if scenario == "dest-qemu-killed":
        c.check(len(killed) == 1, f"B's QEMU was found and killed during pre-copy ({killed})")
        words = "killed by signal 9"
    else:
        words = "refused the device state"
    c.check(final.get("status") == "failed", "migration failed")
    c.check(words in error, f"the error says what happened on B ({words!r})")
    c.check(final.get("vm-location") == "source", "guest reported on the source")
    vm = t.a.vm("db-1")
    c.check(vm is not None and vm.get("state") == "running", f"guest runs on A: {vm and vm.get('state')}")
    w1 = (vm or {}).get("writes", 0)
    time.sleep(0.5)
    w2 = (t.a.vm("db-1") or {}).get("writes", 0)
    c.check(w2 > w1, f"guest keeps writing on A ({w1} -> {w2})")
    check = t.a.verify("db-1")
    c.check(check.get("ok") is True, f"guest's own check on A: {check.get('detail')}")
    c.check(t.b.vm("db-1") is None, "B has no such guest")
    deadline = time.time() + 10
    while time.time() < deadline and (os.listdir(t.b.ram_dir) or qemu_pids_using(t.b.ram_dir)):
        time.sleep(0.1)
    c.check(not os.listdir(t.b.ram_dir), f"B kept no memory ({os.listdir(t.b.ram_dir)})")
    c.check(not qemu_pids_using(t.b.ram_dir), "no QEMU left on B")
    if c.failed:
        log("host-a log:\n" + t.a.log_tail(30))
        log("host-b log:\n" + t.b.log_tail(30))


with Topology("q" + scenario[:5]) as t:
    try:
        run(t)
    except BaseException:
        for agent in (t.a, t.b):
            log(f"{agent.name} log:\n{agent.log_tail(30)}")
        raise
c.finish()
