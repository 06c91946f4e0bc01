"""Objective metrics: BSSEval v4, the challenges' whole-track SDR, SI-SDR and a multi-resolution STFT distance.

All take ``references`` first and ``estimates`` second, like museval.
"""

from deconstruct.metrics.bsseval import BSSEvalScores, bss_eval_v4, frame_count
from deconstruct.metrics.sdr import global_sdr, si_sdr
from deconstruct.metrics.stft import mrstft_distance

__all__ = ["BSSEvalScores", "bss_eval_v4", "frame_count", "global_sdr", "mrstft_distance", "si_sdr"]
