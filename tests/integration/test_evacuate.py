#!/usr/bin/env python3
"""Emptying a host for maintenance: `ferry evacuate` and POST /v1/evacuations.

Hosts A and B (ferrytest.Topology, veth 10.231.0.0/24) and a third host C in a namespace of its
own, linked to A by a second veth (10.231.1.0/24). Checks:
1. Three simulated guests on A (one dirtying its memory) evacuated to B and C with concurrency 2
   through the API: never more than 2 moves at once, A ends empty, every guest runs and verifies
   on the host the report names, and the report gives each one's destination, downtime and total
   time; the destinations' free memory as they reported it is in the report.
2. With `ferry evacuate --to C,B`: C refuses the guest (a VM of that name already runs there), so
   it goes to B; the report names C's refusal. Exit status 0, host empty.
3. With `ferry evacuate --to <unreachable>`: the guest stays on A, running, and the command names
   it and why (exit status 1).
4. An evacuation cancelled while a move runs: the move is cancelled, nothing more starts, and the
   guests stay on A, running.
"""
import json
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
from ferrytest import FERRY, Agent, Checks, Topology, can_use_netns, log  # noqa: E402

MiB = 1 << 20
c = Checks()
ok, why = can_use_netns()
if not ok:
    print(f"SKIPPED: needs network namespaces for three hosts: {why}", flush=True)
    sys.exit(0)


def add_host_c(t):
    """Host C: its own namespace and a veth to A; cleaned up with the topology."""
    ns = f"ferry-test-{t.tag}-c"
    subprocess.run(["ip", "netns", "add", ns], check=True)
    t.namespaces.append(ns)
    subprocess.run(["ip", "-n", ns, "link", "set", "lo", "up"], check=True)
    va, vc = f"fea{os.getpid()}"[:15], f"fec{os.getpid()}"[:15]
    subprocess.run(["ip", "link", "add", va, "netns", t.a.netns, "type", "veth", "peer", vc, "netns", ns],
                   check=True)
    subprocess.run(["ip", "-n", t.a.netns, "addr", "add", "10.231.1.1/24", "dev", va], check=True)
    subprocess.run(["ip", "-n", ns, "addr", "add", "10.231.1.2/24", "dev", vc], check=True)
    subprocess.run(["ip", "-n", t.a.netns, "link", "set", va, "up"], check=True)
    subprocess.run(["ip", "-n", ns, "link", "set", vc, "up"], check=True)
    agent = Agent("host-c", t.workdir, "10.231.1.2", netns=ns)
    t.agents.append(agent)
    agent.start()
    return agent


def where_is(hosts, name):
    return [h for h in hosts if h.vm(name) is not None]


with Topology("evac") as t:
    host_c = add_host_c(t)
    hosts = [t.a, t.b, host_c]
    by_endpoint = {t.b.endpoint: t.b, host_c.endpoint: host_c}
    log(f"hosts: A {t.a.endpoint}, B {t.b.endpoint}, C {host_c.endpoint}")

    # --- 1. three guests, concurrency 2, through the API
    t.a.start_sim("web", 96 * MiB, 0, seed=1)
    t.a.start_sim("db", 128 * MiB, 30, pattern="hot", seed=2)
    t.a.start_sim("cache", 64 * MiB, 0, seed=3)
    status, body = t.a.api("POST", "/v1/evacuations", {
        "to": [t.b.endpoint, host_c.endpoint], "concurrency": 2, "max-bandwidth": 400 * MiB,
        "settings": {"max-downtime-ms": 300}})
    c.check(status == 202 and body.get("id"), f"evacuation accepted ({status} {body})")
    evac_id = body["id"]
    most_running = 0
    report = {}
    deadline = time.time() + 180
    while time.time() < deadline:
        status, report = t.a.api("GET", f"/v1/evacuations/{evac_id}")
        running = sum(1 for vm in report.get("vms", []) if vm.get("state") == "running")
        most_running = max(most_running, running)
        if report.get("state") != "running":
            break
        time.sleep(0.1)
    log(f"evacuation {evac_id}: {json.dumps(report)}")
    c.check(report.get("state") == "completed", f"evacuation completed ({report.get('state')})")
    c.check(1 <= most_running <= 2, f"at most 2 moves at once (saw {most_running})")
    c.check(report.get("remaining") == [] and report.get("moved") == 3, "all three moved, none remaining")
    status, vms = t.a.api("GET", "/v1/vms")
    c.check(vms.get("vms") == [], f"host A is empty ({[v['name'] for v in vms.get('vms', [])]})")
    reported = {d.get("endpoint"): d for d in report.get("destinations", [])}
    c.check(all(reported.get(e, {}).get("memory-available", 0) > 0 for e in by_endpoint),
            f"the destinations reported their free memory ({report.get('destinations')})")
    used = set()
    for vm in report.get("vms", []):
        name, dest, move = vm.get("vm"), vm.get("destination"), vm.get("move", {})
        host = by_endpoint.get(dest)
        used.add(dest)
        c.check(host is not None and host.vm(name) is not None, f"{name} runs on {dest} as reported")
        if host is not None and host.vm(name) is not None:
            c.check(host.verify(name).get("ok") is True, f"{name} verifies on {host.name}")
        c.check(isinstance(move.get("downtime"), int) and isinstance(move.get("total-time"), int),
                f"{name}: downtime {move.get('downtime')} ms, total time {move.get('total-time')} ms reported")
    c.check(len(used) == 2, f"both destinations took guests ({sorted(used)})")

    # --- 2. C refuses (a VM of that name runs there already): the guest goes to B
    t.a.start_sim("twin", 64 * MiB, 10, seed=4)
    host_c.start_sim("twin", 32 * MiB, 0, seed=5)
    r = t.run_in(t.a, [FERRY, "evacuate", "--to", f"{host_c.endpoint},{t.b.endpoint}",
                       "--concurrency", "2", "--state-dir", t.a.state_dir, "--json"],
                 capture_output=True, text=True, timeout=180)
    log(f"ferry evacuate (C refuses): exit {r.returncode}: {r.stdout.strip()[-600:]} {r.stderr.strip()}")
    c.check(r.returncode == 0, f"ferry evacuate exits 0 when the host ends empty ({r.returncode})")
    try:
        cli_report = json.loads(r.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        cli_report = {}
    twin = next((vm for vm in cli_report.get("vms", []) if vm.get("vm") == "twin"), {})
    c.check(twin.get("state") == "moved" and twin.get("destination") == t.b.endpoint,
            f"twin went to B after C refused ({twin.get('state')}, {twin.get('destination')})")
    refusal = (twin.get("refused-by") or {}).get(host_c.endpoint, "")
    c.check("already runs" in refusal, f"the report names C's refusal ({refusal!r})")
    c.check(t.b.vm("twin") is not None and t.b.verify("twin").get("ok") is True, "twin verifies on B")
    c.check(host_c.verify("twin").get("ok") is True, "C's own twin is untouched and verifies")

    # --- 3. nowhere to go: the guest stays, and the command says which and why
    t.a.start_sim("stay", 64 * MiB, 10, seed=6)
    r = t.run_in(t.a, [FERRY, "evacuate", "--to", "10.231.0.2:1", "--state-dir", t.a.state_dir],
                 capture_output=True, text=True, timeout=120)
    log(f"ferry evacuate (unreachable):\n{r.stdout}{r.stderr}")
    c.check(r.returncode == 1, f"exit status 1 when VMs remain ({r.returncode})")
    c.check("stay" in r.stdout and "incomplete" in r.stdout and "10.231.0.2:1" in r.stdout,
            "the report names the VM left and the destination that failed")
    vm = t.a.vm("stay") or {}
    c.check(vm.get("state") == "running" and t.a.verify("stay").get("ok") is True,
            "the guest keeps running on A and verifies")
    c.check([h.name for h in where_is(hosts, "stay")] == ["host-a"], "and is nowhere else")

    # --- 4. cancelled: the move under way is cancelled, nothing more starts, both guests stay
    t.a.start_sim("slow", 128 * MiB, 20, seed=7)
    status, body = t.a.api("POST", "/v1/evacuations", {
        "to": [t.b.endpoint], "concurrency": 1, "max-bandwidth": 8 * MiB})
    evac = body.get("id")
    time.sleep(1.5)
    status, body = t.a.api("POST", f"/v1/evacuations/{evac}/cancel")
    c.check(status == 202, f"cancel accepted ({status} {body})")
    deadline = time.time() + 60
    while time.time() < deadline:
        _, report = t.a.api("GET", f"/v1/evacuations/{evac}")
        if report.get("state") != "running":
            break
        time.sleep(0.2)
    log(f"cancelled evacuation: {json.dumps(report)}")
    c.check(report.get("state") == "cancelled" and sorted(report.get("remaining", [])) == ["slow", "stay"],
            f"it ends cancelled with both guests remaining ({report.get('state')}, {report.get('remaining')})")
    reasons = {vm.get("vm"): vm.get("reason", "") for vm in report.get("vms", [])}
    c.check("cancel" in reasons.get("slow", "") and "cancel" in reasons.get("stay", ""),
            f"each remaining VM says why ({reasons})")
    for name in ("slow", "stay"):
        vm = t.a.vm(name) or {}
        c.check(vm.get("state") == "running" and not vm.get("migrating") and t.a.verify(name).get("ok") is True,
                f"{name} runs and verifies on A after the cancel")
        c.check(t.b.vm(name) is None, f"no {name} on B")

c.finish()
