"""Real QEMU guests move between two hosts (network namespaces) while they run.

1. An idle 1 GiB test guest moves A -> B (the baseline figures).
2. A 1 GiB test guest writing 100 MiB/s moves A -> B: ferry's end-to-end memory hash matches, the
   guest's own check passes on B, it is the same guest (its BOOT id, heartbeats and write counter
   go on), and the source QEMU has exited. The guest-visible pause (the heartbeat gap across the
   switchover, from the serial host logs) is printed next to ferry's downtime.
3. Ping-pong: the same guest keeps moving A -> B -> A ... (10 moves in all), every one verified.
"""
import os
import time

from ferrytest import Checks, Topology, log
from test_qemu_support import (MiB, boot_id, dirty_rate_mib, figures, host_log, largest_gap,
                               process_gone, seed_in_ram, skip_unless_qemu, start_guest,
                               switchover_gap)

skip_unless_qemu()
MOVES = 10
SETTINGS = {"max-downtime-ms": 300}
c = Checks()
results = []


def migrate(source, destination, name):
    """Moves `name` and checks what every move must achieve; returns the final statistics."""
    mid = source.migrate(name, destination.endpoint, streams=2, verify=True, settings=SETTINGS)
    final = source.wait_migration(mid, timeout=300)
    v = final.get("verification", {})
    ok = c.check(final.get("status") == "completed" and v.get("verified") is True,
                 f"{name} {source.name} -> {destination.name}: {final.get('status')}, verified "
                 f"{v.get('verified')} (memory equal {v.get('memory-equal')}, guest "
                 f"{v.get('guest', {}).get('detail')}) {final.get('error', '')}")
    log(f"  {figures(final)}")
    if not ok:
        log(f"{source.name} log:\n{source.log_tail(30)}\n{destination.name} log:\n"
            f"{destination.log_tail(30)}")
    return final


def run(t):
    # --- 1. idle guest: the baseline
    idle = start_guest(t.a, "idle-1", 1024, "rate=0 tick=10")
    final = migrate(t.a, t.b, "idle-1")
    results.append(("1 GiB, idle", final))
    status, _ = t.b.api("DELETE", "/v1/vms/idle-1")
    c.check(status == 200 and not os.listdir(t.b.ram_dir) and not os.listdir(t.a.ram_dir),
            f"idle guest stopped; no RAM files left ({os.listdir(t.a.ram_dir)} {os.listdir(t.b.ram_dir)})")

    # --- 2. a guest writing 100 MiB/s
    busy = start_guest(t.a, "busy-1", 1024, "rate=100 tick=10")
    a_log = busy["serial_host_log"]
    source_pid = busy["pid"]
    time.sleep(1.5)  # let it write for a while before the move
    measured = dirty_rate_mib(host_log(a_log))
    log(f"busy-1 writes {measured:.0f} MiB/s (guest-measured, last second)")
    c.check(measured > 50, f"the guest dirties memory fast ({measured:.0f} MiB/s, asked 100)")
    guest_id = boot_id(host_log(a_log))
    started = time.time()
    final = migrate(t.a, t.b, "busy-1")
    ended = time.time()
    results.append((f"1 GiB, {measured:.0f} MiB/s", final))

    on_b = t.b.vm("busy-1")
    c.check(on_b is not None and on_b.get("state") == "running", f"guest runs on B: {on_b and on_b.get('state')}")
    c.check(t.a.vm("busy-1") is None, "guest is gone from A's API")
    c.check(process_gone(source_pid), f"source QEMU (pid {source_pid}) has exited")
    c.check(on_b is not None and on_b.get("announce") == "ok",
            f"B announced the guest after resuming it ({on_b and on_b.get('announce')})")
    time.sleep(1.0)
    b_lines = host_log(on_b["serial_host_log"])
    a_lines = host_log(a_log)
    c.check(guest_id is not None and seed_in_ram(on_b["ram_path"]) == guest_id,
            f"same guest on B: BOOT id {guest_id}, B's memory says {seed_in_ram(on_b['ram_path'])}")
    c.check(not any(text.startswith("BOOT") for _, text in b_lines), "the guest did not reboot on B")
    gap = switchover_gap(a_lines, b_lines)
    c.check(gap is not None, "heartbeats on both hosts")
    if gap:
        seconds, last_a, first_b = gap
        # A pause may cut a heartbeat line in two: the destination then finishes it first.
        c.check(first_b[1] in (last_a[1] + 1, last_a[1] + 2) and first_b[2] >= last_a[2],
                f"heartbeats and writes go on: A's last HB {last_a[1]} ({last_a[2]} writes), "
                f"B's first HB {first_b[1]} ({first_b[2]} writes)")
        on_a = largest_gap(a_lines, started, ended)
        log(f"busy-1 pause: guest-visible (heartbeat gap A -> B) {seconds * 1000:.0f} ms; ferry's "
            f"downtime {final.get('downtime')} ms; largest gap on A during pre-copy {on_a * 1000:.0f} ms")
        c.check(seconds * 1000 < 5000, f"guest-visible pause {seconds * 1000:.0f} ms")
        results[-1] = (results[-1][0] + f", guest-visible pause {seconds * 1000:.0f} ms", final)
    check = t.b.verify("busy-1")
    c.check(check.get("ok") is True, f"guest's own check on B after more writes: {check.get('detail')}")

    # --- 3. ping-pong
    hosts = [t.b, t.a]
    failures = 0
    for move in range(2, MOVES + 1):
        source, destination = hosts[move % 2], hosts[(move + 1) % 2]
        pid = source.vm("busy-1")["pid"]
        final = migrate(source, destination, "busy-1")
        failures += final.get("verification", {}).get("verified") is not True
        c.check(process_gone(pid), f"move {move}: source QEMU (pid {pid}) exited")
        if final.get("status") != "completed":
            break
    c.check(failures == 0, f"{MOVES} moves, every one verified ({failures} not)")
    where = t.a if MOVES % 2 == 0 else t.b
    check = where.verify("busy-1")
    c.check(check.get("ok") is True, f"after {MOVES} moves the guest verifies on {where.name}: {check.get('detail')}")


with Topology("qmig") as t:
    try:
        run(t)
    except BaseException:
        for agent in (t.a, t.b):
            log(f"{agent.name} log:\n{agent.log_tail(40)}")
        raise

print("\nfigures (1 GiB test guest under QEMU, 2 streams, max downtime 300 ms):", flush=True)
for label, stats in results:
    print(f"  {label}: {figures(stats)}", flush=True)
c.finish()
