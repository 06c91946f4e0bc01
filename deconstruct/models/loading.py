"""The one way every stage turns a resolved checkpoint into a running network, and checks what it outputs.

Any failure to build the network from its config or to load its weights strictly is a
:class:`~deconstruct.errors.ModelError` (exit 4, one line), whatever the stage; so is a network that outputs NaN
or infinite values (corrupt weights, or weights unfit for the input), which is never blamed on the input.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, TypeVar

import torch
from torch import nn

from deconstruct.errors import DeconstructError, ModelError

__all__ = ["check_finite_output", "load_network"]

Net = TypeVar("Net", bound=nn.Module)


def _first_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return f"{type(error).__name__}: {text[0][:200]}" if text else type(error).__name__


def load_network(name: str, build: Callable[[dict[str, Any]], Net], config: dict[str, Any],
                 state_dict: Mapping[str, torch.Tensor]) -> Net:
    """Build a network from ``config`` and load ``state_dict`` into it with ``strict=True``, in eval mode.

    Args:
        name: the model's name, for messages.
        build: the stage's network factory (``build_separation_net``, ...).
        config: the checkpoint's config (or the part of it the factory takes).
        state_dict: the weights.

    Raises:
        ModelError: the config does not build a network, or the weights do not fit it (missing, unexpected or
            mis-shaped tensors). A project error raised by the factory (a missing optional package:
            :class:`~deconstruct.errors.DependencyError`) passes through unchanged.
    """
    try:
        net = build(config)
    except DeconstructError:
        raise
    except Exception as error:  # a factory fails in many ways on a foreign or damaged config
        raise ModelError(f"model {name!r}: its config does not build a network ({_first_line(error)}); "
                         "the checkpoint is damaged or from another version") from None
    try:
        net.load_state_dict(dict(state_dict), strict=True)
    except Exception as error:  # RuntimeError for missing/unexpected/mis-shaped keys, others for odd values
        raise ModelError(f"model {name!r}: its weights do not fit its network ({_first_line(error)}); "
                         "the checkpoint is damaged or from another version") from None
    return net.eval()


def check_finite_output(output: torch.Tensor, name: str, stage: str) -> torch.Tensor:
    """Return ``output`` unchanged when every value is finite.

    Raises:
        ModelError: NaN or infinite values (the input was checked finite before it reached the model).
    """
    if not bool(torch.isfinite(output).all()):
        raise ModelError(f"the {stage} model {name!r} produced NaN or infinite values; its weights are damaged or "
                         "unfit for this input; use another model (--list-models) or re-download this one")
    return output
