"""A 512 MiB simulated guest dirtying 100 MiB/s moves from host A to host B while it runs.

The destination's memory must equal the source's at pause time (page hashes) and the guest's own
verification must pass; afterwards the guest runs (and keeps writing) on B and is gone from A.
Also drives the command line (`ferry migrate --json`) for a second move back to A.
"""
import json
import subprocess
import time

from ferrytest import FERRY, Checks, Topology, log

MiB = 1 << 20
c = Checks()
with Topology("mig") as t:
    t.a.start_sim("web-1", 512 * MiB, 100, pattern="uniform")
    time.sleep(1)  # let it write for a while before the move
    rounds = []
    mid = t.a.migrate("web-1", t.b.endpoint, streams=2, verify=True,
                      settings={"max-downtime-ms": 300})
    final = t.a.wait_migration(mid, on_event=lambda e: rounds.append(e["stats"].get("round"))
                               if e.get("event") == "progress" else None)
    log(f"final: status={final.get('status')} rounds={final.get('round', 0) + 1} "
        f"downtime={final.get('downtime')} ms total={final.get('total-time')} ms "
        f"transferred={final.get('transferred')} error={final.get('error')}")
    c.check(final.get("status") == "completed", "migration completed")
    c.check(final.get("vm-location") == "destination", "guest location reported as destination")
    v = final.get("verification", {})
    c.check(v.get("memory-equal") is True, f"destination memory equals source memory at pause ({v.get('regions')})")
    c.check(v.get("guest", {}).get("ok") is True, f"guest's own verification on B: {v.get('guest')}")
    c.check(final.get("downtime", 10**9) < 5000, f"downtime {final.get('downtime')} ms reported")
    c.check(len(rounds) > 0, f"progress events arrived ({len(rounds)})")
    for key in ("total", "transferred", "remaining", "duplicate", "normal", "dirty-pages-rate", "mbps",
                "dirty-sync-count", "setup-time", "downtime", "expected-downtime", "total-time"):
        c.check(key in final, f"statistic '{key}' present")

    on_b = t.b.vm("web-1")
    c.check(on_b is not None and on_b.get("state") == "running", f"guest runs on B: {on_b}")
    c.check(t.a.vm("web-1") is None, "guest is gone from A")
    # Agent A let go of the moved guest's memory: no mapping of a RAM file is left in it.
    with open(f"/proc/{t.a.proc.pid}/maps") as maps:
        held = [line.split()[-2] for line in maps if ".ram" in line]
    c.check(not held, f"agent A maps no guest RAM after the move: {held[:2]}")
    w1 = on_b.get("writes", 0) if on_b else 0
    time.sleep(0.5)
    w2 = (t.b.vm("web-1") or {}).get("writes", 0)
    c.check(w2 > w1, f"guest keeps writing on B (writes {w1} -> {w2})")
    c.check(t.b.verify("web-1").get("ok") is True, "guest verifies on B after more writes")

    # Back to A through the command line, with JSON lines.
    cmd = [FERRY, "migrate", "--vm", "web-1", "--to", t.a.endpoint, "--verify", "--json",
           "--streams", "3", "--state-dir", t.b.state_dir]
    r = t.run_in(t.b, cmd, capture_output=True, text=True, timeout=300)
    lines = [json.loads(line) for line in r.stdout.splitlines() if line.strip()]
    c.check(r.returncode == 0, f"ferry migrate --json exit code {r.returncode} {r.stderr[-500:]}")
    c.check(len(lines) >= 2 and lines[-1].get("event") == "completed",
            f"JSON lines end with the final object ({len(lines)} lines)")
    c.check(lines and lines[-1]["stats"].get("verification", {}).get("verified") is True,
            "second move verified")
    c.check(t.a.vm("web-1") is not None and t.b.vm("web-1") is None, "guest is back on A only")
    if c.failed:
        log("host-a log:\n" + t.a.log_tail(40))
        log("host-b log:\n" + t.b.log_tail(40))
c.finish()
