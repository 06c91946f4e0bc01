"""Stage 3: removal of detected effects from each stem, one remover per catalog effect, in reverse catalog order.

Signal-processing inverses where they are exact or cheaper (EQ, compressor and limiter from estimated parameters,
the distortion's ``atanh``, the feedback delay's IIR inverse with a cepstral estimate) and small STFT networks
where they are not (reverb, chorus); see :mod:`deconstruct.removal.effect_removers`. Each removal can check
itself (:mod:`deconstruct.removal.checks`: resynthesis, loudness/RMS, peak) and is then kept only when it passes.
"""

from deconstruct.removal.remover import (
    CHECKS,
    DSP_ONLY,
    MODES,
    REMOVE_POLICIES,
    EffectRemover,
    RemovalResult,
    RemovalStep,
    remove,
)
from deconstruct.removal.effect_removers import Removal

__all__ = ["CHECKS", "DSP_ONLY", "MODES", "REMOVE_POLICIES", "EffectRemover", "Removal", "RemovalResult",
           "RemovalStep", "remove"]
