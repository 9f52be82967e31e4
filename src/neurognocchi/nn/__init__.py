"""Networks of GNOCCHI: step embeddings, conditioned 1-D blocks, the denoiser and the encoder.

All public tensors are ``(B, T, N)``; convolutions run on ``(B, N, T)`` internally. Networks take
the integer step index ``t`` and know nothing about noise schedules.
"""

from neurognocchi.nn.blocks import ConditionedResBlock1d, Downsample1d, Upsample1d, group_count
from neurognocchi.nn.denoiser import UNet1dDenoiser
from neurognocchi.nn.embeddings import StepEmbedding, sinusoidal_embedding
from neurognocchi.nn.encoder import ConvTrialEncoder, GRUTrialEncoder

__all__ = [
    "ConditionedResBlock1d",
    "ConvTrialEncoder",
    "Downsample1d",
    "GRUTrialEncoder",
    "StepEmbedding",
    "UNet1dDenoiser",
    "Upsample1d",
    "group_count",
    "sinusoidal_embedding",
]
