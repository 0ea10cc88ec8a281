"""Monitors sampled beside the measuring of a recorded run (``jobs.lifecycle``): started
once the run row exists, stopped on every way out. The machine's other work is one;
energy samplers plug in the same way."""

from __future__ import annotations

from typing import Any

from rigbench.jobs.lifecycle import LIVES, Recording
from rigbench.model.machine import OtherLoad

__all__ = ["MachineLoad"]


class MachineLoad:
    """CPU time used by processes outside rigbench's own tree while the run measures
    (``model.machine.OtherLoad``): stored in the run's ``extra["other_load"]``, and a run on
    a busy machine says so, since configurations with more threads than free cores suffer
    most. A server attached by URL that runs on this machine is measured, not other load."""

    def __init__(self, interval_s: float = 1.0) -> None:
        self.load = OtherLoad(interval_s)

    def start(self, rec: Recording) -> None:
        self.load.__enter__()

    def server_started(self, rec: Recording, session: Any) -> None:
        if session.spec.kind == "url":  # launched servers are rigbench's children: its own tree
            self.load.watch(session.facts.base_url)

    def stop(self, rec: Recording) -> None:
        import psutil

        self.load.__exit__(None, None, None)
        cores = psutil.cpu_count() or 1
        busy = round(self.load.cores_busy(), 2)
        other: dict[str, Any] = {"cores_busy": busy, "cores": cores}
        if self.load.server_roots:
            servers = self.load.server_cores_busy()
            other["excluded_server_pids"] = sorted(self.load.server_roots)
            other["servers_cores_busy"] = round(servers, 2) if servers is not None else None
        rec.merge_extra(other_load=other)
        if busy > 0.25 * cores:
            rec.note(f"other processes kept {busy:.2f} of {cores} cores busy while this {LIVES[rec.kind].noun} ran: "
                     "a side with more threads than free cores suffers most, so the verdict holds for a machine "
                     "this busy")
