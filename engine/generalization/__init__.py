"""The Generalization page: 1-D regression where every number is computed. Least squares on polynomial or random
ReLU features, refit on hundreds of fresh training sets at once (bias and variance measured, the complexity
sweep and its second descent, ridge's shrinkage), and a small MLP trained live with early stopping."""
