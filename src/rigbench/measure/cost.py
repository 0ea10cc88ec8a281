"""What a million generated tokens cost here in electricity, beside an API's price, and when
a rig pays for itself. Pure.

    electricity per 1M tokens = J/token x 1e6 / 3.6e6 J/kWh x price per kWh
    payback (million tokens)  = rig price / (API price per 1M - electricity per 1M)

The J/token is the gross decode figure (the idle draw included: a rig kept for this work
pays for its idle power too) at the depth the verdict judges.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from rigbench.units import J_PER_KWH, electricity_per_mtok  # the conversion lives with the units

__all__ = ["J_PER_KWH", "cost_figures", "electricity_per_mtok", "payback_mtok"]


def payback_mtok(rig_price: float, api_per_mtok: float, electricity: float) -> float | None:
    """Million tokens after which the rig has cost less than the API; None when it never does."""
    saved = api_per_mtok - electricity
    return rig_price / saved if saved > 0 else None


def _basis(points: Sequence[Mapping[str, Any]], depth: int | None) -> Mapping[str, Any] | None:
    measured = [p for p in points if ((p.get("energy") or {}).get("j_per_token")) is not None]
    if not measured:
        return None
    if depth is not None:
        for p in measured:
            if p.get("depth") == depth:
                return p
    return min(measured, key=lambda p: abs(int(p.get("depth") or 0) - (depth or 0)))


def _fmt(amount: float, currency: str) -> str:
    from rigbench.energy.prices import Price

    return Price(amount, currency).fmt(amount)


def cost_figures(points: Sequence[Mapping[str, Any]], prices: Mapping[str, Any], *,
                 depth: int | None = None) -> dict[str, Any] | None:
    """The ``cost`` object and its statement; None when no price was given. ``prices`` is the
    stored params: ``{"electricity": {"value", "currency"}, "api": ..., "rig": ...}``."""
    elec, api, rig = (prices.get(k) for k in ("electricity", "api", "rig"))
    if not (elec or api or rig):
        return None
    p = _basis(points, depth)
    jpt = (p.get("energy") or {}).get("j_per_token") if p else None
    out: dict[str, Any] = {"depth": p.get("depth") if p else None, "j_per_token": jpt,
                           "electricity_per_mtok": None, "api_per_mtok": api["value"] if api else None,
                           "rig_price": rig["value"] if rig else None, "payback_mtok": None,
                           "currency": next((x["currency"] for x in (elec, api, rig) if x and x.get("currency")), "")}
    cur = out["currency"]
    bits: list[str] = []
    if elec and jpt is not None:
        e = electricity_per_mtok(float(jpt), float(elec["value"]))
        out["electricity_per_mtok"] = round(e, 6)
        bits.append(f"{_fmt(e, cur)} of electricity here")
    elif elec:
        bits.append("electricity unknown (no power source)")
    if api:
        bits.append(f"{_fmt(float(api['value']), cur)} by API")
    text = "1M tokens: " + ", ".join(bits) if bits else ""
    if rig and api and out["electricity_per_mtok"] is not None:
        n = payback_mtok(float(rig["value"]), float(api["value"]), out["electricity_per_mtok"])
        out["payback_mtok"] = round(n, 3) if n is not None else None
        text += ("; this rig pays for itself after " + (f"{n:,.1f} million tokens" if n is not None else
                 "never: its electricity alone costs more than the API"))
    elif rig:
        text += "; payback unknown (needs --api-price and a power source)" if text else \
            "payback unknown (needs --api-price and a power source)"
    if p is not None and out["electricity_per_mtok"] is not None:
        text += f" (decode at depth {int(p['depth']):,}, {float(jpt):.3g} J/token gross)"  # type: ignore[arg-type]
    out["statement"] = text
    return out
