"""Background setup: a graph of steps run in parallel with live status.

Imports only the engine and the step primitives: the plan and the config
steps import the catalogue, and are imported by whoever builds the graph.
"""

from .engine import SetupEngine
from .step import Condition, Step, StepContext, StepError, run

__all__ = ["Condition", "SetupEngine", "Step", "StepContext", "StepError", "run"]
