"""The Gradient Flow page's experiments: how gradients travel back through depth and through time.

Deep networks: `deep_config` (what defines one, its choices and labels), `deep_model` (the network and the
theory line of its initialization), `probes` (per-layer measurements of a training step), `deep_trainer`
(the trainer, its visuals and job). Through time: `recurrent_config`, `recurrent_model` (the recall task, the
cells, gradients through time, the linear case) and `recurrent_trainer`. `weights` copies a model's weights
for the snapshot. `spec` is the page's control table and spec (both modes); `notes`, what the page writes
about an experiment (file names, the notes beside its charts).
"""
