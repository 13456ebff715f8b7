"""Failure paths of a migration. Whatever breaks before the destination resumes the guest, the
guest keeps running on the source and verifies, the destination keeps nothing, and the error names
the phase.

usage: test_failures.py SCENARIO   (dest-killed | connection-cut | corrupt-record |
                                    version-mismatch | no-space)
"""
import os
import subprocess
import sys
import time

from ferrytest import Checks, Topology, log

MiB = 1 << 20
scenario = sys.argv[1]
c = Checks()

extra_b = ["--protocol-version", "2"] if scenario == "version-mismatch" else []
topology = Topology(scenario.replace("-", "")[:6], agent_extra_b=extra_b)
if scenario == "no-space" and os.geteuid() != 0:
    print("SKIPPED: no-space needs root to mount a small tmpfs")
    sys.exit(0)

with topology as t:
    if scenario == "no-space":
        # Restart B with its RAM directory on a 64 MiB tmpfs.
        t.b.stop()
        os.rmdir(t.b.ram_dir)  # the empty directory the topology made; the tmpfs replaces it
        t.b.ram_dir = t.tmpfs("64m")
        t.b.start()
    t.a.start_sim("db-1", 256 * MiB, 20, pattern="hot")
    time.sleep(0.5)
    target = t.b.endpoint
    proxy = None
    if scenario in ("connection-cut", "corrupt-record"):
        args = [sys.executable, os.path.join(os.path.dirname(__file__), "fault_proxy.py"), "17460",
                t.b.address, str(t.b.port)]
        if scenario == "corrupt-record":
            args += ["--corrupt-connection", "1", "--corrupt-at", str(40 * MiB)]
        proxy = t.popen_in(t.a, args, stdout=subprocess.PIPE, text=True)
        assert proxy.stdout.readline().strip() == "READY"
        target = "127.0.0.1:17460"

    # A capped bandwidth keeps pre-copy going long enough to break it in the middle.
    mid = t.a.migrate("db-1", target, streams=2, verify=True,
                      settings={"max-bandwidth": 48 * MiB})
    broke = False

    def on_event(event):
        global broke
        stats = event.get("stats", {})
        if broke or event.get("event") != "progress" or stats.get("transferred", 0) < 64 * MiB:
            return
        if scenario == "dest-killed":
            log("killing the destination agent during pre-copy")
            t.b.kill()
            broke = True
        elif scenario == "connection-cut":
            log("killing the proxy: every connection is cut")
            proxy.kill()
            broke = True

    final = t.a.wait_migration(mid, on_event=on_event, timeout=300)
    error = final.get("error", "")
    log(f"final: status={final.get('status')} error={error!r} location={final.get('vm-location')}")
    expected_phase = {"dest-killed": "precopy", "connection-cut": "precopy",
                      "corrupt-record": "precopy", "version-mismatch": "negotiate",
                      "no-space": "prepare"}[scenario]
    expected_words = {"dest-killed": "", "connection-cut": "", "corrupt-record": "crc",
                      "version-mismatch": "version", "no-space": "No space left"}[scenario]
    c.check(final.get("status") == "failed", "migration failed")
    c.check(error.startswith(expected_phase), f"error names the phase '{expected_phase}': {error!r}")
    c.check(expected_words.lower() in error.lower(), f"error says what went wrong ({expected_words!r})")
    c.check(final.get("vm-location") == "source", "guest reported on the source")
    vm = t.a.vm("db-1")
    c.check(vm is not None and vm.get("state") == "running", f"guest runs on A: {vm}")
    w1 = (vm or {}).get("writes", 0)
    time.sleep(0.3)
    w2 = (t.a.vm("db-1") or {}).get("writes", 0)
    c.check(w2 > w1, f"guest keeps writing on A ({w1} -> {w2})")
    c.check(t.a.verify("db-1").get("ok") is True, "guest verifies on A")
    if scenario != "dest-killed":
        c.check(t.b.vm("db-1") is None, "no guest on B")
    time.sleep(0.5)
    if scenario == "dest-killed":
        t.b.start()  # a restarted agent removes what the killed one was receiving
    left = os.listdir(t.b.ram_dir)
    c.check(left == [], f"destination RAM directory is empty: {left}")
    if c.failed:
        log("host-a log:\n" + t.a.log_tail(30))
        log("host-b log:\n" + t.b.log_tail(30))
c.finish()
