"""Prices for the cost statement: ``--electricity-price 0.30/kWh``, ``--api-price 3.00/Mtok``,
``--rig-price 2500``. Pure.

A price is a number with an optional currency mark before or after it (``$``, ``€``, ``£``,
``¥``, or three letters such as ``EUR``), shown back as written; a decimal point, never a comma; the unit after ``/`` is
checked: kWh, Wh or MWh for electricity; Mtok (also M, 1M, Mtokens), ktok or tok for an API.
(Parsing lives here until the shared ``rigbench.units`` module lands, then moves there.)
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from rigbench.errors import UsageError

__all__ = ["Price", "parse_api_price", "parse_electricity_price", "parse_rig_price", "price_params"]

_NUM = re.compile(r"^\s*([$€£¥]|[A-Za-z]{3}\s)?\s*([0-9]+(?:\.[0-9]+)?)\s*([$€£¥]|\s?[A-Za-z]{3})?\s*$")
_ENERGY_UNITS = {"kwh": 1.0, "wh": 1e3, "mwh": 1e-3}  # multiply a price per unit by this: per kWh
_TOKEN_UNITS = {"mtok": 1.0, "m": 1.0, "1m": 1.0, "mtokens": 1.0, "ktok": 1e3, "k": 1e3, "tok": 1e6,
                "token": 1e6, "tokens": 1e6}


@dataclass(frozen=True)
class Price:
    value: float  # per kWh (electricity), per million tokens (API), or the whole rig
    currency: str  # "" when none was written

    def fmt(self, amount: float) -> str:
        digits = 2 if abs(amount) >= 0.1 or amount == 0 else 3 if abs(amount) >= 0.01 else 4
        text = f"{amount:,.{digits}f}"
        if not self.currency:
            return text
        return f"{self.currency}{text}" if self.currency in "$€£¥" else f"{text} {self.currency}"


def _amount(text: str, what: str, example: str) -> Price:
    m = _NUM.match(text)
    if not m or (m.group(1) and m.group(3)):
        raise UsageError(f"cannot read {what} {text!r}", f"write it like {example}")
    value = float(m.group(2))
    if not math.isfinite(value) or value < 0:
        raise UsageError(f"{what} {text!r} must be a positive number", f"write it like {example}")
    mark = (m.group(1) or m.group(3) or "").strip()
    currency = mark.upper() if mark.isalpha() else mark
    return Price(value, currency)


def _split(text: str) -> tuple[str, str | None]:
    amount, sep, unit = text.partition("/")
    return amount, (unit.strip().lower().replace(" ", "") if sep else None)


def parse_electricity_price(text: str) -> Price:
    """``0.30/kWh``, ``$0.30/kWh``, ``0.30 EUR/kWh``, ``300/MWh`` -> per kWh."""
    amount, unit = _split(text)
    p = _amount(amount, "--electricity-price", "0.30/kWh")
    if unit is not None and unit not in _ENERGY_UNITS:
        raise UsageError(f"--electricity-price {text!r}: unknown unit {unit!r}", "write it like 0.30/kWh")
    return Price(p.value * _ENERGY_UNITS[unit or "kwh"], p.currency)


def parse_api_price(text: str) -> Price:
    """``3.00/Mtok``, ``$3/M``, ``0.003/ktok`` -> per million tokens."""
    amount, unit = _split(text)
    p = _amount(amount, "--api-price", "3.00/Mtok")
    if unit is not None and unit not in _TOKEN_UNITS:
        raise UsageError(f"--api-price {text!r}: unknown unit {unit!r}", "write it like 3.00/Mtok")
    return Price(p.value * _TOKEN_UNITS[unit or "mtok"], p.currency)


def parse_rig_price(text: str) -> Price:
    """``2500``, ``$2500``, ``2500 EUR`` (no thousands separators: ``2,500`` and ``2.500`` mean
    different things in different countries, so a comma is refused)."""
    amount, unit = _split(text)
    if unit is not None:
        raise UsageError(f"--rig-price {text!r} is a one-off price", "write it like 2500")
    return _amount(amount, "--rig-price", "2500")


def price_params(electricity: str | None, api: str | None, rig: str | None) -> dict[str, dict[str, object]]:
    """The prices as stored with a run (``params.prices``): ``{"electricity": {"value", "currency"}, ...}``."""
    out: dict[str, dict[str, object]] = {}
    for key, text, parse in (("electricity", electricity, parse_electricity_price), ("api", api, parse_api_price),
                             ("rig", rig, parse_rig_price)):
        if text is not None:
            p = parse(text)
            out[key] = {"value": p.value, "currency": p.currency}
    return out
