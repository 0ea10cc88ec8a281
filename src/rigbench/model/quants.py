"""Quantization schemes as data: which tensor gets which type, and what that costs in bytes.

Public:

- ``QUANTS``: the scheme names rigbench knows (GGUF file types and MLX 4-bit / 8-bit).
- ``Tensor``: one weight by llama.cpp's name, its shape (row length first, as GGUF stores it)
  and its layer.
- ``ModelHints``: the few model facts llama.cpp's rules look at (expert count, GQA ratio,
  layer count, whether it is the 70B Llama, whether the embedding is tied).
- ``tensor_type(scheme, tensor, hints, attn_v_index)``: the type a tensor gets.
- ``tensor_bytes(type_name, tensor)``: its bytes. GGUF types from ``gguf.GGML_QUANT_SIZES``
  (Q4_K: 144 bytes per 256 weights, Q6_K: 210, Q8_0: 34 per 32 ...); MLX types below.

GGUF rules follow llama.cpp's ``src/llama-quant.cpp`` (``llama_tensor_get_type_impl`` and
``tensor_type_fallback``) for quantizing from an F16/BF16 GGUF, with these choices made:

- 1D tensors (norms, biases, attention sinks), ``*_norm.weight``, ``ssm_conv1d``, the MoE router
  (``ffn_gate_inp``) and ``rope_freqs`` are not quantized: they stay F32 as the converter
  writes them.
- ``use_more_bits(i, n)`` (the first and last eighth of the layers and every third between)
  picks Q6_K for ``attn_v`` and ``ffn_down`` in Q4_K_M and Q5_K_M; the output projection (or a
  tied token embedding) is Q6_K; a row length that does not divide the block size falls back
  (Q4_K -> Q5_0, Q5_K -> Q5_1, Q6_K -> Q8_0, IQ* -> IQ4_NL; the output to Q8_0).
- IQ3_XXS needs an importance matrix, and published IQ files are made with one: the rules
  are taken with ``has_imatrix`` true for IQ3_XXS and IQ4_XS.
- MXFP4_MOE: expert tensors (3D) MXFP4, everything else Q8_0 (gpt-oss is published so).

MLX (``mlx.core.quantize``, used by ``mlx_lm.convert -q``): affine quantization in groups of
64 weights along the row, each group with a scale and a bias in the model's 16-bit dtype, so
4-bit is 64 x 4 / 8 + 2 + 2 = 36 bytes per 64 weights (4.5 bits per weight) and 8-bit 68
bytes (8.5). Matrices whose row length divides 64 are quantized (embeddings included, as
``nn.quantize`` does), the rest stays 16-bit; norms stay 16-bit.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["MLX_GROUP_SIZE", "QUANTS", "ModelHints", "Tensor", "file_type_id", "is_mlx", "tensor_bytes",
           "tensor_type"]

MLX_GROUP_SIZE = 64
_MLX_BITS = {"MLX-4bit": 4, "MLX-8bit": 8}
# scheme -> (default ggml type, gguf LlamaFileType name)
_GGUF: dict[str, tuple[str, str]] = {
    "Q4_K_M": ("Q4_K", "MOSTLY_Q4_K_M"), "Q5_K_M": ("Q5_K", "MOSTLY_Q5_K_M"), "Q6_K": ("Q6_K", "MOSTLY_Q6_K"),
    "Q8_0": ("Q8_0", "MOSTLY_Q8_0"), "IQ4_XS": ("IQ4_XS", "MOSTLY_IQ4_XS"), "IQ3_XXS": ("IQ3_XXS", "MOSTLY_IQ3_XXS"),
    "F16": ("F16", "MOSTLY_F16"), "BF16": ("BF16", "MOSTLY_BF16"), "MXFP4_MOE": ("MXFP4", "MOSTLY_MXFP4_MOE"),
}
QUANTS: tuple[str, ...] = (*_GGUF, *_MLX_BITS)
_FALLBACK = {"IQ3_XXS": "IQ4_NL", "IQ3_S": "IQ4_NL", "IQ2_S": "IQ4_NL", "IQ4_XS": "IQ4_NL", "Q3_K": "Q4_0",
             "Q4_K": "Q5_0", "Q5_K": "Q5_1", "Q6_K": "Q8_0"}
_KEEP = ("_norm.weight", "ffn_gate_inp.weight", "rope_freqs.weight", "ssm_conv1d")


@dataclass(frozen=True)
class Tensor:
    name: str
    shape: tuple[int, ...]  # GGUF order: shape[0] is the row length
    layer: int | None = None

    @property
    def n_elements(self) -> int:
        n = 1
        for d in self.shape:
            n *= d
        return n


@dataclass(frozen=True)
class ModelHints:
    n_layer_all: int  # every block, MTP/NextN ones included (llama.cpp's n_layer_all)
    n_expert: int = 0
    n_gqa: int = 1  # n_head / n_head_kv
    llama_70b: bool = False  # llama.cpp's LLM_TYPE_70B: more bits for attn_v
    tied: bool = False  # no output.weight: token_embd is quantized as the output
    n_attn_v: int = 0  # how many attn_v tensors there are (the use_more_bits count)


def is_mlx(scheme: str) -> bool:
    return scheme in _MLX_BITS


def file_type_id(scheme: str) -> int | None:
    """general.file_type a GGUF of this scheme declares (None for MLX)."""
    if scheme not in _GGUF:
        return None
    from gguf import LlamaFileType

    return int(LlamaFileType[_GGUF[scheme][1]])


def _block(type_name: str) -> tuple[int, int]:
    from gguf import GGML_QUANT_SIZES, GGMLQuantizationType

    return GGML_QUANT_SIZES[GGMLQuantizationType[type_name]]


def _more_bits(i: int, n: int) -> bool:
    return i < n // 8 or i >= 7 * n // 8 or (i - n // 8) % 3 == 2


def _category(name: str) -> str:
    if name == "output.weight":
        return "output"
    if name in ("token_embd.weight", "per_layer_token_embd.weight"):
        return "token_embd"
    for key, cat in (("attn_qkv.weight", "attn_v"), ("attn_kv_b.weight", "attn_v"), ("attn_v.weight", "attn_v"),
                     ("attn_k.weight", "attn_k"), ("attn_q.weight", "attn_q"), ("attn_output.weight", "attn_output"),
                     ("ffn_up", "ffn_up"), ("ffn_gate", "ffn_gate"), ("ffn_down", "ffn_down")):
        if key in name:
            return cat
    return "other"


def _quantizable(t: Tensor) -> bool:
    return len(t.shape) >= 2 and t.name.endswith("weight") and not any(k in t.name for k in _KEEP)


def _rules(scheme: str, default: str, cat: str, t: Tensor, h: ModelHints, attn_v_index: int) -> str:
    """llama_tensor_get_type_impl for the schemes in QUANTS."""
    new = default
    if cat == "output" or (h.tied and cat == "token_embd"):
        if t.shape[0] % _block(new)[0] != 0 or scheme == "MXFP4_MOE":
            return "Q8_0"
        if scheme == "IQ3_XXS":
            return "Q5_K"
        return "Q6_K" if new != "Q8_0" else new
    if scheme == "MXFP4_MOE":
        return "MXFP4" if len(t.shape) >= 3 and t.shape[2] > 1 else "Q8_0"
    if cat == "token_embd":
        return "IQ3_S" if scheme == "IQ3_XXS" else new
    layer = t.layer if t.layer is not None else 0
    n = h.n_layer_all
    if cat == "attn_v":
        if scheme == "IQ3_XXS":
            new = "Q4_K" if h.n_gqa >= 4 else "IQ3_XXS"  # has_imatrix
        elif scheme == "IQ4_XS" and h.n_gqa >= 4:
            new = "Q5_K"
        elif scheme in ("Q4_K_M", "Q5_K_M") and _more_bits(attn_v_index, h.n_attn_v):
            new = "Q6_K"
        if h.llama_70b and new == "Q4_K":
            new = "Q5_K"
        if h.n_expert == 8:
            new = "Q8_0"
    elif cat == "attn_k":
        if h.n_expert == 8:
            new = "Q8_0"
        elif scheme == "IQ3_XXS":
            new = "IQ2_S"
    elif cat == "attn_q":
        if scheme == "IQ3_XXS":
            new = "IQ2_S"
    elif cat == "ffn_down":
        if scheme in ("Q4_K_M", "Q5_K_M") and _more_bits(layer, n):
            new = "Q6_K"
    elif cat == "attn_output":
        if h.n_expert == 8 and scheme in ("Q4_K_M", "IQ4_XS", "IQ3_XXS"):
            new = "Q5_K"
        elif h.n_expert != 8 and scheme == "IQ3_XXS":
            new = "IQ3_S"
    return new


def tensor_type(scheme: str, t: Tensor, h: ModelHints, attn_v_index: int = 0) -> str:
    """The type ``t`` gets in ``scheme``: a ggml type name, ``"MLX4"``/``"MLX8"``, ``"F16"`` or ``"F32"``.

    ``attn_v_index``: how many attn_v tensors came before this one (llama.cpp counts them in
    order; for the models here that is the layer number).
    """
    if scheme in _MLX_BITS:
        if len(t.shape) >= 2 and "_norm" not in t.name and t.shape[0] % MLX_GROUP_SIZE == 0:
            return f"MLX{_MLX_BITS[scheme]}"
        return "F16" if len(t.shape) >= 2 else "F32"
    if scheme not in _GGUF:
        raise KeyError(scheme)
    if not _quantizable(t):
        return "F32"
    default = _GGUF[scheme][0]
    if default in ("F16", "BF16"):
        return default
    new = _rules(scheme, default, _category(t.name), t, h, attn_v_index)
    block = _block(new)[0]
    if t.shape[0] % block != 0:
        new = _FALLBACK.get(new, "F16")
        if t.shape[0] % _block(new)[0] != 0:
            new = "F16"
    return new


def tensor_bytes(type_name: str, t: Tensor) -> int:
    """Bytes of ``t`` stored as ``type_name`` (rows x ggml_row_size, or MLX groups)."""
    if type_name.startswith("MLX"):
        bits = int(type_name[3:])
        groups = t.n_elements // MLX_GROUP_SIZE
        return groups * (MLX_GROUP_SIZE * bits // 8 + 4)
    block, size = _block(type_name)
    rows = t.n_elements // t.shape[0] if t.shape and t.shape[0] else 1
    return rows * (-(-t.shape[0] // block) * size)
