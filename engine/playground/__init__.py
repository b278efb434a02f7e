"""The Network Playground: a small MLP on 2-D (or 1-D) toy data, trained live.

config (what defines an experiment, hyperparameter defaults), data (the toy data sets), model (the network,
its losses, the one rebuild from a snapshot's weights), pieces (where a piecewise-linear network bends),
trainer (the plain trainer, its typed visuals, the job), stopping (early stopping's choice by the
validation loss against the test set's), replay (the run replayed from its recorded weights),
spec (the page's control table and the spec it defines).
"""
