"""Keras layers, one per file (the conv and pooling families share a file each)."""

from ferronet.layers.activation import Activation
from ferronet.layers.activity_regularization import ActivityRegularization
from ferronet.layers.batch_normalization import BatchNormalization
from ferronet.layers.bidirectional import Bidirectional
from ferronet.layers.conv import Conv1D, Conv2D
from ferronet.layers.conv2d_transpose import Conv2DTranspose
from ferronet.layers.cropping2d import Cropping2D
from ferronet.layers.dense import Dense
from ferronet.layers.depthwise_conv2d import DepthwiseConv2D
from ferronet.layers.dropout import Dropout
from ferronet.layers.elu import ELU
from ferronet.layers.embedding import Embedding
from ferronet.layers.flatten import Flatten
from ferronet.layers.gaussian_dropout import GaussianDropout
from ferronet.layers.gaussian_noise import GaussianNoise
from ferronet.layers.gru import GRU
from ferronet.layers.global_pooling import (GlobalAveragePooling1D, GlobalAveragePooling2D, GlobalMaxPooling1D,
                                            GlobalMaxPooling2D)
from ferronet.layers.input_layer import Input, InputLayer
from ferronet.layers.layer import Layer
from ferronet.layers.layer_normalization import LayerNormalization
from ferronet.layers.leaky_relu import LeakyReLU
from ferronet.layers.lstm import LSTM
from ferronet.layers.masking import Masking
from ferronet.layers.pooling import AveragePooling1D, AveragePooling2D, MaxPooling1D, MaxPooling2D
from ferronet.layers.relu import ReLU
from ferronet.layers.reshape import Reshape
from ferronet.layers.rnn_cells import RNN, GRUCell, LSTMCell, SimpleRNNCell
from ferronet.layers.separable_conv2d import SeparableConv2D
from ferronet.layers.simple_rnn import SimpleRNN
from ferronet.layers.softmax import Softmax
from ferronet.layers.time_distributed import TimeDistributed
from ferronet.layers.upsampling2d import UpSampling2D
from ferronet.layers.zero_padding2d import ZeroPadding2D

# Keras's aliases: the same classes under a second name.
Convolution1D = Conv1D
Convolution2D = Conv2D
Convolution2DTranspose = Conv2DTranspose
SeparableConvolution2D = SeparableConv2D
MaxPool1D = MaxPooling1D
MaxPool2D = MaxPooling2D
AvgPool1D = AveragePooling1D
AvgPool2D = AveragePooling2D
GlobalAvgPool1D = GlobalAveragePooling1D
GlobalAvgPool2D = GlobalAveragePooling2D
GlobalMaxPool1D = GlobalMaxPooling1D
GlobalMaxPool2D = GlobalMaxPooling2D
_ALIASES = {"Convolution1D": Conv1D, "Convolution2D": Conv2D, "Convolution2DTranspose": Conv2DTranspose,
            "SeparableConvolution2D": SeparableConv2D, "MaxPool1D": MaxPooling1D, "MaxPool2D": MaxPooling2D,
            "AvgPool1D": AveragePooling1D, "AvgPool2D": AveragePooling2D, "GlobalAvgPool1D": GlobalAveragePooling1D,
            "GlobalAvgPool2D": GlobalAveragePooling2D, "GlobalMaxPool1D": GlobalMaxPooling1D,
            "GlobalMaxPool2D": GlobalMaxPooling2D}

_CLASSES = (Activation, ActivityRegularization, AveragePooling1D, AveragePooling2D, BatchNormalization, Bidirectional, Conv1D,
            Conv2D, Conv2DTranspose, Cropping2D, Dense, DepthwiseConv2D, Dropout, ELU, Embedding, Flatten, GaussianDropout,
            GaussianNoise, GlobalAveragePooling1D, GlobalAveragePooling2D, GlobalMaxPooling1D, GlobalMaxPooling2D, GRU,
            InputLayer, LayerNormalization, LeakyReLU, LSTM, Masking, MaxPooling1D, MaxPooling2D, ReLU, Reshape,
            RNN, SeparableConv2D, SimpleRNN, Softmax, TimeDistributed, UpSampling2D, ZeroPadding2D)
__all__ = ["Input", "Layer", "GRUCell", "LSTMCell", "SimpleRNNCell"] + [cls.__name__ for cls in _CLASSES] + sorted(_ALIASES)

_REGISTRY = {**{cls.__name__: cls for cls in _CLASSES}, **_ALIASES}


def get_layer_class(class_name):
    """The layer class registered under `class_name` (a closed registry: no arbitrary imports)."""
    if class_name not in _REGISTRY:
        raise ValueError(f"layers: unknown layer class {class_name!r}; known: {sorted(_REGISTRY)}")
    return _REGISTRY[class_name]
