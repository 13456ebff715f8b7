"""Runs the plan path by path, in passes: every configuration once, then again until each has its
target number of runs. A pass interleaves the limit, ferry and QEMU, so slow drift of a shared
machine's load touches all of them alike. With a deadline (--quick) a run starts only if its
estimated length still fits: before `deadline` for repetitions, before `hard_deadline` for the
first run of a configuration (so that each gets at least one when at all possible)."""
import os
import shutil
import subprocess
import tempfile
import time

from ferrybench import ferry_migration, qemu_migration
from ferrybench.cleanup import pids_with_argument, stop_pid
from ferrybench.ferry_agent import FerryAgent
from ferrybench.log import log
from ferrybench.machine_info import mem_available_bytes, shm_free_bytes
from ferrybench.network_path import make_path
from ferrybench.plan import FERRY_QEMU, FERRY_SIM, FERRY_SIM_TLS, LIMIT, QEMU
from ferrybench.raw_tcp_limit import measure_limit

GiB = 1 << 30
# First-run estimates (seconds) before a configuration has been timed here, per GiB of guest.
FIRST_ESTIMATE_S = {FERRY_SIM: 10, FERRY_SIM_TLS: 10, QEMU: 16, FERRY_QEMU: 16}
FERRY_ENGINES = (FERRY_SIM, FERRY_SIM_TLS, FERRY_QEMU)


# The previous run's guests may still be giving their memory back (a guest stopped by its agent,
# RAM files being unlinked): wait this long for it before calling a configuration too large.
MEMORY_WAIT_S = 60


def _memory_within(need, wait_s):
    """Bytes of memory and /dev/shm both free, once `need` is reached or `wait_s` has passed."""
    deadline = time.time() + wait_s
    while True:
        have = min(mem_available_bytes(), shm_free_bytes())
        if have >= need or time.time() >= deadline:
            return have
        time.sleep(0.5)


class Schedule:
    def __init__(self, plan, ferry_binary, kernel, accel, cleanup, deadline=None, hard_deadline=None,
                 raw_dir=None):
        self.plan = plan
        self.ferry_binary = ferry_binary
        self.kernel, self.accel = kernel, accel
        self.cleanup = cleanup
        self.deadline = deadline
        self.hard_deadline = hard_deadline
        self.raw_dir = raw_dir
        self._agent_starts = 0
        self.entries = {c.key: {"samples": [], "skipped": None, "elapsed_s": []} for c in plan.configurations}

    def run(self, path_names):
        for name in path_names:
            self._run_path(name)
        return self.entries

    # ---- one path ----
    def _run_path(self, name):
        configs = [c for c in self.plan.configurations if c.path == name]
        path = make_path(name).setup(self.cleanup)
        self.path = path
        tag = f"ferry-bench-{os.getpid()}-{name}"
        self.work_dir = tempfile.mkdtemp(prefix=f"{tag}-", dir="/tmp")
        self.cleanup.path(self.work_dir)
        self.ram_dirs = {}
        for side in ("a", "b", "qemu"):
            d = f"/dev/shm/{tag}-{side}"
            os.makedirs(d, exist_ok=True)
            self.cleanup.path(d)
            self.ram_dirs[side] = d
        # Runs after the agents stopped, before their directories go.
        self.cleanup.processes_using(tag + "-", "guest")
        self.agents = None
        self.agents_tls = False
        self.pki_dir = None
        self.agent_entries = []
        self.qemu_kind_refused = None
        try:
            for rep in range(self.plan.runs):
                for config in configs:
                    if self._should_run(config, rep):
                        self._run_one(config, rep)
        finally:
            self._stop_agents()

    def _stop_agents(self):
        for entry in reversed(self.agent_entries):
            self.cleanup.undo(entry)
        self.agent_entries = []
        if self.agents and self.raw_dir:
            # Kept for diagnosis (bench/results/raw/ is not committed).
            os.makedirs(self.raw_dir, exist_ok=True)
            for agent in self.agents:
                if os.path.exists(getattr(agent, "log_path", "")):
                    shutil.copyfile(agent.log_path, os.path.join(
                        self.raw_dir, f"{self.path.name}-{agent.name}-{self._agent_starts}.log"))
        if self.agents:
            # Guests an agent could not stop (it crashed) still run on its RAM directory.
            for agent in self.agents:
                for pid in pids_with_argument(agent.ram_dir + "/"):
                    log(f"stopping guest process {pid} left by {agent.name}")
                    stop_pid(pid, grace_s=5, program_substring=agent.ram_dir)
        self.agents = None

    def _check_agents(self, config, sample):
        """An agent that died fails the ferry run it died in; the next run starts fresh agents."""
        if not self.agents:
            return
        dead = [a for a in self.agents if a.proc is None or a.proc.poll() is not None]
        if dead:
            a = dead[0]
            code = a.proc.returncode if a.proc else "no process"
            why = f"agent {a.name} exited with {code}: {a.log_tail(3)[-400:]}"
            if config.engine in FERRY_ENGINES:
                sample["status"] = "failed"
                sample["error"] = f"{(sample.get('error') or '')[:300]} [{why}]".strip()
            else:
                log(f"{why} (during {config.label}, which does not use it)")
            self._stop_agents()

    def _pool_certificates(self):
        """A pool CA and both agents' certificates (ferry pki), made once per path."""
        if self.pki_dir is None:
            d = os.path.join(self.work_dir, "pki")
            subprocess.run([self.ferry_binary, "pki", "init", "--dir", d], check=True,
                           capture_output=True, text=True)
            for side in ("a", "b"):
                subprocess.run([self.ferry_binary, "pki", "host", "--dir", d, "--name", f"bench-{side}",
                                "--ip", self.path.address(side)], check=True, capture_output=True, text=True)
            self.pki_dir = d
        return self.pki_dir

    def _agents(self, tls=False):
        if self.agents is not None and self.agents_tls != tls:
            self._stop_agents()  # one pair at a time: plain TCP or mutual TLS
        if self.agents is None:
            self.agents_tls = tls
            pki = self._pool_certificates() if tls else None
            # Fresh directories for every start: a crashed agent's socket or files never get in
            # the way of its successor.
            self._agent_starts += 1
            n = self._agent_starts
            a, b = (FerryAgent(self.ferry_binary, self.path, side,
                               os.path.join(self.work_dir, f"agent-{side}-{n}"),
                               os.path.join(self.ram_dirs[side], str(n)), pki_dir=pki)
                    for side in ("a", "b"))
            self.agents = (a, b)  # so that a failed start is still stopped and its log kept
            for agent in (a, b):
                agent.start(self.cleanup)
                self.agent_entries.append(agent.cleanup_entry)
            log(f"agents: {a.name} at {a.endpoint}, {b.name} at {b.endpoint}"
                f"{' (mutual TLS)' if tls else ' (plain TCP)'}")
        return self.agents

    def _first_estimate_s(self, config):
        if config.engine == LIMIT:
            return self.plan.limit_seconds + 2
        return FIRST_ESTIMATE_S[config.engine] * max(1, config.memory // GiB)

    def _estimate_s(self, config):
        """The longest this configuration took so far; before its first run, the first estimate
        scaled by how much slower than estimated the runs so far were (a loaded machine)."""
        elapsed = self.entries[config.key]["elapsed_s"]
        if elapsed:
            return 1.15 * max(elapsed)
        # Failed runs (a crash, a timeout) say nothing about how long a good run takes.
        slowdowns = [max(self.entries[c.key]["elapsed_s"]) / self._first_estimate_s(c)
                     for c in self.plan.configurations if self.entries[c.key]["elapsed_s"]]
        return self._first_estimate_s(config) * min(3.0, max([1.0] + slowdowns))

    def _should_run(self, config, rep):
        entry = self.entries[config.key]
        if entry["skipped"] or len(entry["samples"]) > rep:
            return False
        if any(s.get("status") == "timeout" for s in entry["samples"]):
            return False  # it did not converge once; repeating only burns the timeout again
        if config.engine == FERRY_QEMU and self.qemu_kind_refused:
            entry["skipped"] = self.qemu_kind_refused
            return False
        if config.engine in (QEMU, FERRY_QEMU) and not self.kernel:
            entry["skipped"] = "no test guest: build the ferry_test_guest target or pass --guest"
            return False
        if config.engine != LIMIT:
            need = 2 * config.memory + GiB // 2
            have = _memory_within(need, MEMORY_WAIT_S)
            if have < need:
                if not entry["samples"]:
                    entry["skipped"] = (f"needs {need / GiB:.1f} GiB of free memory and /dev/shm for both "
                                        f"hosts, {have / GiB:.1f} GiB available")
                return False
        # The first run of every configuration may use the hard limit; repetitions only the budget.
        deadline = self.hard_deadline if rep == 0 and self.hard_deadline else self.deadline
        if deadline and time.time() + self._estimate_s(config) > deadline:
            return False
        return True

    def _run_one(self, config, rep):
        entry = self.entries[config.key]
        started = time.time()
        try:
            sample = self._measure(config)
        except ferry_migration.Unsupported as e:
            self.qemu_kind_refused = str(e)
            entry["skipped"] = str(e)
            log(f"{config.path}: {config.label}: skipped: {e}")
            return
        except Exception as e:  # one broken run must not end the benchmark; Ctrl-C still does
            sample = {"status": "failed", "error": f"{config.label}: {type(e).__name__}: {e}"}
        self._check_agents(config, sample)
        elapsed = time.time() - started
        if sample.get("status") == "completed":
            entry["elapsed_s"].append(round(elapsed, 1))
        sample["started"] = time.strftime("%H:%M:%S", time.localtime(started))
        entry["samples"].append(sample)
        log(f"{config.path}: {config.label} run {rep + 1}: {_one_line(sample)} [{elapsed:.1f} s]")

    def _measure(self, config):
        if config.engine == LIMIT:
            return measure_limit(self.path, self.cleanup, config.streams, self.plan.limit_seconds)
        timeout = self.plan.timeout_s[config.memory]
        settings = ferry_migration.ferry_settings(self.plan.max_downtime_ms)
        if config.engine == FERRY_SIM:
            return ferry_migration.run_sim(self._agents(), config, self.cleanup, timeout, settings)
        if config.engine == FERRY_SIM_TLS:
            return ferry_migration.run_sim(self._agents(tls=True), config, self.cleanup, timeout, settings)
        if config.engine == FERRY_QEMU:
            return ferry_migration.run_qemu(self._agents(), config, self.cleanup, timeout, settings,
                                            self.kernel)
        return qemu_migration.run_native(self.path, config, self.cleanup, self.kernel, self.accel,
                                         self.work_dir, self.ram_dirs["qemu"], timeout,
                                         self.plan.max_downtime_ms)


def _one_line(sample):
    if sample.get("status") != "completed":
        return f"{sample.get('status')}: {sample.get('error')}"
    if "mbps" in sample:
        return f"{sample['mbps']:.0f} Mbit/s"
    return (f"total {sample['total_time_ms']} ms, downtime {sample['downtime_ms']} ms, "
            f"{sample['throughput_mbps']} Mbit/s, rounds {sample['rounds']}, "
            f"guest dirtied {sample.get('guest_dirty_rate_mib')} MiB/s")
