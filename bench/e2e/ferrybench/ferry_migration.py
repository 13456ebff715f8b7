"""One ferry migration from agent A to agent B of a simulated guest or of a QEMU test guest, started
and followed through the agents' API; returns one sample (the figures the report needs)."""
import http.client
import itertools
import os
import re
import time

from ferrybench.cleanup import stop_pid
from ferrybench.ferry_agent import error_text
from ferrybench.log import log
from ferrybench.samples import migration_sample

PAGE = 4096
MiB = 1 << 20
_names = itertools.count(1)


def ferry_settings(max_downtime_ms):
    """Unlimited bandwidth; the downtime budget equals QEMU's downtime-limit in the same run."""
    return {"max-downtime-ms": max_downtime_ms, "max-bandwidth": 0}


class Unsupported(Exception):
    """The agent cannot run this kind of guest: the configuration is skipped, with this reason."""


def run_sim(agents, config, cleanup, timeout_s, settings):
    a, b = agents
    name = f"sim-{os.getpid()}-{next(_names)}"
    spec = {"name": name, "memory": config.memory, "dirty_rate_mib": config.dirty_rate_mib,
            "pattern": "uniform", "seed": 7}
    status, body = a.api("POST", "/v1/vms", {"kind": "sim", "spec": spec})
    if status != 201:
        return {"status": "failed", "error": f"starting simulated guest {name} on {a.name}: "
                                             f"{error_text(status, body)}"}
    guest = cleanup.pid(body["pid"], f"simulated guest {name}", "ferry-sim-guest")
    try:
        dirty_rate = _measure_sim_rate(a, name, settle_s=1.0 if config.dirty_rate_mib else 0.2)
        sample = _migrate(a, b, name, config.streams, timeout_s, settings)
        sample["guest_dirty_rate_mib"] = dirty_rate
        sample["guest_fill_s"] = body.get("fill_seconds")
        return sample
    finally:
        _delete_everywhere(agents, name, "ferry-sim-guest")
        cleanup.undo(guest)


def run_qemu(agents, config, cleanup, timeout_s, settings, kernel):
    """Raises Unsupported when agent A refuses kind "qemu"."""
    a, b = agents
    name = f"qemu-{os.getpid()}-{next(_names)}"
    spec = {"name": name, "memory_bytes": config.memory, "kernel": kernel,
            "append": f"rate={config.dirty_rate_mib}", "test_guest": True}
    status, body = a.api("POST", "/v1/vms", {"kind": "qemu", "spec": spec}, timeout=60)
    if status != 201:
        error = error_text(status, body)
        if "kind" in error:  # "unknown VM kind 'qemu'" or "cannot run VMs of kind ..."
            raise Unsupported(f"agent refused a QEMU guest: {error}")
        return {"status": "failed", "error": f"starting QEMU guest {name} on {a.name}: {error}"}
    guest = cleanup.pid(body["pid"], f"QEMU guest {name}", "qemu-system")
    try:
        serial_log = os.path.join(body.get("run_dir", ""), "serial.log")
        fill_s = _wait_filled(a, name, serial_log, timeout_s=max(60, 60 * config.memory / (1 << 30)))
        dirty_rate = _measure_heartbeat_rate(serial_log, settle_s=1.0 if config.dirty_rate_mib else 0.2)
        vm = a.api("GET", f"/v1/vms/{name}")[1] or {}
        sample = _migrate(a, b, name, config.streams, timeout_s, settings)
        sample["guest_dirty_rate_mib"] = dirty_rate
        sample["guest_fill_s"] = fill_s
        sample["accelerator"] = (vm.get("accelerator") or {}).get("accel")
        return sample
    finally:
        _delete_everywhere(agents, name, "qemu-system")
        cleanup.undo(guest)


def _migrate(a, b, name, streams, timeout_s, settings):
    status, body = a.api("POST", "/v1/migrations",
                         {"vm": name, "to": b.endpoint, "streams": streams, "verify": False,
                          "settings": settings})
    if status != 202:
        return {"status": "failed", "error": f"starting migration of {name}: {error_text(status, body)}"}
    migration = body["id"]
    started = time.time()
    final = None
    cancelled = False
    for event in a.events(migration, timeout=timeout_s + 120):
        if event.get("event") in ("completed", "failed"):
            final = event.get("stats", {})
        elif not cancelled and time.time() - started > timeout_s:
            a.api("POST", f"/v1/migrations/{migration}/cancel")
            cancelled = True
    if final is None:
        final = (a.api("GET", f"/v1/migrations/{migration}")[1] or {}).get("stats", {})
    wall_s = time.time() - started
    if cancelled and final.get("status") != "completed":
        return {"status": "timeout", "wall_s": wall_s,
                "error": f"migration of {name} did not finish within {timeout_s:.0f} s (cancelled)"}
    if final.get("status") != "completed":
        error = final.get("error") or final.get("precopy-decision") or "no reason given"
        return {"status": "failed", "wall_s": wall_s, "rounds": final.get("dirty-sync-count"),
                "error": f"migration of {name}: {error}"}
    return migration_sample(
        total_time_ms=final.get("total-time"), downtime_ms=final.get("downtime"),
        transferred_bytes=final.get("transferred"), transfer_mbps=final.get("mbps"),
        rounds=final.get("dirty-sync-count"), setup_ms=final.get("setup-time"), wall_s=wall_s,
        extra={"zero_pages": final.get("duplicate"), "decision": final.get("precopy-decision")})


def _delete_everywhere(agents, name, program):
    """Deletes the guest wherever it is; a guest its agent could not stop is stopped by PID."""
    for agent in agents:
        try:
            status, vm = agent.api("GET", f"/v1/vms/{name}")
            if status != 200:
                continue
            agent.api("DELETE", f"/v1/vms/{name}", timeout=60)
            if vm.get("pid", -1) > 0:
                stop_pid(vm["pid"], grace_s=5, program_substring=program)
        except (OSError, RuntimeError, http.client.HTTPException) as e:
            log(f"deleting {name} on {agent.name}: {e}")


def _measure_sim_rate(agent, name, settle_s):
    def writes():
        return (agent.api("GET", f"/v1/vms/{name}")[1] or {}).get("writes")

    w0, t0 = writes(), time.time()
    time.sleep(settle_s)
    w1, t1 = writes(), time.time()
    if w0 is None or w1 is None:  # the guest did not answer the agent's status query
        return None
    return round((w1 - w0) * PAGE / MiB / (t1 - t0), 1)


_FILLED = re.compile(r"FILLED pages=(\d+) ms=(\d+)")
_HEARTBEAT = re.compile(r"HB (\d+) (\d+)")


def _wait_filled(agent, name, serial_log, timeout_s):
    deadline = time.time() + timeout_s
    while time.time() < deadline:
        m = _FILLED.search(_read(serial_log))
        if m is None:
            vm = agent.api("GET", f"/v1/vms/{name}")[1] or {}
            m = _FILLED.search("\n".join(vm.get("serial_tail", [])))
            if vm.get("state") == "failed":
                raise RuntimeError(f"QEMU guest {name} failed while filling its memory: {vm.get('exit')}")
        if m:
            return int(m.group(2)) / 1000
        time.sleep(0.1)
    raise RuntimeError(f"QEMU guest {name}: no FILLED line in {serial_log} within {timeout_s:.0f} s")


def _measure_heartbeat_rate(serial_log, settle_s):
    """Page writes per second from the guest's heartbeat lines (HB <n> <writes>)."""
    def last_writes():
        beats = _HEARTBEAT.findall(_read(serial_log)[-16384:])
        return int(beats[-1][1]) if beats else None

    w0, t0 = last_writes(), time.time()
    time.sleep(settle_s)
    w1, t1 = last_writes(), time.time()
    if w0 is None or w1 is None:
        return None
    return round((w1 - w0) * PAGE / MiB / (t1 - t0), 1)


def _read(path):
    try:
        with open(path, "rb") as f:
            return f.read().decode(errors="replace")
    except OSError:
        return ""
