"""The ceiling of a model split over several devices, from the boot log's device lines.

The log lines are llama.cpp's own format strings (ggml-cuda.cu ``ggml_cuda_init``,
src/llama.cpp ``llama_prepare_model_devices``, ggml-rpc.cpp's device names), filled in as a
two-H200 machine and two rpc-servers on loopback print them.
"""

from __future__ import annotations

import pytest

from rigbench.engines.bootlog import parse_boot_log
from rigbench.jobs.ceiling import split_mode
from rigbench.measure.ceiling import annotate_points, ceiling_at, ceiling_statement, split_basis
from rigbench.types import EngineSpec

TWO_CUDA = """\
ggml_cuda_init: found 2 CUDA devices (Total VRAM: 287542 MiB):
  Device 0: NVIDIA H200, compute capability 9.0, VMM: yes, VRAM: 143771 MiB
  Device 1: NVIDIA H200, compute capability 9.0, VMM: yes, VRAM: 143771 MiB
main: loading model
llama_model_load_from_file_impl: using device CUDA0 (NVIDIA H200) (0000:19:00.0) - 142905 MiB free
llama_model_load_from_file_impl: using device CUDA1 (NVIDIA H200) (0000:3b:00.0) - 142905 MiB free
load_tensors: offloaded 33/33 layers to GPU
"""

RPC = """\
ggml_cuda_init: failed to initialize CUDA: no CUDA-capable device is detected
llama_model_load_from_file_impl: using device RPC0 (127.0.0.1:50052) (unknown id) - 142905 MiB free
llama_model_load_from_file_impl: using device RPC1 (127.0.0.1:50053) (unknown id) - 142905 MiB free
"""

# -sm tensor (llama.cpp's tensor parallelism), as an H200 pair printed it on 2026-11-30
TENSOR = """\
ggml_cuda_init: found 2 CUDA devices (Total VRAM: 286311 MiB):
  Device 0: NVIDIA H200, compute capability 9.0, VMM: yes, VRAM: 143155 MiB
  Device 1: NVIDIA H200, compute capability 9.0, VMM: yes, VRAM: 143155 MiB
I llama_prepare_model_devices: skipping CPU (Intel(R) Xeon(R) Processor) for tensor parallelism
I llama_prepare_model_devices: creating a Meta device for tensor parallelism from 2 devices:
I llama_prepare_model_devices: - device 0: CUDA0 (NVIDIA H200)
I llama_prepare_model_devices: - device 1: CUDA1 (NVIDIA H200)
I llama_prepare_model_devices: using device Meta() (Meta()) (unknown id) - 285258 MiB free
I load_tensors:       Meta() model buffer size =  2202.25 MiB
"""

ONE_CUDA = """\
ggml_cuda_init: found 1 CUDA devices (Total VRAM: 143771 MiB):
  Device 0: NVIDIA H200, compute capability 9.0, VMM: yes, VRAM: 143771 MiB
llama_model_load_from_file_impl: using device CUDA0 (NVIDIA H200) (0000:19:00.0) - 142905 MiB free
"""


def basis(split: dict | None) -> dict:
    b = {"bandwidth": {"gb_s": 4800.0, "source": "vendor figure for H200, the server's device"},
         "active_bytes_per_token": 4.8e9, "state_bytes": 0, "kv_terms": [[131072, None]]}
    if split:
        b["split"] = split
    return b


def test_the_boot_log_lists_every_device_the_model_is_on() -> None:
    f = parse_boot_log(TWO_CUDA)
    assert f["model_devices"] == [{"name": "CUDA0", "description": "NVIDIA H200"},
                                  {"name": "CUDA1", "description": "NVIDIA H200"}]
    assert f["devices"] == ["NVIDIA H200"]  # the engine line names each kind once, as before
    assert f["cuda_device_count"] == 2
    r = parse_boot_log(RPC)
    assert [d["name"] for d in r["model_devices"]] == ["RPC0", "RPC1"]
    assert r["devices"] == ["RPC0 (127.0.0.1:50052)", "RPC1 (127.0.0.1:50053)"]
    assert len(parse_boot_log(ONE_CUDA)["model_devices"]) == 1


def test_tensor_parallelism_lists_the_gpus_behind_its_meta_device() -> None:
    f = parse_boot_log(TENSOR)
    assert f["model_devices"] == [{"name": "CUDA0", "description": "NVIDIA H200"},
                                  {"name": "CUDA1", "description": "NVIDIA H200"}]
    assert f["devices"] == ["NVIDIA H200"]  # no "Meta(" device on the engine line
    split = split_basis(f["model_devices"], "tensor")
    assert split is not None and split["factor"] == 2


def test_split_mode_from_the_server_args() -> None:
    def spec(*extra: str) -> EngineSpec:
        return EngineSpec(kind="llama-server", model_path="m.gguf", extra_args=extra)

    assert split_mode(spec("-sm", "row")) == "row"
    assert split_mode(spec("--split-mode=layer")) == "layer"
    assert split_mode(spec("--rpc", "127.0.0.1:50052,127.0.0.1:50053")) is None


def test_layer_split_keeps_one_devices_ceiling_and_row_split_counts_both() -> None:
    devs = parse_boot_log(TWO_CUDA)["model_devices"]
    one = ceiling_at(basis(None), 0)
    layer = split_basis(devs, None)
    row = split_basis(devs, "row")
    assert layer is not None and layer["mode"] == "layer" and layer["factor"] == 1
    assert row is not None and row["factor"] == 2
    assert ceiling_at(basis(layer), 0) == pytest.approx(one)
    assert ceiling_at(basis(row), 0) == pytest.approx(2 * one)
    assert ceiling_at(basis(row), 4096) == pytest.approx(2 * ceiling_at(basis(None), 4096))
    pts = [{"depth": 0, "decode_tok_s": 200.0}]
    annotate_points(pts, basis(row))
    assert pts[0]["ceiling_tok_s"] == pytest.approx(2000.0, abs=0.1)


def test_the_statement_says_which_split_and_names_every_device() -> None:
    devs = parse_boot_log(TWO_CUDA)["model_devices"]
    pts = [{"depth": 0, "decode_tok_s": 200.0, "pct_of_ceiling": 20.0}]
    row = ceiling_statement(basis(split_basis(devs, "row")), pts)
    assert row is not None
    assert "2 x 4,800.0 GB/s" in row["statement"] and "split by row" in row["statement"]
    assert "CUDA0 NVIDIA H200, CUDA1 NVIDIA H200" in row["statement"]
    assert row["split"] == {"mode": "row", "devices": ["CUDA0 NVIDIA H200", "CUDA1 NVIDIA H200"], "rpc": False,
                            "bandwidth_factor": 2}
    layer = ceiling_statement(basis(split_basis(devs, "layer")), pts)
    assert layer is not None and "one after another" in layer["statement"] and " x " not in layer["statement"]
    rpc = ceiling_statement(basis(split_basis(parse_boot_log(RPC)["model_devices"], None)), pts)
    assert rpc is not None and "RPC backend" in rpc["statement"] and "RPC1 127.0.0.1:50053" in rpc["statement"]
    assert rpc["split"]["rpc"] is True and rpc["split"]["bandwidth_factor"] == 1


def test_one_device_or_sm_none_has_no_split() -> None:
    assert split_basis(parse_boot_log(ONE_CUDA)["model_devices"], None) is None
    assert split_basis(parse_boot_log(TWO_CUDA)["model_devices"], "none") is None
    s = ceiling_statement(basis(None), [])
    assert s is not None and "split" not in s
