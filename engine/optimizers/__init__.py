"""The Optimizers page: optimizers racing on 2-D test functions, and the step-size theory of quadratics.

- `surfaces`: the test functions (one torch formula each: values, gradients, Hessians)
- `rules`: the optimizers torch lacks (Newton, Quickprop) as torch optimizers
- `table`: the optimizers the page offers, their update rules, hyperparameters and defaults
- `experiment`: the experiment as data (surface, start, steps, optimizers, schedule, clipping, seed)
- `trajectory`: one optimizer's path and where it left the plotted region
- `race`: every optimizer advanced in lockstep; `trainer`: that race as the runtime's trainer and job
- `theory`: GD's regimes along eigen-directions, momentum's stability limit, Newton's step
- `summary`: the page's table of settings and outcomes
"""
