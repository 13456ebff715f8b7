#!/usr/bin/env python3
"""A simulated guest's NIC follows it between two Open vSwitch hosts, and traffic follows at once.

Topology (scripts/fixtures/ovs-pool): hosts A and B each run ovsdb-server + ovs-vswitchd
(userspace datapath) in a namespace of their own, with bridge br-int and an uplink to a shared
fabric switch (a learning Linux bridge), and a client namespace on the fabric. The ferry agents run
in their own namespaces (ferrytest.Topology) and drive their host's OVS through its socket; the
guest's tap lives in the OVS host's namespace (the driver's "netns" key).

A client sends a UDP echo every 5 ms to the guest during each of 10 migrations (A->B->A ...). Per
move the test measures the blackout (longest time without replies), checks replies come back on
the new host with no duplicates, the old host's port is gone and the new one is on br-int with the
VLAN tag and the VM's external_ids. Target (issue 6): blackout <= the job's memory downtime + 50 ms.
Then a migration to a host whose bridge for the VM's network does not exist is refused in prepare,
before the guest is touched: it keeps running and answering on A, nothing is left on B.
"""
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(__file__))
from ferrytest import Checks, Topology, can_use_netns, log  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
FIXTURES = os.path.join(HERE, "..", "..", "scripts", "fixtures")
OVS_POOL = os.path.join(FIXTURES, "ovs-pool")
PROBE = os.path.join(FIXTURES, "udp-echo-probe")
MiB = 1 << 20
MOVES = 10
GUEST_IP = "10.88.0.10"
MAC = "52:54:00:0a:58:0a"
TAP = "ft" + MAC.replace(":", "")
MARGIN_MS = 50

c = Checks()
ok, why = can_use_netns()
if not ok:
    print(f"SKIPPED: network namespaces unavailable ({why})", flush=True)
    sys.exit(0)

pooldir = tempfile.mkdtemp(prefix="ferry-it-ovspool-")
prefix = f"fn{os.getpid() % 100000}"
confdir = tempfile.mkdtemp(prefix="ferry-it-ovsconf-")
probes = []


def vsctl(db, *args):
    r = subprocess.run(["ovs-vsctl", f"--db={db}", "--timeout=10", *args], capture_output=True, text=True)
    return r.stdout.strip() if r.returncode == 0 else None


def port_bridge(db, port):
    return vsctl(db, "port-to-br", port)


def start_probe():
    p = subprocess.Popen([PROBE, "--netns", f"{prefix}-c", "--target", GUEST_IP, "--interval-ms", "5"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    probes.append(p)
    return p


def stop_probe(p):
    p.send_signal(signal.SIGTERM)
    out, err = p.communicate(timeout=30)
    probes.remove(p)
    try:
        return json.loads(out.strip().splitlines()[-1])
    except (ValueError, IndexError):
        log(f"probe output unreadable: {out!r} {err!r}")
        return {}


def answered_within(seconds):
    """A short probe: how many echoes the guest answers in `seconds`."""
    p = start_probe()
    time.sleep(seconds)
    return stop_probe(p)


try:
    up = subprocess.run([OVS_POOL, "up", pooldir, prefix], capture_output=True, text=True)
    if up.returncode == 3:
        print(f"SKIPPED: {up.stderr.strip()}", flush=True)
        sys.exit(0)
    assert up.returncode == 0, f"ovs-pool up failed: {up.stderr}"
    pool = json.loads(up.stdout)
    db = {h: pool["hosts"][h]["db"] for h in ("hostA", "hostB")}
    log(f"OVS pool {prefix}: hosts {prefix}-a, {prefix}-b, fabric {prefix}-f, client {prefix}-c")

    # Network net1 maps to br-int on A but to a bridge B does not have: a wrong mapping on B.
    for h, name in (("hostA", "a"), ("hostB", "b")):
        with open(os.path.join(pooldir, f"{h}.json")) as f:
            resources = json.load(f)
        resources["ovs"]["networks"]["net1"] = {"bridge": "br-int" if h == "hostA" else "br-missing",
                                                "tag": 11}
        with open(os.path.join(confdir, f"{name}.json"), "w") as f:
            json.dump({"resources": resources}, f)

    with Topology("ovs", agent_extra_a=["--config", os.path.join(confdir, "a.json")],
                  agent_extra_b=["--config", os.path.join(confdir, "b.json")]) as t:
        hosts = {t.a.name: (t.a, db["hostA"]), t.b.name: (t.b, db["hostB"])}
        nic = {"id": "nic0", "driver": "ovs", "network": "net0", "mac": MAC, "ip": f"{GUEST_IP}/24",
               "external-ids": {"vm-id": "web"}}
        spec = {"name": "web", "memory": 64 * MiB, "dirty_rate_mib": 20, "pattern": "uniform",
                "seed": 5, "resources": [nic]}
        status, body = t.a.api("POST", "/v1/vms", {"kind": "sim", "spec": spec})
        c.check(status == 201, f"guest 'web' starts on A with its NIC ({status} {body if status != 201 else ''})")
        c.check(port_bridge(db["hostA"], TAP) == "br-int", f"its port {TAP} is on A's br-int")
        c.check(vsctl(db["hostA"], "get", "Port", TAP, "tag") == "10", "with the network's VLAN tag 10")
        first = answered_within(1.0)
        c.check(first.get("answered", 0) > 100 and first.get("duplicates") == 0,
                f"the guest answers the client's echoes on A ({first.get('answered')} of {first.get('sent')})")

        rows = []
        src, dst = t.a, t.b
        for move in range(1, MOVES + 1):
            probe = start_probe()
            time.sleep(0.5)
            started = time.monotonic()
            mid = src.migrate("web", dst.endpoint, verify=True, settings={"max-downtime-ms": 300})
            final = src.wait_migration(mid, timeout=120)
            finished = time.monotonic()
            time.sleep(0.5)
            result = stop_probe(probe)
            downtime = final.get("downtime")
            blackout = result.get("longest_silence_ms")
            # The destination's share of the downtime spent taking the port over (in the job's stats).
            activate = (final.get("destination-report") or {}).get("resources-activate-ms")
            rows.append({"move": move, "from": src.name, "to": dst.name, "status": final.get("status"),
                         "downtime_ms": downtime, "blackout_ms": blackout, "port_activate_ms": activate,
                         "duplicates": result.get("duplicates"), "lost": result.get("lost"),
                         "sent": result.get("sent")})
            log(f"move {move} {src.name} -> {dst.name}: {final.get('status')} downtime {downtime} ms "
                f"(port taken over in {activate} ms), blackout {blackout} ms, lost {result.get('lost')} of {result.get('sent')}, "
                f"duplicates {result.get('duplicates')} {final.get('error') or ''}")
            c.check(final.get("status") == "completed", f"move {move}: {src.name} -> {dst.name} completes")
            c.check(final.get("verification", {}).get("verified") is True, f"move {move}: memory verified")
            c.check(isinstance(activate, int) and 0 <= activate <= (downtime or 0),
                    f"move {move}: the job's statistics show the port takeover within the downtime ({activate} ms)")
            c.check(result.get("duplicates") == 0, f"move {move}: no echo answered twice")
            c.check(result.get("last_reply") is not None and result["last_reply"] > finished,
                    f"move {move}: replies come from {dst.name} after the move")
            c.check(result.get("first_reply") is not None and result["first_reply"] < started,
                    f"move {move}: replies flowed before the move")
            c.check(port_bridge(hosts[dst.name][1], TAP) == "br-int",
                    f"move {move}: the port is on {dst.name}'s br-int")
            c.check(port_bridge(hosts[src.name][1], TAP) is None,
                    f"move {move}: no port left on {src.name}")
            ids = vsctl(hosts[dst.name][1], "get", "Interface", TAP, "external_ids") or ""
            c.check(f'attached-mac="{MAC}"' in ids and 'vm-id=web' in ids,
                    f"move {move}: the port carries the VM's external_ids ({ids})")
            src, dst = dst, src

        done = [r for r in rows if isinstance(r["blackout_ms"], (int, float)) and
                isinstance(r["downtime_ms"], (int, float))]
        if done:
            blackouts = [r["blackout_ms"] for r in done]
            downtimes = [r["downtime_ms"] for r in done]
            excess = [r["blackout_ms"] - r["downtime_ms"] for r in done]
            log("move | from -> to | memory downtime ms | of which port takeover ms | network blackout ms "
                "| excess ms")
            for r in done:
                log(f"{r['move']:>4} | {r['from']} -> {r['to']} | {r['downtime_ms']:>6} | "
                    f"{r['port_activate_ms']:>4} | {r['blackout_ms']:>8} | "
                    f"{r['blackout_ms'] - r['downtime_ms']:>7.1f}")
            log(f"blackout median {statistics.median(blackouts):.1f} ms, max {max(blackouts):.1f} ms; "
                f"memory downtime median {statistics.median(downtimes):.1f} ms, max {max(downtimes)} ms; "
                f"blackout - downtime median {statistics.median(excess):.1f} ms, max {max(excess):.1f} ms")
            print("BLACKOUT " + json.dumps({"moves": rows}), flush=True)
            # A shared 2-core machine stalls now and then: the target is on the median; the maximum
            # is reported, and bounded loosely so that a systematic regression still fails.
            c.check(statistics.median(excess) <= MARGIN_MS,
                    f"median blackout exceeds memory downtime by <= {MARGIN_MS} ms "
                    f"({statistics.median(excess):.1f} ms)")
            c.check(max(excess) <= 10 * MARGIN_MS, f"no move's blackout exceeds its downtime by > "
                    f"{10 * MARGIN_MS} ms (max {max(excess):.1f} ms)")
        c.check(len(done) == MOVES, f"all {MOVES} moves measured ({len(done)})")

        home, away = src, dst  # where 'web' runs now, and the other host
        away_db = hosts[away.name][1]

        # --- a move cancelled in pre-copy: the destination's quarantined port goes, the guest's
        # port on its host never stopped carrying traffic
        probe = start_probe()
        mid = home.migrate("web", away.endpoint, settings={"max-bandwidth": 8 * MiB})
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and port_bridge(away_db, TAP) != "br-quarantine":
            time.sleep(0.05)
        c.check(port_bridge(away_db, TAP) == "br-quarantine",
                f"during pre-copy the incoming port waits on {away.name}'s quarantine bridge")
        time.sleep(0.5)
        status, _ = home.api("POST", f"/v1/migrations/{mid}/cancel")
        c.check(status == 202, f"cancel accepted ({status})")
        final = home.wait_migration(mid, timeout=60)
        time.sleep(0.3)
        result = stop_probe(probe)
        log(f"cancelled move: {final.get('status')}; probe: longest silence {result.get('longest_silence_ms')} ms, "
            f"lost {result.get('lost')} of {result.get('sent')}, duplicates {result.get('duplicates')}")
        c.check(final.get("status") == "cancelled",
                f"the move ends cancelled ({final.get('status')}: {final.get('error')})")
        c.check(port_bridge(away_db, TAP) is None, f"no port left on {away.name}")
        leftover = subprocess.run(["ip", "-n", f"{prefix}-{'b' if away is t.b else 'a'}", "link", "show", TAP],
                                  capture_output=True)
        c.check(leftover.returncode != 0, f"no tap left in {away.name}'s namespace")
        c.check(port_bridge(hosts[home.name][1], TAP) == "br-int", f"'web' keeps its port on {home.name}")
        c.check(result.get("duplicates") == 0 and (result.get("longest_silence_ms") or 1e9) < 200,
                f"'web' answered throughout (longest silence {result.get('longest_silence_ms')} ms)")

        # --- a destination without the network's bridge refuses before the guest is touched
        nic1 = dict(nic, id="nic0", network="net1", mac="52:54:00:0a:58:0b", ip="10.88.1.10/24")
        spec1 = {"name": "db", "memory": 32 * MiB, "dirty_rate_mib": 10, "seed": 9, "resources": [nic1]}
        status, body = t.a.api("POST", "/v1/vms", {"kind": "sim", "spec": spec1})
        c.check(status == 201, f"guest 'db' on network net1 starts on A ({status} {body if status != 201 else ''})")
        mid = t.a.migrate("db", t.b.endpoint, verify=True)
        final = t.a.wait_migration(mid, timeout=120)
        err = final.get("error") or ""
        log(f"db A -> B: {final.get('status')}: {err}")
        c.check(final.get("status") == "failed", "migrating to a host without the bridge fails")
        c.check("prepare" in err and "br-missing" in err and "does not exist" in err and "host-b" in err,
                "the error names the phase, the missing bridge and the host")
        c.check(final.get("normal", 0) == 0 and final.get("duplicate", 0) == 0,
                f"no memory page was sent ({final.get('normal')} normal, {final.get('duplicate')} zero pages)")
        vm = t.a.vm("db") or {}
        c.check(vm.get("state") == "running", f"'db' keeps running on A ({vm.get('state')})")
        c.check(t.a.verify("db").get("ok") is True, "'db' verifies on A")
        tap1 = "ft5254000a580b"
        c.check(port_bridge(db["hostA"], tap1) == "br-int", "its port is still on A's br-int")
        c.check(port_bridge(db["hostB"], tap1) is None, "no port for it on B")
        leftover = subprocess.run(["ip", "-n", f"{prefix}-b", "link", "show", tap1], capture_output=True)
        c.check(leftover.returncode != 0, "no tap for it in B's namespace")
        c.check(t.b.vm("db") is None, "no 'db' on B")
        after = answered_within(0.5)
        c.check(after.get("answered", 0) > 20 and after.get("duplicates") == 0,
                f"'web' still answers on {home.name} ({after.get('answered')} of {after.get('sent')})")
finally:
    for p in list(probes):
        p.kill()
        p.wait()
    down = subprocess.run([OVS_POOL, "down", pooldir], capture_output=True, text=True)
    if down.returncode != 0:
        log(f"ovs-pool down: {down.stderr.strip()}")
    subprocess.run(["rm", "-rf", pooldir, confdir])

c.finish()
