"""WaveNet as a neural vocoder: speech from a log-mel spectrogram (Shen et al. 2018, Tacotron 2, sec. 2.3).

    log-mel frames [B, F, num_mels]  (tfar.data.audio.log_mel_spectrogram; frame j <-> samples [j*hop, (j+1)*hop))
      -> fixed normalisation (mel - MEL_SHIFT) / MEL_SCALE
      -> frame projection: a per-frame Dense num_mels -> local_condition_channels (at frame rate, cheap)
      -> WaveNet's transposed-convolution upsampling to one vector per sample and local
         conditioning of every layer (tfar.models.wavenet.WaveNet)

The front end's parameters (``features``: sample_rate, frame_length, hop_length,
num_mels, fmin, fmax) are part of the model's config, so a zoo entry or a run folder
rebuilds the exact mel the network was trained on. ``upsample_factors`` must multiply
to ``hop_length``.

Look-ahead: the output for sample t sees frames 0 .. floor(t / hop) only (as WaveNet's
local conditioning), i.e. no frame whose block starts after t; through the centred
analysis window of frame floor(t / hop) that is acoustic evidence of up to
frame_length - (frame_length - hop) // 2 - 1 samples later than t (``acoustic_look_ahead``;
305 samples = 38 ms at the default 8 kHz setting, frame 512, hop 100).

    vocoder = tfar.zoo.load("wavenet_vocoder")
    mel = vocoder.mel_spectrogram(wave)          # float [T] in [-1, 1] -> float32 [T // hop, num_mels]
    wave = vocoder.vocode(mel, seed=0)           # -> float32 [frames * hop] in [-1, 1]; also [B, frames, mels]
"""

import keras
import numpy as np
import tensorflow as tf

from tfar.data import audio
from tfar.models.wavenet import WaveNet

# log-mel of the 8 kHz speech set: mean about -1.6, std about 2.0 (floor log(1e-5) = -11.5)
MEL_SHIFT = -2.0
MEL_SCALE = 2.0
FRAME_BUCKET = 40  # vocode pads the frames to a multiple of this (0.5 s at the default hop)


def _factors(hop):
    """Two (or one) upsampling factors multiplying to ``hop``, as close to each other as possible."""
    best = max(f for f in range(1, int(np.sqrt(hop)) + 1) if hop % f == 0)
    return [hop // best, best] if best > 1 else [hop]


@keras.saving.register_keras_serializable(package="tfar")
class WaveNetVocoder(WaveNet):
    """A WaveNet conditioned on log-mel frames, with the mel front end it was trained on.

    Args:
      features: the mel front end, dict(sample_rate, frame_length, hop_length, num_mels,
        fmin, fmax) (see :func:`tfar.data.audio.log_mel_spectrogram`); default
        :data:`tfar.data.audio.DEFAULT_MEL`.
      local_condition_channels: width of the conditioning after the frame projection.
      upsample_factors: transposed-convolution strides, product = hop_length
        (default: two near-equal factors, e.g. [10, 10] for a hop of 100).
      **kwargs: the WaveNet arguments (num_stacks, layers_per_stack, residual_channels, output, ...).
    """

    def __init__(self, features=None, local_condition_channels=32, upsample_factors=None, **kwargs):
        self.features = audio.check_mel_params(**dict(audio.DEFAULT_MEL, **(features or {})))
        hop = self.features["hop_length"]
        upsample_factors = list(upsample_factors) if upsample_factors else _factors(hop)
        if int(np.prod(upsample_factors)) != hop:
            raise ValueError(f"upsample_factors {upsample_factors} multiply to {int(np.prod(upsample_factors))}, "
                             f"not to hop_length={hop}")
        super().__init__(local_condition_channels=local_condition_channels, upsample_factors=upsample_factors,
                         **kwargs)
        self.frame_projection = keras.layers.Dense(self.local_condition_channels, name="frame_projection",
                                                   dtype=self.dtype_policy)

    # ------------------------------------------------------------ front end
    @property
    def sample_rate(self):
        return self.features["sample_rate"]

    @property
    def num_mels(self):
        return self.features["num_mels"]

    @property
    def acoustic_look_ahead(self):
        """Samples after t that the analysis windows of the frames output t sees can reach."""
        n, hop = self.features["frame_length"], self.features["hop_length"]
        return n - audio.mel_padding(n, hop) - 1

    def mel_spectrogram(self, wave, sample_rate=None):
        """Float wave [T] (or [B, T]) in [-1, 1] at ``self.sample_rate`` -> float32 [T // hop, num_mels] (NumPy)."""
        if sample_rate is not None and int(sample_rate) != self.sample_rate:
            raise audio.SampleRateError(
                f"wave is at {sample_rate} Hz but this vocoder works at {self.sample_rate} Hz; resample it first "
                "(tfar.data.audio.resample)")
        wave = np.asarray(wave, np.float32)
        if wave.ndim not in (1, 2):
            raise audio.MelShapeError(f"wave must be float [T] or [B, T] (mono), got shape {wave.shape}")
        if not np.all(np.isfinite(wave)):
            raise audio.NonFiniteInputError("wave holds NaN or infinite samples")
        if wave.shape[-1] < self.features["hop_length"]:
            raise audio.EmptyAudioError(f"wave has {wave.shape[-1]} samples, fewer than one hop "
                                        f"({self.features['hop_length']}): no mel frame")
        return audio.log_mel_spectrogram(np.clip(wave, -1.0, 1.0), **self.features).numpy()

    def check_mel(self, mel):
        """float32 [B, frames, num_mels] of a mel [frames, num_mels] or batch, or a named error."""
        try:
            mel = np.asarray(mel)
        except (TypeError, ValueError) as error:
            raise audio.MelShapeError(f"mel must be an array [frames, num_mels], got {type(mel).__name__}: {error}")
        if mel.dtype == object or not (np.issubdtype(mel.dtype, np.floating) or np.issubdtype(mel.dtype, np.integer)):
            raise audio.MelShapeError(f"mel must be a float array, got dtype {mel.dtype}")
        if mel.ndim not in (2, 3):
            raise audio.MelShapeError(f"mel must be [frames, num_mels] or [batch, frames, num_mels], got shape "
                                      f"{mel.shape}")
        if mel.shape[-1] != self.num_mels:
            hint = " (is it [num_mels, frames]? transpose it)" if mel.shape[-2] == self.num_mels else ""
            raise audio.MelBandsError(f"mel has {mel.shape[-1]} bands, this vocoder takes {self.num_mels}{hint}")
        if mel.shape[-2] == 0 or (mel.ndim == 3 and mel.shape[0] == 0):
            raise audio.MelShapeError(f"mel has no frames (shape {mel.shape})")
        if not np.all(np.isfinite(mel)):
            raise audio.NonFiniteInputError("mel holds NaN or infinite values")
        mel = mel.astype(np.float32)
        return mel[None] if mel.ndim == 2 else mel

    def vocode(self, mel, seed=0, temperature=1.0, method="fast"):
        """Log-mel [frames, num_mels] -> float32 wave [frames * hop] in [-1, 1]; [B, frames, mels] -> [B, T].

        Sampled with the cached single-step sampler (``method="fast"``; "naive" recomputes
        the network per sample, the reference). Same ``seed``, same wave.
        """
        batched = np.ndim(mel) == 3
        frames = self.check_mel(mel)
        length = frames.shape[1] * self.features["hop_length"]
        # the sampler's state holds the upsampled frames, so every new frame count would trace (and
        # compile) the loop again: pad to whole buckets; the padding is after the last sample drawn
        # and, the model being causal in its frames, changes nothing before it
        spare = -frames.shape[1] % FRAME_BUCKET
        frames = np.pad(frames, [(0, 0), (0, spare), (0, 0)], mode="edge")
        codes = self.sample(frames.shape[0], features=frames, length=length, seed=seed, temperature=temperature,
                            method=method)
        wave = np.asarray(audio.mu_law_decode(codes, self.num_levels), np.float32)
        return wave if batched else wave[0]

    # -------------------------------------------------------------- network
    def upsample_features(self, features):
        """Mel frames [B, F, num_mels] -> per-sample conditioning [B, F * hop, local_condition_channels]."""
        frames = (tf.cast(features, self.compute_dtype) - MEL_SHIFT) / MEL_SCALE
        return super().upsample_features(self.frame_projection(frames))

    @property
    def feature_width(self):
        """The frames are mel spectrograms: num_mels channels (projected inside the network)."""
        return self.num_mels

    def _check_features(self, features, batch, length):
        if features is not None:
            shape = tuple(features.shape) if isinstance(features, tf.Tensor) else np.shape(features)
            if len(shape) == 3 and shape[2] != self.num_mels:
                raise audio.MelBandsError(f"features have {shape[2]} mel bands; this vocoder takes {self.num_mels}")
        return super()._check_features(features, batch, length)

    def build(self, input_shape=None):
        if self.built:
            return
        hop = self.hop
        self.call(tf.zeros([1, 2 * hop], tf.int32), features=tf.zeros([1, 2, self.num_mels]))
        self.built = True

    def get_config(self):
        config = super().get_config()
        config["features"] = dict(self.features)
        return config
