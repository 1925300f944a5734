"""CNN layers (issue 5): Conv1D/2D, DepthwiseConv2D, SeparableConv2D, Conv2DTranspose, pooling, padding, upsampling, cropping."""
