"""The agent catalogue package: one module per agent, assembled in ``catalogue``."""

from .catalogue import BUILTIN, Catalogue
from .spec import AgentSpec

__all__ = ["BUILTIN", "AgentSpec", "Catalogue"]
