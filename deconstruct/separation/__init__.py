"""Stage 1: source separation of a mixture into named stems."""

from deconstruct.separation.separator import Separator, separate

__all__ = ["Separator", "separate"]
