"""A GRU cell with a clipped hidden state, as used by LFADS's generator and controller.

Equations (Cho et al. 2014, the form written out in Sussillo et al. 2016), for input ``x``
and previous state ``h``::

    r  = sigmoid(W_r x + U_r h + b_r)                    reset gate
    z  = sigmoid(W_z x + U_z h + b_z + forget_bias)      update gate
    c  = tanh(W_c x + U_c (r * h) + b_c)                 candidate
    h' = clip(z * h + (1 - z) * c, -clip_value, clip_value)

The reset gate multiplies ``h`` before the candidate's recurrent matrix (torch's ``GRUCell``
applies it after). ``forget_bias`` (default 1) starts the update gate mostly closed, so states
persist at initialisation; clipping keeps long unrolls from blowing up.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from neurognocchi._checks import InvalidArgumentError, check_int, check_positive_int, check_real

__all__ = ["ClippedGRUCell"]


class ClippedGRUCell(nn.Module):
    """GRU cell whose new state is clipped to ``[-clip_value, clip_value]``.

    Parameters
    ----------
    input_size : int
        Size of the input; 0 makes an autonomous cell (``forward(None, h)``).
    hidden_size : int
        Size of the state.
    clip_value : float, default 5.0
        Bound on every state entry (``inf`` disables clipping).
    forget_bias : float, default 1.0
        Added to the update gate's pre-activation.
    """

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        *,
        clip_value: float = 5.0,
        forget_bias: float = 1.0,
    ) -> None:
        super().__init__()
        self.input_size = check_int(input_size, "input_size", minimum=0)
        self.hidden_size = check_positive_int(hidden_size, "hidden_size")
        if clip_value != math.inf:  # inf (no clipping) is the one value check_real refuses
            check_real(clip_value, "clip_value", low=0.0, low_open=True)
        self.clip_value = float(clip_value)
        self.forget_bias = check_real(forget_bias, "forget_bias")
        # Input weights exist only when there is an input: an empty matrix gets no gradient.
        self.input_weight = (
            nn.Parameter(torch.empty(3 * hidden_size, input_size)) if input_size else None
        )
        self.gate_weight = nn.Parameter(torch.empty(2 * hidden_size, hidden_size))  # U_r, U_z
        self.candidate_weight = nn.Parameter(torch.empty(hidden_size, hidden_size))  # U_c
        self.bias = nn.Parameter(torch.empty(3 * hidden_size))  # b_r, b_z, b_c
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Uniform in ``+-1/sqrt(hidden_size)`` (torch's RNN default); draws the global RNG."""
        bound = 1.0 / math.sqrt(self.hidden_size)
        for param in self.parameters():
            nn.init.uniform_(param, -bound, bound)

    def recurrent_weights(self) -> list[torch.Tensor]:
        """The state-to-state matrices (``U_r, U_z, U_c``), the ones LFADS's L2 penalty acts on."""
        return [self.gate_weight, self.candidate_weight]

    def forward(self, x: torch.Tensor | None, h: torch.Tensor) -> torch.Tensor:
        """One step.

        Parameters
        ----------
        x : torch.Tensor, shape (B, input_size), or None when ``input_size`` is 0
        h : torch.Tensor, shape (B, hidden_size)

        Returns
        -------
        torch.Tensor, shape (B, hidden_size)
        """
        if (x is None) != (self.input_weight is None):
            raise InvalidArgumentError(
                f"this cell has input_size={self.input_size}; "
                f"got {'no input' if x is None else 'an input'}"
            )
        from_input = self.bias if x is None else x @ self.input_weight.T + self.bias  # (B, 3H)
        in_r, in_z, in_c = from_input.split(self.hidden_size, dim=-1)
        rec_r, rec_z = (h @ self.gate_weight.T).split(self.hidden_size, dim=-1)
        reset = torch.sigmoid(in_r + rec_r)
        update = torch.sigmoid(in_z + rec_z + self.forget_bias)
        candidate = torch.tanh(in_c + (reset * h) @ self.candidate_weight.T)
        h_new = update * h + (1.0 - update) * candidate
        return h_new.clamp(-self.clip_value, self.clip_value)
