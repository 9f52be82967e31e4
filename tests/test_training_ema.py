"""The exponential moving average of the weights and its warm-up ramp."""

from __future__ import annotations

import torch

from neurognocchi.training.ema import EMA
from training_models import Quadratic


def test_ema_update_follows_hand_computed_values_with_decay_ramp():
    model = Quadratic()
    model.register_buffer("count", torch.tensor(0))
    ema = EMA(model, decay=0.2)
    assert not ema.model.training
    assert not any(p.requires_grad for p in ema.model.parameters())
    expected = []
    for live, value in [(1.0, 0.9), (2.0, 1.8), (2.0, 1.96)]:
        # decays: min(0.2, 1/10) = 0.1, min(0.2, 2/11) = 2/11, min(0.2, 3/12) = 0.2
        with torch.no_grad():
            model.w.fill_(live)
        model.count += 1
        ema.update(model)
        expected.append(value)
        torch.testing.assert_close(ema.model.w, torch.full((3,), value))
        assert int(ema.model.count) == int(model.count)  # integer buffers are copied
    assert ema.n_updates == 3
    assert model.w[0] == 2.0  # the live model is untouched
