"""The physical limit of a path: iperf3 from host A to host B, N parallel streams, a few seconds."""
import json
import os
import shutil
import subprocess
import tempfile
import time



def measure_limit(path, cleanup, streams, seconds):
    """One iperf3 run; returns a sample dict (mbps, or status/error when it failed)."""
    if shutil.which("iperf3") is None:
        return {"status": "failed", "error": "iperf3 is not installed (apt-get install iperf3)"}
    port = path.free_port()
    address = path.address("b")
    fd, server_log = tempfile.mkstemp(prefix="ferry-bench-iperf3-", suffix=".log")
    os.close(fd)
    log_entry = cleanup.path(server_log)
    server_cmd = path.wrap("b", ["iperf3", "-s", "-1", "--forceflush", "-B", address, "-p", str(port)])
    with open(server_log, "w") as out:
        server = subprocess.Popen(server_cmd, stdout=out, stderr=subprocess.STDOUT,
                                  start_new_session=True)
    server_entry = cleanup.process(server, "iperf3 server", grace_s=3)
    try:
        deadline = time.time() + 5
        while "Server listening" not in _read(server_log):
            if server.poll() is not None or time.time() > deadline:
                return {"status": "failed",
                        "error": f"iperf3 server on {address}:{port} did not start: {_read(server_log)[-300:]}"}
            time.sleep(0.02)
        client_cmd = path.wrap("a", ["iperf3", "-c", address, "-p", str(port), "-t", str(seconds),
                                     "-P", str(streams), "-J"])
        r = subprocess.run(client_cmd, capture_output=True, text=True, timeout=seconds + 30,
                           start_new_session=True)
        try:
            report = json.loads(r.stdout)
        except ValueError:
            return {"status": "failed",
                    "error": f"iperf3 client to {address}:{port} exited {r.returncode}: {r.stderr[-300:]}"}
        if "error" in report:
            return {"status": "failed", "error": f"iperf3 client to {address}:{port}: {report['error']}"}
        received = report["end"]["sum_received"]
        return {"status": "completed", "mbps": received["bits_per_second"] / 1e6,
                "bytes": received["bytes"], "seconds": received["seconds"],
                "retransmits": report["end"].get("sum_sent", {}).get("retransmits")}
    finally:
        cleanup.undo(server_entry)
        cleanup.undo(log_entry)


def _read(path):
    try:
        with open(path, errors="replace") as f:
            return f.read()
    except OSError:
        return ""

