"""Stage 2: effect analysis of a stem (which catalog effects it carries, and their parameters).

- :mod:`~deconstruct.analysis.analyzer`: :class:`EffectAnalyzer` (load once) and :func:`analyze` (one shot);
- :mod:`~deconstruct.analysis.features`: the fixed feature views the network reads;
- :mod:`~deconstruct.analysis.windows`: windowing of long stems and silence detection;
- :mod:`~deconstruct.analysis.layout`: the parameter head's outputs, training targets, physical read-out;
- :mod:`~deconstruct.analysis.reverb`: RT60 and direct-to-reverberant ratio of reverb impulse responses;
- :mod:`~deconstruct.analysis.scoring`: detection F1, parameter MAE and threshold tuning.
"""

from deconstruct.analysis.analyzer import MIN_DURATION_S, EffectAnalyzer, NetworkOutputs, StemAnalysis, analyze

__all__ = ["MIN_DURATION_S", "EffectAnalyzer", "NetworkOutputs", "StemAnalysis", "analyze"]
