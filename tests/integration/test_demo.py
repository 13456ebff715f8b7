"""`ferry demo --json` (the README's main job) ends with a verified, completed migration."""
import json
import subprocess

from ferrytest import FERRY, Checks, log

c = Checks()
r = subprocess.run([FERRY, "demo", "--json", "--memory", "256M"], capture_output=True, text=True, timeout=300)
lines = [line for line in r.stdout.splitlines() if line.strip()]
c.check(r.returncode == 0, f"exit code {r.returncode}; stderr: {r.stderr[-800:]}")
summary = json.loads(lines[-1]) if lines else {}
log("summary: " + json.dumps({k: v for k, v in summary.items() if k != "stats"}))
c.check(summary.get("status") == "completed", "status completed")
c.check(summary.get("verified") is True, "verified (memory hashes equal, guest self-check OK, moved)")
for key in ("total_time_ms", "downtime_ms", "transferred_bytes", "rounds", "throughput_mbps"):
    c.check(isinstance(summary.get(key), (int, float)), f"{key} = {summary.get(key)}")
c.check(summary.get("transferred_bytes", 0) >= 256 << 20, "at least the guest's memory was sent")
c.check(len(lines) >= 2, f"progress lines before the summary ({len(lines) - 1})")
c.finish()
