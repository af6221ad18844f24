"""PixelCNN++ (Salimans et al. 2017, "PixelCNN++", arXiv:1701.05517).

    x in [-1, 1] (+ a constant ones channel marking the image inside the zero padding, if boundary_channel)
    u  = conv_down_2x3(down_shift(x))                                     (pixels above)
    ul = conv_down_1x3(down_shift(x)) + conv_down_right_2x1(right_shift(x))  (above and left)
    encoder: num_hierarchies x [num_resnet x (u = GatedResNet(u); ul = GatedResNet(ul, a=u)),
                                then stride-2 shifted convs], every output kept for skips
    decoder: num_hierarchies x [num_resnet (+1 after the first) x
                 (u = GatedResNet(u, a=skip_u); ul = GatedResNet(ul, a=[u, skip_ul])),
                 then stride-2 shifted transposed convs]
    params = Dense(elu(ul)) -> discretized logistic mixture per pixel (all channels at once)

Each pixel's C channels are one autoregressive position: the mixture couples R -> G -> B
linearly (see :mod:`tfar.distributions.discretized_logistic_mixture`), so ``position_shape``
is (C,) and ``model(x)`` returns [batch, H, W, P] parameters. With ``num_classes`` a
projection of the one-hot label is added inside every gated block (conditional PixelCNN,
arXiv:1606.05328, sec. 2.3). Argument names follow ``tfp.distributions.PixelCNN``.

Training recipe of the paper (sec. 3): ``weight_norm=True`` weight-normalises every
convolution and projection (w = g v / ||v||, :mod:`tfar.layers.weight_norm`), and
:meth:`PixelCNNPlusPlus.data_dependent_init` sets each g and bias from a first real batch so
that every layer's outputs start with zero mean and unit variance (standard deviation
``output_init_scale`` for the last convolution of a gated block: 1.0 by default, as tfp's
init; the paper's code uses 0.1). Polyak averaging of the parameters is the optimizer's
``use_ema=True``.
Generation runs a cached single-pixel ``step`` (Ramachandran et al. 2017, see
``PixelCNNPlusPlus.step``): per-layer caches at every resolution, each layer computed when
its output becomes computable, so a step costs the same however large the image.
"""

import keras
import tensorflow as tf

from tfar.arg_checks import positive_int, rate_in_unit_interval
from tfar.distributions.discretized_logistic_mixture import DiscretizedLogisticMixture
from tfar.layers.gated_resnet import GatedResNet
from tfar.layers.masked_conv2d import write_at
from tfar.layers.shifted_conv2d import ShiftedConv2D, down_shift, right_shift
from tfar.layers.shifted_conv2d_transpose import ShiftedConv2DTranspose
from tfar.layers.weight_norm import WeightNorm, check_weight_norm_args
from tfar.layers.weight_norm_dense import WeightNormDense
from tfar.models.base import AutoregressiveModel
from tfar.models.pixelcnn import check_image_shape

DOWN, DOWN_RIGHT = ((2, 3), "down"), ((2, 2), "down_right")


@keras.saving.register_keras_serializable(package="tfar")
class PixelCNNPlusPlus(AutoregressiveModel):
    """PixelCNN++ with a discretized logistic mixture head.

    Args:
      image_shape: (H, W, C), C = 1 (grey) or 3 (RGB).
      num_levels: values per channel, a power of two (256 for 8-bit images).
      num_resnet: gated ResNet blocks per hierarchy level.
      num_hierarchies: resolution levels of the U-net (each halves H and W).
      num_filters: channels of both streams.
      num_logistic_mix: mixture components per pixel.
      dropout_p: dropout rate inside the gated blocks.
      num_classes: condition on this many labels, or None.
      weight_norm: weight-normalise every convolution and projection (then call
        :meth:`data_dependent_init` on the first training batch).
      output_init_scale: with ``weight_norm``, the output standard deviation that
        data-dependent init gives the last convolution of every gated block (see
        :class:`~tfar.layers.gated_resnet.GatedResNet`).
      mixture_scale: the head's logistic scales from its raw outputs, "exp" (of a log-scale
        clamped at -7, the paper's code) or "softplus" (softplus + e^-7, as tfp).
      boundary_channel: append a constant ones channel to the input, so the zero padding
        around the image differs from a zero pixel (the paper's code); tfp has none.
    """

    def __init__(self, image_shape=(28, 28, 1), num_levels=256, num_resnet=5, num_hierarchies=3, num_filters=160,
                 num_logistic_mix=10, dropout_p=0.5, num_classes=None, weight_norm=False, output_init_scale=1.0,
                 mixture_scale="exp", boundary_channel=True, **kwargs):
        image_shape = check_image_shape(image_shape)
        super().__init__(event_shape=image_shape, num_levels=num_levels, num_classes=num_classes, **kwargs)
        self.image_shape = image_shape
        self.num_resnet = positive_int("num_resnet", num_resnet)
        self.num_hierarchies = positive_int("num_hierarchies", num_hierarchies)
        self.num_filters = positive_int("num_filters", num_filters)
        self.num_logistic_mix = positive_int("num_logistic_mix", num_logistic_mix)
        self.dropout_p = rate_in_unit_interval("dropout_p", dropout_p)
        self.weight_norm, self.output_init_scale = check_weight_norm_args(weight_norm, output_init_scale,
                                                                          "output_init_scale")
        if not isinstance(boundary_channel, bool):
            raise ValueError(f"boundary_channel must be True or False, got {boundary_channel!r}")
        self.boundary_channel = boundary_channel
        wn = self.weight_norm
        self.head = DiscretizedLogisticMixture(self.num_levels, image_shape[2], self.num_logistic_mix,
                                               scale=mixture_scale)

        f = self.num_filters

        def block(kind, name, auxiliary):
            kernel, shift = kind
            return GatedResNet(f, kernel, shift, self.dropout_p, auxiliary=auxiliary, num_classes=self.num_classes,
                               weight_norm=wn, output_init_scale=self.output_init_scale, name=name)

        self.init_u = ShiftedConv2D(f, (2, 3), "down", weight_norm=wn, name="init_u")
        self.init_ul_up = ShiftedConv2D(f, (1, 3), "down", weight_norm=wn, name="init_ul_up")
        self.init_ul_left = ShiftedConv2D(f, (2, 1), "down_right", weight_norm=wn, name="init_ul_left")
        self.encoder, self.downsample, self.decoder, self.upsample = [], [], [], []
        for i in range(self.num_hierarchies):
            self.encoder.append([(block(DOWN, f"enc{i}_{j}_u", False), block(DOWN_RIGHT, f"enc{i}_{j}_ul", True))
                                 for j in range(self.num_resnet)])
            num_blocks = self.num_resnet if i == 0 else self.num_resnet + 1
            self.decoder.append([(block(DOWN, f"dec{i}_{j}_u", True), block(DOWN_RIGHT, f"dec{i}_{j}_ul", True))
                                 for j in range(num_blocks)])
            if i < self.num_hierarchies - 1:
                self.downsample.append((ShiftedConv2D(f, *DOWN, strides=2, weight_norm=wn, name=f"down{i}_u"),
                                        ShiftedConv2D(f, *DOWN_RIGHT, strides=2, weight_norm=wn, name=f"down{i}_ul")))
                self.upsample.append((ShiftedConv2DTranspose(f, *DOWN, strides=2, weight_norm=wn, name=f"up{i}_u"),
                                      ShiftedConv2DTranspose(f, *DOWN_RIGHT, strides=2, weight_norm=wn,
                                                             name=f"up{i}_ul")))
        dense = WeightNormDense if wn else keras.layers.Dense
        self.output_dense = dense(self.head.params_per_value, name="output_dense")

    @property
    def position_shape(self):
        """One position is a whole pixel: its C channels are drawn together."""
        return (self.image_shape[2],)

    def network(self, h, condition=None, training=None):
        """[B, H, W, C] in [-1, 1] -> mixture parameters [B, H, W, P]."""
        label = None if self.num_classes is None else tf.one_hot(tf.cast(condition, tf.int32), self.num_classes)
        x = tf.concat([h, tf.ones_like(h[..., :1])], axis=-1) if self.boundary_channel else h
        # shifting the input rather than the first convolutions' outputs gives the same
        # footprint and keeps slices out of the backward pass (the input needs no gradient)
        x_down, x_right = down_shift(x), right_shift(x)
        u = self.init_u(x_down)
        ul = self.init_ul_up(x_down) + self.init_ul_left(x_right)
        skips_u, skips_ul = [u], [ul]
        for i, blocks in enumerate(self.encoder):
            for block_u, block_ul in blocks:
                u = block_u(u, condition=label, training=training)
                ul = block_ul(ul, a=u, condition=label, training=training)
                skips_u.append(u)
                skips_ul.append(ul)
            if i < self.num_hierarchies - 1:
                down_u, down_ul = self.downsample[i]
                u, ul = down_u(u), down_ul(ul)
                skips_u.append(u)
                skips_ul.append(ul)
        u, ul = skips_u.pop(), skips_ul.pop()
        for i, blocks in enumerate(self.decoder):
            for block_u, block_ul in blocks:
                u = block_u(u, a=skips_u.pop(), condition=label, training=training)
                ul = block_ul(ul, a=[u, skips_ul.pop()], condition=label, training=training)
            if i < self.num_hierarchies - 1:
                up_u, up_ul = self.upsample[i]
                u, ul = self._crop_like(up_u(u), skips_u[-1]), self._crop_like(up_ul(ul), skips_ul[-1])
        return self.output_dense(tf.nn.elu(ul))

    def data_dependent_init(self, x, condition=None):
        """Initialise every weight-normalised layer from the batch ``x`` (integer pixels [B, H, W, C]).

        One forward pass (in training mode, dropout included, as the paper's code does)
        in which each layer, in forward order, sets g and its bias so that its outputs on
        this batch have zero mean and unit variance per channel (see
        :mod:`tfar.layers.weight_norm`). Call it once on the first real training batch of a
        fresh run, never on restored weights. Without ``weight_norm`` it does nothing.
        Returns the number of layers initialised.
        """
        x, condition = self._check(x, condition)
        self.build()
        if not self.weight_norm:
            return 0
        layers = [layer for layer in self._flatten_layers() if isinstance(layer, WeightNorm)]
        for layer in layers:
            layer.begin_data_dependent_init()
        try:
            self(x, condition=condition, training=True)
        finally:
            missed = [layer.name for layer in layers if layer.data_dependent_init_pending]
            for layer in layers:
                layer._init_pending = False
        if missed:
            raise RuntimeError(f"data-dependent init did not reach the layers {missed}")
        return len(layers)

    # ------------------------------------------------------------ cached generation
    # Fast generation of Ramachandran et al. 2017 ("Fast Generation for Convolutional
    # Autoregressive Models", arXiv:1704.06001): every layer keeps a cache of the inputs its
    # kernel still needs and computes an output only when that output becomes computable.
    #
    # The vertical stream u (kernels over the rows above) at image row r depends on all of
    # row r-1 (each (2, 3) convolution reaches one column further right), so it becomes
    # computable at the first pixel of row r: the step then computes u for row r, one row per
    # layer from that layer's cached previous input row. Level i (H/2^i x W/2^i) gets its row
    # r/2^i at the image rows r divisible by 2^i; the strided convolution reads the two cached
    # finer rows, the transposed convolution turns a coarse row into the finer row it feeds.
    # The horizontal stream ul ((2, 2) kernels, up and left) at pixel (r, c) is computed at
    # step (r, c), one pixel per layer, from two-row caches of its inputs (slot r % 2 holds row
    # r, the other slot row r-1); level i computes its pixel (r/2^i, c/2^i) when 2^i divides r
    # and c, and the transposed convolution maps a coarse pixel to the finer pixel alone.
    # Every read and write touches one pixel or one row of a cache, so a step costs the same
    # however large the image; the row work falls on the first step of each row.

    def _levels(self):
        """(height, width) of every hierarchy level, finest first."""
        height, width = self.image_shape[:2]
        levels = []
        for _ in range(self.num_hierarchies):
            levels.append((height, width))
            height, width = (height + 1) // 2, (width + 1) // 2
        return levels

    def _blocks(self):
        """Every gated block in a fixed order (the index of its class bias in the state)."""
        return [block for blocks in self.encoder + self.decoder for pair in blocks for block in pair]

    def initial_state(self, batch_size, condition=None):
        """Caches of the cached step, all zero (the zero padding above and left of the image).

        ``x``: the last two image rows [B, 2, W + 2, C (+ 1)] (input and its ones channel, a zero
        column either side); ``rows``: per u-stream convolution the previous row of its input,
        and the current row of the u features the ul stream reads; ``pixels``: per ul-stream
        convolution a two-row cache [B, 2, width + 1, channels] (a zero column on the left);
        ``class_bias``: each block's label projection [B, blocks, 2 filters].
        """
        dtype, f = self.compute_dtype, self.num_filters
        height, width, channels = self.image_shape
        levels = self._levels()
        rows, pixels = {}, {}
        for i, (_, w) in enumerate(levels):
            k = self.num_hierarchies - 1 - i  # the decoder index of level i
            for block_u, block_ul in self.encoder[i] + self.decoder[k]:
                for suffix in ("in", "mid"):
                    rows[f"{block_u.name}_{suffix}"] = tf.zeros([batch_size, w, 2 * f], dtype)
                    pixels[f"{block_ul.name}_{suffix}"] = tf.zeros([batch_size, 2, w + 1, 2 * f], dtype)
                rows[f"{block_u.name}_out"] = tf.zeros([batch_size, w, f], dtype)
            if i < self.num_hierarchies - 1:
                down_u, down_ul = self.downsample[i]
                rows[f"{down_u.name}_in"] = tf.zeros([batch_size, w, f], dtype)
                pixels[f"{down_ul.name}_in"] = tf.zeros([batch_size, 2, w + 1, f], dtype)
            if i > 0:  # the decoder's last row (u) and pixels (ul) that the finer level upsamples
                up_u, up_ul = self.upsample[k]
                rows[f"{up_u.name}_in"] = tf.zeros([batch_size, w, f], dtype)
                pixels[f"{up_ul.name}_in"] = tf.zeros([batch_size, w, f], dtype)
        state = {
            "position": tf.zeros([], tf.int32),
            "x": tf.zeros([batch_size, 2, width + 2, channels + int(self.boundary_channel)], dtype),
            "rows": rows,
            "pixels": pixels,
        }
        if self.num_classes is not None:
            label = tf.one_hot(tf.cast(condition, tf.int32), self.num_classes)
            state["class_bias"] = tf.stack(
                [tf.cast(block.class_proj(label), dtype) for block in self._blocks()], axis=1)
        return state

    def step(self, x_prev, state):
        """Write pixel ``x_prev`` [B, C] at position - 1; return the mixture parameters [B, P] of
        the pixel at ``position`` and the new state. Nothing is mutated."""
        self.build()
        height, width, _ = self.image_shape
        position = state["position"]
        t = tf.minimum(position, height * width - 1)
        row, col = t // width, t % width
        last = tf.maximum(position - 1, 0)  # at position 0 this writes zeros where the first pixel will go
        value = self.embed_input(x_prev)
        if self.boundary_channel:
            value = tf.concat([value, tf.ones_like(x_prev[:, :1], self.compute_dtype)], axis=-1)
        value = value * tf.cast(position > 0, value.dtype)
        image = write_at(state["x"], [last // width % 2, last % width + 1], value)
        bias = state.get("class_bias")
        rows = tf.cond(tf.equal(col, 0), lambda: self._rows(0, row, None, image, dict(state["rows"]), bias),
                       lambda: dict(state["rows"]))
        params, pixels = self._pixels(0, row, col, None, image, rows, dict(state["pixels"]), bias)
        new_state = dict(state, position=position + 1, x=image, rows=rows, pixels=pixels)
        return tf.cast(params, tf.float32), new_state

    def _class_bias(self, bias, block):
        return None if bias is None else bias[:, self._blocks().index(block)]

    def _rows(self, i, r, u, image, rows, bias):
        """u stream, row r of level i (``u``: that row of the level's input; level 0 reads ``image``).

        Returns ``rows`` with every cache of level i and the levels below updated."""
        k = self.num_hierarchies - 1 - i
        if i == 0:  # init_u sees image rows r-2 and r-1: slots r % 2 and (r + 1) % 2
            u = self.init_u.call_rows(tf.gather(image, tf.stack([r % 2, (r + 1) % 2]), axis=1), padded=True)

        def window(name):
            def store_and_read(h):
                previous, rows[name] = rows[name], h
                return tf.stack([previous, h], axis=1)
            return store_and_read

        def block_row(block, u, a=None):
            out = block.call_incremental(u, window(f"{block.name}_in"), window(f"{block.name}_mid"), a=a,
                                         class_bias=self._class_bias(bias, block), rows=True)
            rows[f"{block.name}_out"] = out
            return out

        skips = [u]
        for block_u, _ in self.encoder[i]:
            u = block_u_out = block_row(block_u, u)
            skips.append(block_u_out)
        if i < self.num_hierarchies - 1:
            down_u = self.downsample[i][0]
            pair = window(f"{down_u.name}_in")(u)
            current = dict(rows)
            rows = tf.cond(tf.equal(r % 2, 0),
                           lambda: self._rows(i + 1, r // 2, down_u.call_rows(pair), image, dict(current), bias),
                           lambda: current)
        if i == self.num_hierarchies - 1:
            u = skips.pop()
        else:
            up_u = self.upsample[k - 1][0]
            u = up_u.call_row(rows[f"{up_u.name}_in"], r % 2)[:, : self._levels()[i][1]]
        for block_u, _ in self.decoder[k]:
            u = block_row(block_u, u, a=skips.pop())
        if i > 0:
            rows[f"{self.upsample[k][0].name}_in"] = u
        return rows

    def _pixels(self, i, r, c, ul, image, rows, pixels, bias):
        """ul stream, pixel (r, c) of level i (``ul``: that pixel of the level's input; level 0
        reads ``image``). Level 0 returns (params, pixels), the others ``pixels``."""
        k = self.num_hierarchies - 1 - i
        if i == 0:
            above = tf.slice(image, [0, (r + 1) % 2, c, 0], [-1, 1, 3, -1])  # image row r-1, columns c-1..c+1
            left = tf.gather(tf.slice(image, [0, 0, c, 0], [-1, 2, 1, -1]), tf.stack([(r + 1) % 2, r % 2]), axis=1)
            ul = self.init_ul_up.call_window(above) + self.init_ul_left.call_window(left)

        def window(name):
            def store_and_read(h):
                pixels[name] = write_at(pixels[name], [r % 2, c + 1], h)
                return _two_by_two(pixels[name], r, c)
            return store_and_read

        def block_pixel(block, ul, a):
            return block.call_incremental(ul, window(f"{block.name}_in"), window(f"{block.name}_mid"), a=a,
                                          class_bias=self._class_bias(bias, block))

        skips = [ul]
        for block_u, block_ul in self.encoder[i]:
            ul = block_pixel(block_ul, ul, rows[f"{block_u.name}_out"][:, c])
            skips.append(ul)
        if i < self.num_hierarchies - 1:
            down_ul = self.downsample[i][1]
            name = f"{down_ul.name}_in"
            pixels[name] = write_at(pixels[name], [r % 2, c + 1], ul)
            current = dict(pixels)
            pixels = tf.cond(
                tf.logical_and(tf.equal(r % 2, 0), tf.equal(c % 2, 0)),
                lambda: self._pixels(i + 1, r // 2, c // 2, down_ul.call_window(_two_by_two(current[name], r, c)),
                                     image, rows, dict(current), bias),
                lambda: current)
        if i == self.num_hierarchies - 1:
            ul = skips.pop()
        else:
            up_ul = self.upsample[k - 1][1]
            ul = up_ul.call_pixel(pixels[f"{up_ul.name}_in"][:, c // 2], r % 2, c % 2)
        for block_u, block_ul in self.decoder[k]:
            ul = block_pixel(block_ul, ul, [rows[f"{block_u.name}_out"][:, c], skips.pop()])
        if i > 0:
            name = f"{self.upsample[k][1].name}_in"
            pixels[name] = write_at(pixels[name], [c], ul)
            return pixels
        return self.output_dense(tf.nn.elu(ul)), pixels

    @staticmethod
    def _crop_like(x, target):
        """Odd sizes: drop the extra last row/column an upsampling made (no-op when shapes agree)."""
        if x.shape[1:3] == target.shape[1:3] and None not in x.shape[1:3]:
            return x
        size = tf.shape(target)
        return x[:, : size[1], : size[2]]

    def get_config(self):
        config = super().get_config()
        config.update(
            image_shape=list(self.image_shape), num_levels=self.num_levels, num_resnet=self.num_resnet,
            num_hierarchies=self.num_hierarchies, num_filters=self.num_filters,
            num_logistic_mix=self.num_logistic_mix, dropout_p=self.dropout_p, num_classes=self.num_classes,
            weight_norm=self.weight_norm, output_init_scale=self.output_init_scale,
            mixture_scale=self.head.scale, boundary_channel=self.boundary_channel,
        )
        return config


def _two_by_two(cache, row, column):
    """The (2, 2) window above-left of pixel (row, column): cache rows row-1, row (slots (row + 1) % 2,
    row % 2) and columns column-1, column (cache columns column, column + 1), [B, 2, 2, C]."""
    window = tf.slice(cache, tf.stack([0, 0, column, 0]), [-1, 2, 2, -1])
    return tf.gather(window, tf.stack([(row + 1) % 2, row % 2]), axis=1)
