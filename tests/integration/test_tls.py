"""Peers trust only their pool: agents authenticate each other with mutual TLS and a pool CA.

1. Hosts A and B with certificates from the pool CA (`ferry pki`) migrate a simulated guest,
   verified.
2. A restarted with a certificate from another CA, then with plain TCP (--insecure, no certificate
   at all): B refuses it during the handshake. The migration fails cleanly, the guest keeps running
   on A and verifies, B's log names A's address, and B wrote nothing (no RAM file, no VM).
3. A TLS client that trusts the pool but presents no certificate is refused too, and logged.
4. B answering with another pool member's certificate (valid, but not for B's address): A refuses
   before sending anything, the guest stays on A.
"""
import os
import shutil
import subprocess
import sys
import tempfile
import time

from ferrytest import FERRY, Checks, Topology, log

MiB = 1 << 20
c = Checks()
pki_dir = tempfile.mkdtemp(prefix="ferry-it-pki-")
foreign_dir = tempfile.mkdtemp(prefix="ferry-it-pki-foreign-")


def pki(*args):
    r = subprocess.run([FERRY, "pki", *args], capture_output=True, text=True)
    assert r.returncode == 0, f"ferry pki {' '.join(args)}: {r.returncode} {r.stderr}"
    return r.stdout


def identity(directory, host):
    return ["--tls-ca", os.path.join(pki_dir, "ca.pem"),
            "--tls-cert", os.path.join(directory, f"{host}.pem"),
            "--tls-key", os.path.join(directory, f"{host}-key.pem")]


def ram_files(agent):
    return sorted(os.listdir(agent.ram_dir))


def refused_attempt(t, label, needle):
    """A on a non-pool identity tries to move a fresh guest to B; B must refuse before any record."""
    name = f"stay-{label}"
    t.a.start_sim(name, 64 * MiB, 10)
    before = ram_files(t.b)
    log_size = os.path.getsize(os.path.join(t.b.state_dir, "agent.log"))
    mid = t.a.migrate(name, t.b.endpoint, streams=2, verify=True)
    final = t.a.wait_migration(mid, timeout=60)
    log(f"{label}: status={final.get('status')} error={final.get('error')}")
    c.check(final.get("status") == "failed", f"{label}: migration fails")
    c.check(final.get("vm-location") == "source", f"{label}: guest reported on the source")
    on_a = t.a.vm(name)
    c.check(on_a is not None and on_a.get("state") == "running", f"{label}: guest runs on A: {on_a}")
    c.check(t.a.verify(name).get("ok") is True, f"{label}: guest verifies on A")
    c.check(t.b.vm(name) is None, f"{label}: no VM '{name}' on B")
    c.check(ram_files(t.b) == before, f"{label}: no RAM file written on B ({ram_files(t.b)})")
    with open(os.path.join(t.b.state_dir, "agent.log"), errors="replace") as f:
        f.seek(log_size)
        new_log = f.read()
    refusals = [line for line in new_log.splitlines()
                if "refused peer" in line and f"{t.a.address}:" in line]
    c.check(len(refusals) > 0, f"{label}: B's log names the peer {t.a.address}: {refusals[:1]}")
    c.check(any(needle in line for line in refusals),
            f"{label}: B's log gives the reason ('{needle}')")
    c.check("incoming migration" not in new_log, f"{label}: B never saw an OFFER")


try:
    pki("init", "--dir", pki_dir, "--name", "test pool")
    pki("init", "--dir", foreign_dir, "--name", "foreign pool")
    for host, ip in (("host-a", "10.231.0.1"), ("host-b", "10.231.0.2")):
        pki("host", "--dir", pki_dir, "--name", host, "--ip", ip, "--ip", "127.0.0.1")
    pki("host", "--dir", foreign_dir, "--name", "host-a", "--ip", "10.231.0.1")
    mode = os.stat(os.path.join(pki_dir, "host-a-key.pem")).st_mode & 0o777
    c.check(mode == 0o600, f"host key written with mode {mode:o}")
    again = subprocess.run([FERRY, "pki", "init", "--dir", pki_dir], capture_output=True, text=True)
    c.check(again.returncode != 0 and "already" in again.stderr,
            f"pki init refuses to replace the pool CA: {again.stderr.strip()}")
    bare = subprocess.run([FERRY, "agent", "--check-config", "--state-dir", pki_dir],
                          capture_output=True, text=True)
    c.check(bare.returncode != 0 and "--insecure" in (bare.stdout + bare.stderr),
            f"an agent with neither TLS nor --insecure refuses to start: {bare.stderr.strip()[-160:]}")

    with Topology("tls", agent_extra_a=identity(pki_dir, "host-a"),
                  agent_extra_b=identity(pki_dir, "host-b")) as t:
        t.a.start_sim("pool-1", 128 * MiB, 20)
        start = time.time()
        mid = t.a.migrate("pool-1", t.b.endpoint, streams=2, verify=True)
        final = t.a.wait_migration(mid, timeout=120)
        log(f"pool members: status={final.get('status')} in {time.time() - start:.1f} s "
            f"error={final.get('error')}")
        c.check(final.get("status") == "completed", "pool members: migration over TLS completed")
        c.check(final.get("verification", {}).get("verified") is True, "pool members: verified")
        c.check(t.b.vm("pool-1") is not None and t.a.vm("pool-1") is None, "guest moved to B")
        c.check("mutual TLS" in t.b.log_tail(200), "B's log says its peers use mutual TLS")

        # A with a certificate from another CA (it still trusts the pool CA, so only B can refuse).
        t.a.stop()
        both_cas = os.path.join(foreign_dir, "both-cas.pem")
        with open(both_cas, "w") as out:
            for d in (foreign_dir, pki_dir):
                with open(os.path.join(d, "ca.pem")) as f:
                    out.write(f.read())
        t.a.extra = ["--tls-ca", both_cas,
                     "--tls-cert", os.path.join(foreign_dir, "host-a.pem"),
                     "--tls-key", os.path.join(foreign_dir, "host-a-key.pem")]
        t.a.start()
        refused_attempt(t, "foreign-ca", "certificate verify failed")

        # A without any certificate: plain TCP.
        t.a.stop()
        t.a.extra = ["--insecure"]
        t.a.start()
        refused_attempt(t, "no-certificate", "does not speak TLS")

        # A TLS client that trusts the pool but presents no certificate.
        probe = ("import socket, ssl, sys\n"
                 "ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT); ctx.check_hostname = False\n"
                 f"ctx.load_verify_locations({os.path.join(pki_dir, 'ca.pem')!r})\n"
                 f"s = ctx.wrap_socket(socket.create_connection(({t.b.address!r}, {t.b.port})))\n"
                 "try:\n"
                 "    s.sendall(b'x' * 12); data = s.recv(16)\n"
                 "    print('accepted' if data else 'closed')\n"
                 "except (ssl.SSLError, OSError) as e:\n"
                 "    print('refused', e)\n")
        log_size = os.path.getsize(os.path.join(t.b.state_dir, "agent.log"))
        r = t.run_in(t.a, [sys.executable, "-c", probe], capture_output=True, text=True, timeout=30)
        c.check("accepted" not in r.stdout, f"TLS client without certificate: {r.stdout.strip()}")
        time.sleep(0.2)
        with open(os.path.join(t.b.state_dir, "agent.log"), errors="replace") as f:
            f.seek(log_size)
            new_log = f.read()
        c.check(f"refused peer {t.a.address}:" in new_log and "certificate" in new_log,
                f"B logs the refusal with the address: {new_log.strip()[-200:]}")
        c.check(t.b.vm("pool-1") is not None and t.b.verify("pool-1").get("ok") is True,
                "the guest that moved earlier still verifies on B")

        # B answering with another pool member's certificate (host-a's, for 10.231.0.1): a valid
        # pool certificate, but not for the address A dialled. A must refuse to send anything.
        t.a.stop()
        t.a.extra = identity(pki_dir, "host-a")
        t.a.start()
        t.b.stop()
        t.b.extra = identity(pki_dir, "host-a")
        t.b.start()
        name = "stay-impostor"
        t.a.start_sim(name, 64 * MiB, 10)
        before = ram_files(t.b)
        mid = t.a.migrate(name, t.b.endpoint, streams=2, verify=True)
        final = t.a.wait_migration(mid, timeout=60)
        err = final.get("error") or ""
        log(f"impostor: status={final.get('status')} error={err}")
        c.check(final.get("status") == "failed" and "mismatch" in err,
                f"impostor: A refuses a pool certificate that does not name {t.b.address}")
        c.check((t.a.vm(name) or {}).get("state") == "running" and t.a.verify(name).get("ok") is True,
                "impostor: the guest runs and verifies on A")
        c.check(ram_files(t.b) == before and t.b.vm(name) is None, "impostor: nothing written on B")
        t.b.stop()
        t.b.extra = identity(pki_dir, "host-b")
        t.b.start()
        if c.failed:
            log("host-a log:\n" + t.a.log_tail(30))
            log("host-b log:\n" + t.b.log_tail(30))
finally:
    shutil.rmtree(pki_dir, ignore_errors=True)
    shutil.rmtree(foreign_dir, ignore_errors=True)
c.finish()
