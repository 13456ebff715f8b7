"""One QEMU-native migration of the test guest from host A to host B over the path, with one of the
settings below; figures from the source's query-migrate."""
import itertools
import os
import time

from ferrybench.qemu_guest import QemuGuest
from ferrybench.samples import migration_sample

PAGE = 4096
MiB = 1 << 20
_names = itertools.count(1)

# QEMU 7.2 defaults: max-bandwidth 128 MiB/s, downtime-limit 300 ms. "Unlimited" is a cap no link
# here can reach (100 GiB/s). The non-default settings also get the run's downtime budget.
UNLIMITED_BANDWIDTH = 100 << 30
QEMU_SETTINGS = {
    "default": {"capabilities": [], "parameters": {}},
    "unlimited": {"capabilities": [], "parameters": {"max-bandwidth": UNLIMITED_BANDWIDTH}},
    "multifd4": {"capabilities": ["multifd"],
                 "parameters": {"max-bandwidth": UNLIMITED_BANDWIDTH, "multifd-channels": 4}},
}


def run_native(path, config, cleanup, kernel, accel, run_root, ram_dir, timeout_s, downtime_limit_ms):
    setting = QEMU_SETTINGS[config.setting]
    tag = f"q{os.getpid()}-{next(_names)}"
    append = f"rate={config.dirty_rate_mib}"
    entries = []
    try:
        src = QemuGuest(f"{tag}-src", path, "a", os.path.join(run_root, f"{tag}-src"),
                        os.path.join(ram_dir, f"{tag}-src.ram"), config.memory, kernel, append, accel)
        entries.append(cleanup.push(f"stop QEMU {src.name} (pid {src.pid})", src.stop))
        fill_s = src.wait_filled(timeout_s=max(60, 60 * config.memory / (1 << 30)))
        dst = QemuGuest(f"{tag}-dst", path, "b", os.path.join(run_root, f"{tag}-dst"),
                        os.path.join(ram_dir, f"{tag}-dst.ram"), config.memory, kernel, append, accel,
                        incoming=True)
        entries.append(cleanup.push(f"stop QEMU {dst.name} (pid {dst.pid})", dst.stop))

        for guest in (src, dst):
            if setting["capabilities"]:
                guest.qmp.command("migrate-set-capabilities", capabilities=[
                    {"capability": c, "state": True} for c in setting["capabilities"]])
            if "multifd-channels" in setting["parameters"]:
                guest.qmp.command("migrate-set-parameters",
                                  **{"multifd-channels": setting["parameters"]["multifd-channels"]})
        source_parameters = {k: v for k, v in setting["parameters"].items() if k != "multifd-channels"}
        if config.setting != "default":  # "default" keeps every QEMU default, downtime-limit included
            source_parameters["downtime-limit"] = downtime_limit_ms
        if source_parameters:
            src.qmp.command("migrate-set-parameters", **source_parameters)

        uri = f"tcp:{path.address('b')}:{path.free_port()}"
        dst.qmp.command("migrate-incoming", uri=uri)
        # The guest has dirtied memory for a while (as the simulated guests do) before the move.
        settle_s = 1.0 if config.dirty_rate_mib else 0.2
        w0, t0 = src.heartbeat_writes(), time.time()
        time.sleep(settle_s)
        w1, t1 = src.heartbeat_writes(), time.time()
        dirty_rate = (round((w1 - w0) * PAGE / MiB / (t1 - t0), 1)
                      if w0 is not None and w1 is not None else None)

        started = time.time()
        src.qmp.command("migrate", uri=uri)
        status = _wait(src, timeout_s)
        wall_s = time.time() - started
        if status.get("status") != "completed":
            if status.get("status") not in ("failed", "cancelled"):
                src.qmp.command("migrate_cancel")
                return {"status": "timeout", "wall_s": wall_s, "guest_dirty_rate_mib": dirty_rate,
                        "rounds": status.get("ram", {}).get("dirty-sync-count"),
                        "error": f"QEMU migration {src.name} -> {uri} did not finish within "
                                 f"{timeout_s:.0f} s (cancelled; no convergence)"}
            return {"status": "failed", "wall_s": wall_s, "guest_dirty_rate_mib": dirty_rate,
                    "error": f"QEMU migration {src.name} -> {uri}: {status.get('error-desc', status)}"}
        dst_status = dst.qmp.command("query-status")
        ram = status.get("ram", {})
        sample = migration_sample(
            total_time_ms=status.get("total-time"), downtime_ms=status.get("downtime"),
            transferred_bytes=ram.get("transferred"), transfer_mbps=ram.get("mbps"),
            rounds=ram.get("dirty-sync-count"), setup_ms=status.get("setup-time"), wall_s=wall_s,
            extra={"zero_pages": ram.get("duplicate"), "destination_status": dst_status.get("status")})
        sample["guest_dirty_rate_mib"] = dirty_rate
        sample["guest_fill_s"] = fill_s
        sample["accelerator"] = accel
        return sample
    finally:
        for entry in reversed(entries):
            cleanup.undo(entry)


def _wait(src, timeout_s, poll_s=0.1):
    deadline = time.time() + timeout_s
    while time.time() < deadline:
        status = src.qmp.command("query-migrate")
        if status.get("status") in ("completed", "failed", "cancelled"):
            # QEMU 7.2 may say "completed" before it fills in total-time: ask again.
            for _ in range(50):
                if status.get("status") != "completed" or status.get("total-time"):
                    break
                time.sleep(0.02)
                status = src.qmp.command("query-migrate")
            return status
        time.sleep(poll_s)
    return src.qmp.command("query-migrate")
