#!/usr/bin/env python3
"""The agent's API over its real unix socket, driven as a toolstack and an operator would.

1. A migration of a guest that dirties memory faster than its (low) bandwidth cap: its event
   stream gives at least one event per round and never goes quiet for more than about a second;
   `ferry jobs` lists it; `ferry set-downtime` and `ferry set-bandwidth` change it while it runs
   (seen in its settings), after which it converges and completes.
2. `ferry cancel` in the middle of pre-copy: the migration ends "cancelled", the guest keeps
   running on the source and verifies, the destination holds nothing.
3. GET /metrics parses as Prometheus text and counts what happened; an error has a stable code,
   a message and the host (and the phase when it concerns a migration).
0. An agent started with --api-listen also serves the API on TCP.
"""
import json
import os
import re
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(__file__))
from ferrytest import FERRY, Checks, Topology, UnixHTTPConnection, log  # noqa: E402

MiB = 1 << 20
c = Checks()


def ferry(t, agent, *args):
    r = t.run_in(agent, [FERRY, *args, "--state-dir", agent.state_dir], capture_output=True, text=True,
                 timeout=60)
    return r.returncode, r.stdout, r.stderr


def get_text(agent, path):
    conn = UnixHTTPConnection(os.path.join(agent.state_dir, "api.sock"), timeout=30)
    conn.request("GET", path)
    r = conn.getresponse()
    body = r.read().decode()
    conn.close()
    return r.status, r.getheader("Content-Type", ""), body


with Topology("api", agent_extra_b=["--api-listen", "10.231.0.2:0"]) as t:
    # --- 0. B also serves its API on TCP, for a toolstack elsewhere
    with open(os.path.join(t.b.state_dir, "agent.json")) as f:
        api_port = json.load(f).get("api-port")
    fetch = ("import sys, urllib.request; "
             f"sys.stdout.write(urllib.request.urlopen('http://10.231.0.2:{api_port}/v1/host', timeout=10)"
             ".read().decode())")
    r = t.run_in(t.a, [sys.executable, "-c", fetch], capture_output=True, text=True)
    c.check(r.returncode == 0 and json.loads(r.stdout or "{}").get("host") == "host-b",
            f"B's API answers on TCP port {api_port} from A's namespace ({r.stdout[:80]} {r.stderr.strip()})")

    # --- 1. events, jobs, live settings
    t.a.start_sim("busy", 256 * MiB, 200, pattern="uniform", seed=11)
    mid = t.a.migrate("busy", t.b.endpoint, streams=1, verify=True,
                      settings={"max-downtime-ms": 20, "max-bandwidth": 48 * MiB, "max-rounds": 1000,
                                "stall-rounds": 1000})
    events = []
    follower = threading.Thread(target=lambda: events.extend(
        (time.monotonic(), e) for e in t.a.events(mid, timeout=300)))
    follower.start()
    time.sleep(3)
    code, out, err = ferry(t, t.a, "jobs", "--json")
    listed = [m for m in json.loads(out or "{}").get("migrations", []) if m.get("id") == mid] if code == 0 else []
    c.check(code == 0 and listed and listed[0]["stats"].get("status") == "active",
            f"ferry jobs lists the running migration ({code} {err.strip()})")
    code, table, _ = ferry(t, t.a, "jobs")
    c.check(code == 0 and mid in table and "busy" in table, f"ferry jobs prints a table:\n{table}")
    code, out, err = ferry(t, t.a, "set-downtime", mid, "2000")
    c.check(code == 0 and "2000" in out, f"ferry set-downtime {mid} 2000: {out.strip()} {err.strip()}")
    status, body = t.a.api("GET", f"/v1/migrations/{mid}")
    settings = body["stats"].get("settings", {})
    c.check(settings.get("max-downtime-ms") == 2000, f"the running job's max downtime is now 2000 ms ({settings})")
    code, out, err = ferry(t, t.a, "set-bandwidth", mid, "0")
    c.check(code == 0, f"ferry set-bandwidth {mid} 0: {out.strip()} {err.strip()}")
    follower.join(300)
    final = next((e["stats"] for _, e in reversed(events) if e.get("event") in ("completed", "failed")), {})
    log(f"busy: {final.get('status')} after {final.get('round')} rounds, downtime {final.get('downtime')} ms, "
        f"{len(events)} events; {final.get('error') or ''}")
    c.check(final.get("status") == "completed", "after the changes the migration converges and completes")
    c.check(final.get("settings", {}).get("max-bandwidth") == 0, "its final settings show the new bandwidth")
    rounds_seen = {e["stats"].get("round") for _, e in events if e.get("stats")}
    c.check(len(rounds_seen) >= max(2, (final.get("round") or 0) - 1),
            f"at least one event per round (rounds {sorted(r for r in rounds_seen if r is not None)})")
    gaps = [b[0] - a[0] for a, b in zip(events, events[1:])]
    c.check(gaps and max(gaps) < 1.6, f"no silence over a second in the event stream (max gap {max(gaps or [0]):.2f} s)")
    c.check(t.b.vm("busy") is not None and t.b.verify("busy").get("ok") is True, "busy verifies on B")

    # --- 2. cancel during pre-copy
    t.a.start_sim("stay", 192 * MiB, 40, seed=12)
    mid2 = t.a.migrate("stay", t.b.endpoint, settings={"max-bandwidth": 16 * MiB})
    time.sleep(1.5)
    status, body = t.a.api("GET", f"/v1/migrations/{mid2}")
    c.check(body["stats"].get("status") == "active", f"stay is in pre-copy ({body['stats'].get('phase')})")
    code, out, err = ferry(t, t.a, "cancel", mid2)
    c.check(code == 0, f"ferry cancel {mid2}: {out.strip()} {err.strip()}")
    final2 = t.a.wait_migration(mid2, timeout=60)
    c.check(final2.get("status") == "cancelled", f"the migration ends cancelled ({final2.get('status')}: "
                                                 f"{final2.get('error')})")
    vm = t.a.vm("stay") or {}
    c.check(vm.get("state") == "running" and t.a.verify("stay").get("ok") is True,
            "stay keeps running on A and verifies")
    c.check(t.b.vm("stay") is None and not [f for f in os.listdir(t.b.ram_dir) if "stay" in f],
            "B holds no VM and no memory of it")
    code, _, err = ferry(t, t.a, "cancel", mid2)
    c.check(code != 0 and "finished" in err, f"cancelling a finished migration is refused ({err.strip()})")

    # --- 3. metrics and errors
    status, ctype, text = get_text(t.a, "/metrics")
    c.check(status == 200 and ctype.startswith("text/plain"), f"GET /metrics: {status} {ctype}")
    samples = {}
    bad = []
    for line in text.splitlines():
        if line.startswith("#") or not line:
            continue
        m = re.match(r'^([a-z_]+)(\{[^}]*\})? (\S+)$', line)
        if not m:
            bad.append(line)
            continue
        samples[m.group(1) + (m.group(2) or "")] = float(m.group(3))
    c.check(not bad, f"every sample line parses ({bad[:2]})")
    c.check(samples.get('ferry_migrations{host="host-a",state="completed"}') == 1, "one completed migration counted")
    c.check(samples.get('ferry_migrations{host="host-a",state="cancelled"}') == 1, "one cancelled migration counted")
    c.check(samples.get('ferry_migration_bytes_sent_total{host="host-a"}', 0) > 256 * MiB, "bytes sent counted")
    c.check(samples.get('ferry_migration_downtime_seconds_count{host="host-a"}') == 1, "one downtime observed")
    c.check(samples.get('ferry_vms{host="host-a"}') == 1, "one guest left on A")
    status, body = t.a.api("GET", "/v1/migrations/nope")
    err = (body or {}).get("error", {})
    c.check(status == 404 and err.get("code") == "not_found" and err.get("message") and
            err.get("host") == "host-a", f"an unknown migration: 404 with a code, a message and the host ({body})")
    status, body = t.a.api("POST", f"/v1/migrations/{mid2}/cancel")
    err = (body or {}).get("error", {})
    c.check(status == 400 and err.get("code") == "invalid_argument" and "precopy" in err.get("phase", ""),
            f"an error about a migration names its phase ({body})")
    status, body = t.a.api("POST", "/v1/migrations", {"vm": "ghost", "to": t.b.endpoint})
    err = (body or {}).get("error", {})
    c.check(status == 404 and err.get("code") == "not_found" and "ghost" in err.get("message", ""),
            f"migrating an unknown VM: 404 naming it ({body})")

c.finish()
