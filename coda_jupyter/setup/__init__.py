"""Background setup: a graph of steps run in parallel with live status.

Kept import-light on purpose: ``agents.install`` imports ``setup.step``
while the catalogue is still loading, so ``plan`` (which imports the
catalogue types) is imported explicitly by whoever builds the graph.
"""

from .engine import SetupEngine
from .step import Condition, Step, StepContext, StepError, run

__all__ = ["Condition", "SetupEngine", "Step", "StepContext", "StepError", "run"]
