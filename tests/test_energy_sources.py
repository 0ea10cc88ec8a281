"""Power sources: RAPL on a fake powercap tree, NVML / amdsmi / IOReport through stubs of
their libraries' APIs (no GPU and no Mac here), the wall-plug command, detection."""

from __future__ import annotations

import stat
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from energy_fakes import RaplWriter, fake_amdsmi, fake_pynvml, fake_zeus_apple, powercap_tree

from rigbench.energy.amd import amd_sources
from rigbench.energy.apple import apple_sources, soc_millijoules
from rigbench.energy.base import PowerSource, SourceUnavailable
from rigbench.energy.command import MAX_OUTPUT, PowerCommand, PowerCommandError, parse_watts, program_name
from rigbench.energy.detect import detect_sources
from rigbench.energy.nvml import nvml_sources
from rigbench.energy.rapl import rapl_sources
from rigbench.errors import UsageError


# -- RAPL ---------------------------------------------------------------------------------
def test_rapl_finds_package_and_dram_zones_only(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    powercap_tree(tmp_path, packages=2, start_uj=1_500_000)
    monkeypatch.setenv("RIGBENCH_POWERCAP_ROOT", str(tmp_path))
    zones = rapl_sources()
    assert [(z.channel, z.covers) for z in zones] == [
        ("package-0", "cpu_package"), ("dram-0", "dram"), ("package-1", "cpu_package"), ("dram-1", "dram")]
    assert all(isinstance(z, PowerSource) and z.kind == "counter" for z in zones)
    assert zones[0].read().value == pytest.approx(1.5)
    assert zones[0].wrap == pytest.approx(262143.32885)


def test_rapl_reading_follows_a_writer_at_known_watts(tmp_path: Path) -> None:
    files = powercap_tree(tmp_path, dram=False)
    zone = rapl_sources(tmp_path)[0]
    reads = []
    with RaplWriter(files["package-0"], 50.0, step_s=0.002):
        for _ in range(25):
            reads.append(zone.read())
            time.sleep(0.04)
    # the slope of joules against time (least squares): one read made stale by a busy machine cannot sway it
    ts = [r.t_ns / 1e9 for r in reads]
    es = [r.value for r in reads]
    mt, me = sum(ts) / len(ts), sum(es) / len(es)
    watts = sum((t - mt) * (e - me) for t, e in zip(ts, es, strict=True)) / sum((t - mt) ** 2 for t in ts)
    assert watts == pytest.approx(50.0, rel=0.05)


def test_rapl_missing_tree_and_unreadable_counter_say_so_in_one_line(tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(SourceUnavailable, match="no powercap tree"):
        rapl_sources(tmp_path / "nothing")
    powercap_tree(tmp_path, dram=False)
    real_open = Path.open

    def denied(self: Path, *a: object, **k: object) -> object:
        if self.name == "energy_uj":
            raise PermissionError(13, "Permission denied")
        return real_open(self, *a, **k)  # type: ignore[arg-type]

    monkeypatch.setattr(Path, "open", denied)
    with pytest.raises(SourceUnavailable) as e:
        rapl_sources(tmp_path)
    line = e.value.one_line()
    assert "root only" in line and "energy_uj" in line and "\n" not in line


def test_rapl_garbage_in_a_counter_file_is_not_a_reading(tmp_path: Path) -> None:
    files = powercap_tree(tmp_path, dram=False)
    files["package-0"].write_text("lots\n")
    with pytest.raises(SourceUnavailable, match="no package or dram zone"):
        rapl_sources(tmp_path)


# -- NVML (a stub of pynvml's API: no GPU here; real GPUs are issue 18's) -------------------------------------
def test_nvml_uses_the_energy_counter_where_the_gpu_has_it() -> None:
    nv = fake_pynvml([{"name": "NVIDIA H200", "energy_mj": lambda: 123_456, "power_mw": lambda: 250_000},
                      {"name": "Tesla P4", "energy_mj": None, "power_mw": lambda: 60_500}])
    gpus = nvml_sources(nv)
    assert [(g.channel, g.kind, g.name) for g in gpus] == [("gpu0", "counter", "NVIDIA H200"),
                                                          ("gpu1", "power", "Tesla P4")]
    assert gpus[0].read().value == pytest.approx(123.456)  # joules
    assert gpus[1].read().value == pytest.approx(60.5)  # watts
    assert nv.state["inits"] == 2  # one held per channel until close
    for g in gpus:
        g.close()
    assert nv.state["inits"] == 0


def test_nvml_without_driver_or_permission_says_so() -> None:
    with pytest.raises(SourceUnavailable, match="NVML: cannot initialise"):
        nvml_sources(fake_pynvml([], init_error=9))
    with pytest.raises(SourceUnavailable, match="no NVIDIA GPU"):
        nvml_sources(fake_pynvml([]))
    with pytest.raises(SourceUnavailable, match="permission"):
        nvml_sources(fake_pynvml([{"name": "x", "energy_mj": None, "energy_error": 4, "power_mw": None,
                                   "power_error": 4}]))


def test_nvml_not_installed_is_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pynvml", None)
    with pytest.raises(SourceUnavailable, match=r"nvidia-ml-py .*not installed") as e:
        nvml_sources()
    assert "rigbench[nvidia]" in (e.value.hint or "")


# -- amdsmi (stub) ------------------------------------------------------------------------------
def test_amdsmi_counter_in_resolution_units_and_power_fallback() -> None:
    amd = fake_amdsmi([{"energy": lambda: {"energy_accumulator": 1000, "counter_resolution": 15.3}},
                       {"energy": lambda: {"power": 2000, "counter_resolution": 15.3}},  # older releases
                       {"energy": None, "power": lambda: {"socket_power": "N/A", "current_socket_power": 310}}])
    gpus = amd_sources(amd)
    assert [g.kind for g in gpus] == ["counter", "counter", "power"]
    assert gpus[0].read().value == pytest.approx(0.0153)
    assert gpus[1].read().value == pytest.approx(0.0306)
    assert gpus[2].read().value == pytest.approx(310.0)
    for g in gpus:
        g.close()
    assert amd.state["shutdowns"] == 1


# -- Apple Silicon (recorded values through a stub of zeus_apple_silicon; no Mac here) -------------------
RECORDED = [  # cumulative mJ as an M-series Mac reports them; the ANE idle, a chip without DRAM channel
    {"cpu_total_mj": 1_204_311, "gpu_mj": 880_120, "ane_mj": 0, "dram_mj": 210_400, "gpu_sram_mj": 1_200},
    {"cpu_total_mj": 1_206_811, "gpu_mj": 885_120, "ane_mj": 0, "dram_mj": 211_400, "gpu_sram_mj": 1_230},
]


def test_ioreport_sums_cpu_gpu_ane_dram_but_not_gpu_sram() -> None:
    mj, parts = soc_millijoules(type("M", (), RECORDED[0])())
    assert mj == 1_204_311 + 880_120 + 0 + 210_400 and parts == ["cpu", "gpu", "ane", "dram"]
    old = type("M", (), {"cpu_mj": 10, "gpu_mj": 5, "ane_mj": None, "dram_mj": None})()  # before 1.0
    assert soc_millijoules(old) == (15.0, ["cpu", "gpu"])
    src = apple_sources(fake_zeus_apple([RECORDED[0], *RECORDED]))[0]
    a, b = src.read(), src.read()
    assert b.value - a.value == pytest.approx((2_500 + 5_000 + 1_000) / 1e3)
    assert src.covers == "soc" and src.parts == ["cpu", "gpu", "ane", "dram"]


def test_ioreport_off_a_mac_says_so() -> None:
    if sys.platform == "darwin":
        pytest.skip("on a Mac")
    with pytest.raises(SourceUnavailable, match="not an Apple Silicon Mac"):
        apple_sources()


# -- the wall-plug command ---------------------------------------------------------------------
def _script(tmp_path: Path, body: str) -> str:
    p = tmp_path / "plug.sh"
    p.write_text("#!/bin/sh\n" + body + "\n")
    p.chmod(p.stat().st_mode | stat.S_IEXEC)
    return str(p)


@pytest.mark.parametrize(("text", "watts"), [("87.5", 87.5), ("87.5 W\n", 87.5), ("\n 120W", 120.0),
                                              ("87500 mW", 87.5), ("0.5 kW", 500.0), ("0", 0.0), ("1e2", 100.0)])
def test_parse_watts(text: str, watts: float) -> None:
    assert parse_watts(text) == pytest.approx(watts)


@pytest.mark.parametrize("text", ["", "hello", "-5", "87.5 V", "1e9", "nan", "\x1b[31m80"])
def test_parse_watts_refuses(text: str) -> None:
    with pytest.raises(PowerCommandError) as e:
        parse_watts(text)
    assert "\n" not in e.value.one_line()


def test_power_command_reads_a_script(tmp_path: Path) -> None:
    cmd = PowerCommand(_script(tmp_path, "echo '42.5 W'") + " --token s3cret")
    r = cmd.read()
    assert r.value == 42.5 and cmd.name == "plug.sh"
    assert program_name("/opt/kasa/bin/kasa --password hunter2 emeter") == "kasa"


def test_power_command_slow_failing_or_flooding_is_named(tmp_path: Path) -> None:
    slow = PowerCommand(_script(tmp_path, "sleep 5; echo 10"), timeout_s=0.3)
    t0 = time.monotonic()
    with pytest.raises(PowerCommandError, match=r"longer than 0\.3 s"):
        slow.read()
    assert time.monotonic() - t0 < 2.0
    with pytest.raises(PowerCommandError, match="exited with status 3"):
        PowerCommand("echo 5; exit 3").read()
    with pytest.raises(PowerCommandError, match="not watts"):
        PowerCommand("echo volts").read()
    # endless output: read to MAX_OUTPUT bytes, then killed at the deadline
    flood = PowerCommand("yes 12", timeout_s=0.5)
    with pytest.raises(PowerCommandError, match="longer than"):
        flood.read()
    assert MAX_OUTPUT == 4096
    with pytest.raises(PowerCommandError, match="empty"):
        PowerCommand("  ")


# -- detection -----------------------------------------------------------------------------------
def test_no_source_here_names_what_was_checked(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RIGBENCH_POWERCAP_ROOT", str(tmp_path / "none"))
    monkeypatch.setitem(sys.modules, "pynvml", None)
    monkeypatch.setitem(sys.modules, "amdsmi", None)
    d = detect_sources()
    assert d.sources == []
    assert d.statement() == "energy: no power source here (checked NVML, amdsmi, RAPL, IOReport)"
    assert len(d.problems) == 4 and all("\n" not in p for p in d.problems)


def test_detection_adds_up_components_and_a_wall_meter_stands_alone(tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    powercap_tree(tmp_path, dram=True)
    monkeypatch.setenv("RIGBENCH_POWERCAP_ROOT", str(tmp_path))
    nv = fake_pynvml([{"name": "GPU", "energy_mj": lambda: 1, "power_mw": lambda: 1}])
    probes = [("NVML", lambda: nvml_sources(nv)), ("RAPL", rapl_sources)]
    d = detect_sources(probes=probes)
    assert [s.channel for s in d.sources] == ["gpu0", "package-0", "dram-0"]
    assert "nvml: gpu0 (gpu board)" in d.statement() and "rapl: package-0 (cpu package), dram-0 (dram)" in d.statement()
    d.close()
    wall = detect_sources("echo 99")
    assert [s.source for s in wall.sources] == ["power-cmd"] and wall.checked == ["power-cmd"]
    with pytest.raises(UsageError, match="--power-cmd: the power command printed 'nope', not watts"):
        detect_sources("echo nope")


def test_a_vendor_library_failing_its_own_way_never_ends_the_run() -> None:
    def boom() -> list[PowerSource]:
        raise KeyError("libamd_smi.so")

    d = detect_sources(probes=[("amdsmi", boom)])
    assert d.sources == [] and d.problems == ["amdsmi: KeyError: 'libamd_smi.so'"]


# -- the sampler -----------------------------------------------------------------------------------
class _Flaky:
    source, channel, covers, kind, wrap, interval_s = "fake", "flaky", "system", "power", None, 0.01

    def __init__(self, good: int) -> None:
        self.good = good

    def read(self) -> Any:
        from rigbench.energy.base import Reading, clock_ns

        if self.good <= 0:
            raise OSError("the meter went away")
        self.good -= 1
        return Reading(clock_ns(), 42.0)

    def close(self) -> None:
        pass


class _Rec:
    def __init__(self, store: Any, run_id: int) -> None:
        self.store, self.run_id, self.notes, self.extra = store, run_id, [], {}

    def note(self, text: str) -> None:
        self.notes.append(text)

    def merge_extra(self, **values: Any) -> None:
        self.extra.update(values)


def test_sampler_stores_phases_and_stops_a_failing_channel_with_one_note(tmp_path: Path) -> None:
    from rigbench.energy.detect import Detection
    from rigbench.energy.sampler import EnergySampler
    from rigbench.store import open_store
    from rigbench.store.energy import energy_samples

    store = open_store(str(tmp_path / "s.db"))
    try:
        run_id = store.create_run(kind="run", spec=None, params={}, command="", machine={}, tool_version="t")
        rec = _Rec(store, run_id)
        s = EnergySampler(Detection([_Flaky(20)], ["fake"], []), idle_s=0.05, flush_s=0.05)
        s.start(rec)
        s.server_started(rec)
        time.sleep(0.5)
        s.stop(rec)
        rows = energy_samples(store, run_id)
    finally:
        store.close()
    assert len(rows) == 20 and {r["phase"] for r in rows} <= {"setup", "idle", "run"}
    assert [r["t_ns"] for r in rows] == sorted(r["t_ns"] for r in rows)
    assert rec.notes == ["energy: fake flaky stopped after 5 failed reads in a row (OSError: the meter went away)"]
    assert rec.extra["energy"]["sources"][0]["channel"] == "flaky"


def test_sampler_with_no_source_only_says_why(tmp_path: Path) -> None:
    from rigbench.energy.detect import Detection
    from rigbench.energy.sampler import EnergySampler

    rec = _Rec(None, 1)
    s = EnergySampler(Detection([], ["NVML", "RAPL"], ["RAPL: no powercap tree at /x"]))
    t0 = time.monotonic()
    s.start(rec)
    s.server_started(rec)  # no idle wait when nothing is sampled
    s.stop(rec)
    assert time.monotonic() - t0 < 1.0
    assert rec.notes == [] and rec.extra["energy"]["problems"] == ["RAPL: no powercap tree at /x"]


def test_a_resumed_run_read_by_other_channels_says_so(tmp_path: Path) -> None:
    from rigbench.energy.detect import Detection
    from rigbench.energy.sampler import EnergySampler
    from rigbench.store import open_store

    store = open_store(str(tmp_path / "s.db"))
    try:
        run_id = store.create_run(kind="run", spec=None, params={}, command="", machine={}, tool_version="t")
        store.update_run(run_id, extra={"energy": {"sources": [{"source": "power-cmd", "channel": "wall"}]}})
        rec = _Rec(store, run_id)
        s = EnergySampler(Detection([_Flaky(3)], ["fake"], []), idle_s=0.0)
        s.start(rec)
        s.stop(rec)
    finally:
        store.close()
    assert rec.notes[0] == ("energy: this resumed run is read by fake flaky, its earlier requests by power-cmd wall: "
                            "a depth measured partly by each mixes them")
