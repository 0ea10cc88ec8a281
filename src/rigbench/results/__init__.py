"""Typed results, one per run kind, and the parts they share. ``to_json()`` is the ``--json``
contract; ``from_json()`` reads it back. Types only: no I/O, no measuring (report/ renders these).
"""

from rigbench.results._base import Result
from rigbench.results.compare import CompareDepth, CompareFloor, CompareResult, CompareSide, Crossover
from rigbench.results.lab import LabArm, LabBaseline, LabResult, LabRow, LabSynthetic, LabTableRow
from rigbench.results.load import (
    EnergyFigures,
    EnergyInfo,
    LoadBest,
    LoadEngine,
    LoadKnee,
    LoadLevel,
    LoadModel,
    LoadResult,
    LoadServer,
    LoadServerFacts,
    LoadSlo,
    LoadWorkload,
)
from rigbench.results.quality import QualityItem, QualityResult
from rigbench.results.report import AnswerSample, ReportEntry
from rigbench.results.run import (
    Ceiling,
    ContextCheck,
    DepthPoint,
    EngineInfo,
    Fill,
    ModelInfo,
    RequestCounts,
    RunResult,
    Verdict,
)
from rigbench.results.runs import RunRow
from rigbench.results.session import SessionCache, SessionResult, SessionTurn
from rigbench.results.tune import TuneResult, TuneTrial

AnyResult = RunResult | CompareResult | LabResult | TuneResult | LoadResult

__all__ = [
    "AnswerSample", "AnyResult", "Ceiling", "CompareDepth", "CompareFloor", "CompareResult", "CompareSide",
    "ContextCheck", "Crossover", "DepthPoint", "EnergyFigures", "EnergyInfo", "EngineInfo", "Fill", "LabArm",
    "LabBaseline", "LabResult", "LabRow", "LabSynthetic", "LabTableRow", "LoadBest", "LoadEngine", "LoadKnee",
    "LoadLevel", "LoadModel", "LoadResult", "LoadServer", "LoadServerFacts", "LoadSlo", "LoadWorkload", "ModelInfo",
    "QualityItem", "QualityResult", "ReportEntry", "RequestCounts", "Result", "RunResult", "RunRow", "SessionCache",
    "SessionResult", "SessionTurn", "TuneResult", "TuneTrial", "Verdict",
]
