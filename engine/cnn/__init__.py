"""The Convolutional networks page's engine.

- `data`: scikit-learn's 8x8 digits and a generated set of shapes, split into training and held-out images;
- `model`: the small CNN and an MLP with about as many parameters;
- `config`, `trainer`, `visuals`: one live experiment (the CNN, its MLP twin and an adversarially trained copy)
  and what the page inspects about it;
- `invariance`: shift-then-convolve against convolve-then-shift, and how much class scores move;
- `attacks`: saliency, FGSM and BIM/PGD, accuracy under attack;
- `arithmetic`: output sizes, parameters, multiply-adds and receptive fields of a stack of conv and pooling
  layers, and where a window's taps land;
- `kernels`: the kernel sandbox: hand-set 3x3 kernels, typed kernels, the sample images, one convolution;
- `upsampling`: transposed convolution against resize-then-convolve, and the checkerboard it leaves;
- `spec`: the page's controls and the experiment they define.
"""
