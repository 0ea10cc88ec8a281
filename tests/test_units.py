"""units.py: one rule for counts, memory, file sizes and rates (examples and round trips)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rigbench.errors import UsageError
from rigbench.units import (
    GIB,
    K,
    M,
    fmt_bytes,
    fmt_disk,
    fmt_file,
    fmt_speedup,
    fmt_tokens,
    parse_bandwidth_gb_s,
    parse_count,
    parse_memory,
)


@pytest.mark.parametrize(("text", "value"), [
    ("0", 0), ("4096", 4096), ("32k", 32768), ("32K", 32768), (" 1M ", 1048576), ("1.5k", 1536), ("0.5k", 512),
    ("2.25M", 2359296), (".25k", 256), ("1.0", 1),
])
def test_counts_read_k_as_1024(text: str, value: int) -> None:
    assert parse_count(text) == value


@pytest.mark.parametrize("text", ["0.3k", "1.5", "0.1M", "", "abc", "-5", "1e3", "5 tokens", "1kk", "1G"])
def test_a_count_that_is_not_a_whole_number_of_tokens_is_refused(text: str) -> None:
    with pytest.raises(UsageError):
        parse_count(text)


def test_the_refusal_says_what_the_text_came_to_and_what_to_write() -> None:
    with pytest.raises(UsageError) as e:
        parse_count("0.3k", "--ctx")
    assert "307.2 tokens" in str(e.value) and "--ctx 307" in (e.value.hint or "")


def test_depths_and_ctx_agree_on_every_count() -> None:
    """The two readers that disagreed ("0.3k": 307 for --ctx, refused for --depths) are one."""
    from rigbench.measure.plan import parse_depths

    for text in ("0", "1k", "1.5k", "16K", "1M", "4096"):
        assert parse_depths(text) == [parse_count(text)]
    for text in ("0.3k", "1.5"):
        with pytest.raises(UsageError):
            parse_depths(text)
        with pytest.raises(UsageError):
            parse_count(text)


def test_a_minimum() -> None:
    assert parse_count("1", minimum=1) == 1
    with pytest.raises(UsageError, match="at least 1"):
        parse_count("0", "--ctx", minimum=1)


@given(st.integers(min_value=0, max_value=10**9))
def test_any_count_written_plainly_or_in_k_reads_back(n: int) -> None:
    assert parse_count(str(n)) == n
    assert parse_count(f"{n}k") == n * K
    assert parse_count(f"{n}M") == n * M
    if n % 512 == 0:  # half a k and whole k written with a fraction: "3.5k" is 3,584
        assert parse_count(f"{n / 1024}k") == n


@given(st.integers(min_value=1, max_value=2**40))
def test_fmt_tokens_is_within_half_a_unit(n: int) -> None:
    shown = fmt_tokens(n)
    if shown.endswith("M"):
        v = float(shown[:-1])
        assert abs(v * M - n) <= (0.5 if v >= 10 else 0.05) * M
    elif shown.endswith("K"):
        assert abs(float(shown[:-1]) * K - n) <= K / 2
    else:
        assert int(shown) == n


def test_memory_is_binary_and_files_decimal() -> None:
    assert fmt_bytes(64 * GIB) == "64.00 GiB" and fmt_bytes(64 * GIB, 1) == "64.0 GiB"
    assert fmt_bytes(1536 * 1024) == "1.50 MiB" and fmt_bytes(0) == "0 B" and fmt_bytes(None) == "—"
    assert fmt_disk(253_000_000) == "253.0 MB" and fmt_disk(14_000_000_000) == "14.0 GB" and fmt_disk(0) == "—"
    assert fmt_file(2_530_000_000) == "2.53 GB (2.36 GiB)"
    # 64 GiB of RAM is 68.7 GB: the same memory, never both called "GB"
    assert fmt_disk(64 * GIB) == "68.7 GB"


@given(st.floats(min_value=1, max_value=1023, allow_nan=False), st.sampled_from(["", "k", "M", "G", "T"]),
       st.sampled_from(["", "B", "iB"]))
def test_memory_reads_binary_whatever_the_spelling(v: float, prefix: str, suffix: str) -> None:
    text = f"{v:.3f}{prefix}{suffix if prefix else ''}"
    scale = {"": GIB, "k": 2**10, "M": 2**20, "G": GIB, "T": 2**40}[prefix]
    assert parse_memory(text) == int(float(f"{v:.3f}") * scale)


@given(st.integers(min_value=1, max_value=2**50))
def test_written_memory_reads_back_within_its_rounding(n: int) -> None:
    shown = fmt_bytes(n)  # "1.50 GiB"
    number, unit = shown.split()
    if unit == "B":
        assert int(number.replace(",", "")) == n
        return
    back = parse_memory(number.replace(",", "") + unit)
    assert abs(back - n) <= 0.005 * {"KiB": 2**10, "MiB": 2**20, "GiB": GIB, "TiB": 2**40}[unit] + 1


def test_bandwidth_is_decimal_gb_s() -> None:
    assert parse_bandwidth_gb_s("800") == 800.0 and parse_bandwidth_gb_s("3.35 TB/s") == pytest.approx(3350.0)
    assert parse_bandwidth_gb_s("800GB/s") == 800.0 and parse_bandwidth_gb_s("fast") is None


def test_speedup_words() -> None:
    assert fmt_speedup(1.523) == "1.52x" and fmt_speedup(0.88) == "12% slower" and fmt_speedup(None) == "—"
    assert fmt_speedup(float("nan")) == "—"
