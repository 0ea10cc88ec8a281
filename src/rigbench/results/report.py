"""What the HTML report is given: each run's typed result with a few of the model's answers."""

from __future__ import annotations

from dataclasses import dataclass

from rigbench.results.compare import CompareResult
from rigbench.results.lab import LabResult
from rigbench.results.load import LoadResult
from rigbench.results.run import RunResult
from rigbench.results.tune import TuneResult

__all__ = ["AnswerSample", "ReportEntry"]


@dataclass(frozen=True)
class AnswerSample:
    """A model answer shown as text (untrusted: the renderer makes it visible and escapes it)."""

    source: str  # "quality prompt p3 · repeat 1 · score 2.0/5"
    text: str


@dataclass(frozen=True)
class ReportEntry:
    result: RunResult | CompareResult | LabResult | TuneResult | LoadResult
    answers: tuple[AnswerSample, ...] = ()
    section: str = ""  # the template's section (run | compare | lab | tune | load): its kind's ``html``

    @property
    def kind(self) -> str:
        if self.section:
            return self.section
        return "tune" if isinstance(self.result, TuneResult) else str(getattr(self.result, "kind", "run"))
