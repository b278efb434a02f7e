"""Loss landscapes of a live network: directions, batched surfaces, curvature.

After Li et al., "Visualizing the Loss Landscape of Neural Nets" (NeurIPS 2018), but live and in seconds
rather than GPU-hours:

- directions: random (filter-, layer- or not normalized), trajectory PCA, and the flat parameter space;
- losses: the loss at θ = θ₀ + α·d₁ + β·d₂ on a grid (or a line, or given weight vectors), evaluated in
  chunks by one of the batched evaluators;
- curvature: the top Hessian eigenvalues by Lanczos or power iteration; stability: the step size 2/λmax
  (and its momentum forms) beyond which gradient descent on the local quadratic diverges;
- network: the Playground's network rebuilt from a snapshot; presets and views: what the page asks for.

Networks are evaluated in eval mode: batch norm uses its running statistics (and never updates them, which
`vmap` could not do anyway), dropout is off. Results come back as NumPy arrays.
"""
