"""Networks: step embeddings, conditioned 1-D blocks, the denoiser, the encoders, the GRU cell
and the per-neuron scaler.

All public tensors are ``(B, T, N)``; convolutions run on ``(B, N, T)`` internally. Networks take
the integer step index ``t`` and know nothing about noise schedules.
"""

from neurognocchi.nn.blocks import ConditionedResBlock1d, Downsample1d, Upsample1d, group_count
from neurognocchi.nn.denoiser import UNet1dDenoiser
from neurognocchi.nn.embeddings import StepEmbedding, sinusoidal_embedding
from neurognocchi.nn.encoder import ConvTrialEncoder, GRUTrialEncoder
from neurognocchi.nn.gru import ClippedGRUCell
from neurognocchi.nn.scaler import NeuronScaler

__all__ = [
    "ClippedGRUCell",
    "ConditionedResBlock1d",
    "ConvTrialEncoder",
    "Downsample1d",
    "GRUTrialEncoder",
    "NeuronScaler",
    "StepEmbedding",
    "UNet1dDenoiser",
    "Upsample1d",
    "group_count",
    "sinusoidal_embedding",
]
