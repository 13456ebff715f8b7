"""Page encodings end to end: a 256 MiB simulated guest whose pages compress (the sim's
"compressible" content) moves back and forth between two hosts once per `compress` mode, while it
writes 40 MiB/s into a 16 MiB working set. Every move must verify (page hashes at pause and the
guest's own check), and each mode must have done what it says on the wire:

- none: no encoded page; the wire carries at least the pages' bytes;
- lz4, zstd: encoded pages, and fewer bytes on the wire than the non-zero pages hold (zstd fewer
  than lz4: it compresses this content harder);
- delta: encoded pages (the re-dirtied working set goes as the bytes that changed);
- auto under --max-bandwidth 40 MB/s: the link is the bottleneck, so it compresses; the status
  says which encoding it chose and the link rate it measured;
- a PATCH that changes `compress` while a job runs is refused.
"""
import time

from ferrytest import Checks, Topology, log

MiB = 1 << 20
PAGE = 4096
c = Checks()
with Topology("cmp") as t:
    t.a.start_sim("z", 256 * MiB, 40, pattern="hot", wss=16 * MiB, content="compressible")
    time.sleep(0.5)
    hosts = [t.a, t.b]
    results = {}
    for i, mode in enumerate(["none", "lz4", "zstd", "delta", "auto"]):
        src, dst = hosts[i % 2], hosts[(i + 1) % 2]
        settings = {"compress": mode, "max-downtime-ms": 500}
        if mode == "auto":
            settings["max-bandwidth"] = 40 * 1000 * 1000
        mid = src.migrate("z", dst.endpoint, streams=2, verify=True, settings=settings)
        if mode == "auto":
            status, body = src.api("PATCH", f"/v1/migrations/{mid}", {"settings": {"compress": "lz4"}})
            c.check(status == 400 and "compress" in str(body),
                    f"changing compress while the job runs is refused: {status} {body}")
        final = src.wait_migration(mid)
        comp = final.get("compression", {})
        normal_bytes = final.get("normal", 0) * PAGE
        wire = final.get("transferred", 0)
        results[mode] = (comp, wire, normal_bytes)
        log(f"{mode}: status={final.get('status')} rounds={final.get('round', 0) + 1} "
            f"total={final.get('total-time')} ms downtime={final.get('downtime')} ms "
            f"wire={wire / MiB:.1f} MiB non-zero pages={normal_bytes / MiB:.1f} MiB "
            f"encoded={comp.get('encoded-pages')} encoding={comp.get('encoding')!r} "
            f"error={final.get('error')}")
        c.check(final.get("status") == "completed", f"{mode}: migration completed")
        v = final.get("verification", {})
        c.check(v.get("memory-equal") is True, f"{mode}: destination memory equals source at pause")
        c.check(v.get("guest", {}).get("ok") is True, f"{mode}: guest's own check on the destination")
        c.check(dst.vm("z") is not None and src.vm("z") is None, f"{mode}: guest moved")
        if mode == "none":
            c.check(comp.get("encoded-pages") == 0, f"none: no encoded page ({comp})")
            c.check(wire >= normal_bytes, f"none: wire {wire} >= page bytes {normal_bytes}")
        elif mode in ("lz4", "zstd"):
            c.check(comp.get("encoded-pages", 0) > 0, f"{mode}: pages were encoded ({comp})")
            c.check(wire < 0.8 * normal_bytes,
                    f"{mode}: wire {wire / MiB:.1f} MiB < 80% of page bytes {normal_bytes / MiB:.1f} MiB")
        elif mode == "delta":
            c.check(comp.get("encoded-pages", 0) > 0, f"delta: re-sent pages went as deltas ({comp})")
        else:
            encoding = comp.get("encoding", "")
            c.check(comp.get("encoded-pages", 0) > 0 and ("lz4" in encoding or "zstd" in encoding),
                    f"auto on a 40 MB/s link compresses: {comp}")
            # The last interval (the final round's tail) may not have waited; the rate it learned
            # while the link was the bottleneck stays.
            c.check("MB/s" in encoding and "rate unknown" not in encoding,
                    f"auto measured the link rate: {encoding!r}")
    if "lz4" in results and "zstd" in results:
        c.check(results["zstd"][1] < results["lz4"][1],
                f"zstd puts fewer bytes on the wire than lz4 ({results['zstd'][1]} < {results['lz4'][1]})")
    if c.failed:
        log("host-a log:\n" + t.a.log_tail(40))
        log("host-b log:\n" + t.b.log_tail(40))
c.finish()
