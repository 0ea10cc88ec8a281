from __future__ import annotations

from rigbench.engines.bootlog import parse_boot_log

SEED_LOG = """\
print_info: n_ctx_train = 202752
llama_context: n_ctx_seq (1000192) > n_ctx_train (202752) -- possible training context overflow
llama_kv_cache: size = 85709.81 MiB (1000192 cells, 78 layers, 1/1 seqs), K (f16): 48976.56 MiB, V (f16): 36733.25 MiB
srv load_model: the slot context (1000192) exceeds the training context of the model (202752) - capping
slot load_model: id 0 | task -1 | new slot, n_ctx = 202752
ggml_metal_device_init: tensor API disabled for pre-M5 and pre-A19 devices
ggml_metal_device_init: has tensor = false
"""

CUDA_LOG = """\
build: 7120 (a1b2c3d) with cc (GCC) 13.3.0 for x86_64-linux-gnu
ggml_cuda_init: found 1 CUDA devices:
  Device 0: NVIDIA H100 80GB HBM3, compute capability 9.0, VMM: yes
load_tensors: offloaded 33/33 layers to GPU
load_tensors:        CUDA0 model buffer size =  4403.49 MiB
load_tensors:   CPU_Mapped model buffer size =   281.81 MiB
main: server is listening on http://127.0.0.1:8080 - starting the main loop
"""


def test_seed_capping_log() -> None:
    f = parse_boot_log(SEED_LOG)
    assert f["n_ctx_train"] == 202752
    assert f["capped"] and f["requested_ctx"] == 1000192 and f["capped_to"] == 202752
    assert f["slot_n_ctx"] == 202752
    assert f["kv_cache"][0]["cells"] == 1000192 and f["kv_cache_mib"] == 85709.81
    assert f["ctx_overflow"] == {"n_ctx_seq": 1000192, "n_ctx_train": 202752}
    assert f["metal_has_tensor"] is False and f["backend"] == "Metal"


def test_cuda_log() -> None:
    f = parse_boot_log(CUDA_LOG)
    assert f["backend"] == "CUDA" and f["devices"] == ["NVIDIA H100 80GB HBM3"]
    assert f["build"] == "b7120-a1b2c3d" and f["offloaded"] == "33/33"
    assert f["model_buffers_mib"]["CUDA0"] == 4403.49
    assert f["listening"] == "http://127.0.0.1:8080"


def test_port_error_detected() -> None:
    f = parse_boot_log("start: couldn't bind HTTP server socket, hostname: 127.0.0.1, port: 8080\n")
    assert "error_port" in f


def test_garbage_is_harmless_and_a_quiet_log_names_no_backend() -> None:
    assert parse_boot_log("\x00\xff nonsense\n" * 10)["backend"] is None
    assert parse_boot_log("load_tensors:   CPU_Mapped model buffer size =   235.16 MiB\n")["backend"] == "CPU"


# the embedded engine (xllamacpp 2026.10.11549) at -c 1000000 on the bundled Gemma 3 270M: its own padding
# (the two KV lines without their timestamp prefix, to fit the line length)
EMBEDDED_1M_LOG = """\
0.14.136.548 I print_info: n_ctx_train           = 32768
0.14.136.624 I print_info: rope scaling          = linear
0.14.136.628 I print_info: n_ctx_orig_yarn       = 32768
0.14.383.958 I llama_context: n_ctx                 = 1000192
0.14.383.974 I llama_context: n_ctx_seq             = 1000192
0.14.384.159 W llama_context: n_ctx_seq (1000192) > n_ctx_train (32768) -- possible training context overflow
0.14.384.390 I llama_kv_cache_iswa: creating non-SWA KV cache, size = 1000192 cells
llama_kv_cache: size = 2930.25 MiB (1000192 cells,   3 layers,  1/1 seqs), K (f16): 1465.12 MiB, V (f16): 1465.12 MiB
0.51.627.199 I llama_kv_cache_iswa: creating     SWA KV cache, size = 1024 cells
llama_kv_cache: size =   15.00 MiB (  1024 cells,  15 layers,  1/1 seqs), K (f16):    7.50 MiB, V (f16):    7.50 MiB
0.56.576.339 W srv    load_model: the slot context (1000192) exceeds the training context of the model (32768) - capping
0.59.419.656 I srv    load_model: initializing, n_slots = 1, n_ctx_slot = 32768, kv_unified = 'false'
0.59.419.707 I slot   load_model: id  0 | task -1 | new slot, n_ctx = 32768
"""


def test_embedded_million_cell_log() -> None:
    """The lines as llama.cpp prints them (format strings checked in the xllamacpp wheel:
    "size = %7.2f MiB (%6u cells, %3d layers, %2u/%u seqs)", "... - capping")."""
    f = parse_boot_log(EMBEDDED_1M_LOG)
    assert f["n_ctx_train"] == 32768 and f["n_ctx"] == 1000192 and f["n_ctx_orig_yarn"] == 32768
    assert [(k["cells"], k["layers"], k["mib"]) for k in f["kv_cache"]] == [(1000192, 3, 2930.25), (1024, 15, 15.0)]
    assert f["kv_cache_mib"] == 2945.25
    assert f["capped"] and f["capped_to"] == 32768 and f["slot_n_ctx"] == 32768 and f["n_ctx_slot"] == 32768
    assert f["capping_line"] == "the slot context (1000192) exceeds the training context of the model (32768) - capping"
    assert f["ctx_overflow"] == {"n_ctx_seq": 1000192, "n_ctx_train": 32768}


def test_trained_context_from_a_yarn_sticker_log() -> None:
    from rigbench.engines.bootlog import trained_context

    sticker = parse_boot_log("print_info: n_ctx_train = 131072\nprint_info: rope scaling = yarn\n"
                             "print_info: n_ctx_orig_yarn = 32768\n")
    assert trained_context(sticker) == 32768
    assert trained_context(parse_boot_log(EMBEDDED_1M_LOG)) == 32768  # linear, orig == train
    plain = parse_boot_log("print_info: n_ctx_train = 40960\nprint_info: rope scaling = linear\n"
                           "print_info: n_ctx_orig_yarn = 8192\n")
    assert trained_context(plain) == 40960  # no YaRN declared: the original length is not a trained window
    assert trained_context({}, None) is None and trained_context({}, 4096) == 4096
