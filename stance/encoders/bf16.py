"""PyTorch in bfloat16: the same encoder, near three times as fast on CPUs with bf16 matrix units.

Matrix products run in bfloat16 under ``torch.autocast``; layer norms, softmax,
pooling and the returned vectors stay in float32, so the vectors agree with
float32's to a cosine of about 0.9999 (``experiments/quantized.py`` measures it,
and what it does to the labels). The speed comes from AMX or AVX-512 BF16
instructions; a CPU without them emulates bfloat16, usually slower than
float32, which loading says.
"""

from __future__ import annotations

import warnings

import numpy as np

from stance.encoders.transformer import SentenceEncoder, unit_rows
from stance.errors import StanceWarning

__all__ = ["Bf16Encoder", "cpu_has_bf16"]


def cpu_has_bf16() -> bool:
    """Whether this CPU multiplies bfloat16 in hardware (AMX tiles or AVX-512 BF16), as torch sees it."""
    import torch

    probes = ("_is_amx_tile_supported", "_is_avx512_bf16_supported")
    return any(getattr(torch.cpu, name, lambda: False)() for name in probes)


class Bf16Encoder(SentenceEncoder):
    """A :class:`~stance.encoders.transformer.SentenceEncoder` whose forward pass runs in bfloat16.

    Takes the same parameters. Its vectors are cached apart from float32's, and
    ``model_id`` says ``(bf16)``, so a score records how its vectors were made.
    """

    @property
    def model_id(self) -> str:
        return f"{super().model_id} (bf16)"

    @property
    def cache_key(self) -> str:
        return f"{self.identity}+bf16"

    def encode_uncached(self, texts: list[str]) -> np.ndarray:
        import torch

        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        model = self._model()
        with torch.autocast("cpu", dtype=torch.bfloat16):
            vectors = model.encode(texts, batch_size=self.batch_size, show_progress_bar=False,
                                   convert_to_tensor=True)
        return unit_rows(vectors.float().numpy())  # normalised here, in float32

    def _model(self):
        first = "_loaded" not in self.__dict__
        model = super()._model()
        if first and not cpu_has_bf16():
            warnings.warn("this CPU has no bfloat16 instructions (AMX or AVX-512 BF16): --backend torch-bf16 "
                          "is usually slower than --backend torch here", StanceWarning, stacklevel=3)
        return model
