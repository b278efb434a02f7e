"""The Diffusion page's engine: a denoising diffusion model (DDPM) learning 2-D point sets or 8x8 digits.

- `config`: `DiffusionConfig`, its checks and each data set's tuned defaults;
- `data`: the point sets and the digits, standardized, with their labels;
- `noise_schedule`: β_t, ᾱ_t and the forward process (linear and cosine schedules);
- `sampling`: the reverse process, DDPM's and DDIM's steps;
- `model`: the ε-prediction network;
- `trainer`: `DiffusionTrainer`, the whole experiment as a plain trainer;
- `quality`: how close samples are to held-out data (MMD², energy distance, a digit judge);
- `visuals`: what the page draws, as typed frozen values;
- `measuring`: what is measured of one step's network (samples, their quality, the reverse process);
- `job`: `DiffusionJob`, the trainer run live, with its measuring thread.
"""
