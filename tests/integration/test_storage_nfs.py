"""A guest whose disk is an image on shared NFS storage moves between hosts with its disk.

A real nfs-ganesha (scripts/fixtures/nfs-server) serves the storage repository from host A's
namespace; each agent maps the pool-level repository name to its own access in its configuration
file. Checks, through the engine and the NFS driver together:
- a VM started with an NFS disk owns it (the ownership record beside the image names host A);
- a migration whose destination maps the repository to a different export (a same-named but
  different file) is refused in prepare, naming the resource; the guest keeps running on A and
  verifies, the record still names A, and B holds no RAM file and no VM;
- a migration with the right mapping hands the disk over: the record names B, B's VM lists the
  resource active, the guest verifies; and back to A the same way.
"""
import json
import os
import subprocess
import sys
import tempfile

from ferrytest import Checks, Topology, can_use_netns, log

HERE = os.path.dirname(os.path.abspath(__file__))
NFS_SERVER = os.path.join(HERE, "..", "..", "scripts", "fixtures", "nfs-server")
MiB = 1 << 20

ok, why = can_use_netns()
if not ok:
    print(f"SKIPPED: needs network namespaces for the storage host: {why}", flush=True)
    sys.exit(0)
for tool in ("ganesha.nfsd", "rpcbind"):
    if not any(os.access(os.path.join(d, tool), os.X_OK) for d in
               ("/usr/bin", "/usr/sbin", "/bin", "/sbin")):
        print(f"SKIPPED: {tool} is not installed", flush=True)
        sys.exit(0)


def record(path):
    try:
        with open(path) as f:
            return json.loads(f.readline())
    except (OSError, ValueError):
        return {}


def owner(path):
    return record(path).get("owner")


def ram_files(agent):
    return sorted(f for f in os.listdir(agent.ram_dir))


c = Checks()
storage = None
workdir = None
repo = {"sr1": {"server": "10.231.0.1", "export": "/export"},
        "sr2": {"server": "10.231.0.1", "export": "/export"}}
repo_b = {"sr1": repo["sr1"],
          # B's mapping of sr2 is wrong: another export holding a file of the same name.
          "sr2": {"server": "10.231.0.1", "export": "/export-ro"}}
confdir = tempfile.mkdtemp(prefix="ferry-it-nfsconf-")
for host, mapping in (("a", repo), ("b", repo_b)):
    with open(os.path.join(confdir, f"{host}.json"), "w") as f:
        json.dump({"resources": {"nfs": {"repositories": mapping}}}, f)

try:
    with Topology("nfs", agent_extra_a=["--config", os.path.join(confdir, "a.json")],
                  agent_extra_b=["--config", os.path.join(confdir, "b.json")]) as t:
        # Outside the topology's directory: stopped by PID and removed in `finally` whatever happens.
        storage = tempfile.mkdtemp(prefix="ferry-it-nfs-storage-")
        os.makedirs(os.path.join(storage, "export", "vm1"))
        os.makedirs(os.path.join(storage, "export", "vm2"))
        os.makedirs(os.path.join(storage, "export-ro", "vm2"))
        for path in ("export/vm1/disk0.img", "export/vm2/disk0.img", "export-ro/vm2/disk0.img"):
            with open(os.path.join(storage, path), "wb") as f:
                f.truncate(16 * MiB)
        started = t.run_in(t.a, [NFS_SERVER, "start", storage, "10.231.0.1"],
                           capture_output=True, text=True)
        if started.returncode == 3:
            print(f"SKIPPED: {started.stderr.strip()}", flush=True)
            sys.exit(0)
        assert started.returncode == 0, f"nfs-server start: {started.stdout} {started.stderr}"
        log(f"NFS server on 10.231.0.1 (host A's namespace): {started.stdout.strip()}")
        record1 = os.path.join(storage, "export", "vm1", "disk0.img.owner")
        record2 = os.path.join(storage, "export", "vm2", "disk0.img.owner")

        def start(agent, name, sr):
            spec = {"name": name, "memory": 128 * MiB, "dirty_rate_mib": 20, "pattern": "uniform",
                    "seed": 3, "resources": [{"id": "disk0", "driver": "nfs", "sr": sr,
                                              "image": f"{name}/disk0.img"}]}
            return agent.api("POST", "/v1/vms", {"kind": "sim", "spec": spec})

        status, body = start(t.a, "vm1", "sr1")
        c.check(status == 201, f"vm1 starts on A with its NFS disk ({status} {body if status != 201 else ''})")
        res = (body or {}).get("resources", [])
        c.check(len(res) == 1 and res[0].get("active") is True, f"vm1's disk is active on A: {res}")
        c.check(owner(record1) == "host-a", f"ownership record names host-a ({owner(record1)})")
        status, body = start(t.a, "vm2", "sr2")
        c.check(status == 201, f"vm2 starts on A ({status})")

        # --- a wrong mapping on the destination is refused before the guest is touched
        mid = t.a.migrate("vm2", t.b.endpoint, verify=True)
        final = t.a.wait_migration(mid, timeout=120)
        err = final.get("error", "")
        log(f"vm2 -> B: status={final.get('status')} error={err}")
        c.check(final.get("status") == "failed", "migration with a wrong storage mapping fails")
        c.check("prepare" in err and "resource disk0 (nfs) on host host-b" in err,
                "the error names the phase, the resource and the host")
        c.check("fileid" in err or "file id" in err or "differ" in err,
                "the error says the destination reached a different file")
        c.check(t.a.vm("vm2") is not None and t.a.vm("vm2").get("state") == "running",
                "vm2 keeps running on A")
        c.check(t.a.verify("vm2").get("ok") is True, "vm2 verifies on A")
        c.check(owner(record2) == "host-a", f"vm2's record still names host-a ({owner(record2)})")
        c.check(t.b.vm("vm2") is None, "no vm2 on B")
        c.check(ram_files(t.b) == [], f"no RAM file left on B ({ram_files(t.b)})")

        # --- the right mapping: the disk follows the guest, and back
        for src, dst, name in ((t.a, t.b, "host-b"), (t.b, t.a, "host-a")):
            mid = src.migrate("vm1", dst.endpoint, verify=True)
            final = src.wait_migration(mid, timeout=300)
            log(f"vm1 {src.name} -> {dst.name}: status={final.get('status')} "
                f"downtime={final.get('downtime')} ms error={final.get('error')}")
            c.check(final.get("status") == "completed", f"vm1 moves {src.name} -> {dst.name}")
            v = final.get("verification", {})
            c.check(v.get("verified") is True, f"vm1 verified on {dst.name}")
            c.check(owner(record1) == name, f"ownership record names {name} ({owner(record1)})")
            on_dst = dst.vm("vm1") or {}
            res = on_dst.get("resources", [])
            c.check(len(res) == 1 and res[0].get("active") is True,
                    f"vm1's disk is active on {dst.name}: {res}")
            c.check(src.vm("vm1") is None, f"vm1 is gone from {src.name}")

        status, _ = t.a.api("DELETE", "/v1/vms/vm1")
        c.check(status == 200, "vm1 stops on A")
        r = record(record1)
        c.check(r.get("owner") is None and r.get("released-by") == "host-a",
                f"a stopped VM gives its disk up: {r}")
finally:
    if storage:
        stopped = subprocess.run([NFS_SERVER, "stop", storage], capture_output=True, text=True)
        if stopped.returncode != 0:
            log(f"nfs-server stop: {stopped.stdout} {stopped.stderr}")
        subprocess.run(["rm", "-rf", storage])
    subprocess.run(["rm", "-rf", confdir])
c.finish()
