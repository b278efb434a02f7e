"""The Convolutional networks page's engine.

- `data`: scikit-learn's 8x8 digits and a generated set of shapes, split into training and held-out images;
- `model`: the small CNN and an MLP with about as many parameters;
- `arithmetic`: output sizes, parameters, multiply-adds and receptive fields of a stack of conv and pooling
  layers, and where a window's taps land;
- `kernels`: the kernel sandbox: hand-set 3x3 kernels, typed kernels, the sample images, one convolution;
- `upsampling`: transposed convolution against resize-then-convolve, and the checkerboard it leaves.
"""
