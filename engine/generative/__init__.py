"""The Generative models page's engine.

- `data`: 2-D point distributions (the ring and grid of Gaussians of the mode-coverage papers, moons, a spiral, a
  typed word), drawn fresh for every batch;
- `vae`, `vae_trainer`, `vae_visuals`: a VAE on digits or points beside a plain autoencoder, its ELBO's two terms,
  the reparameterization trick and what the page draws of its latent space;
- `gan`, `gan_trainer`: a GAN's two MLPs, its three losses and the game played live;
- `coverage`: modes covered and the share of high-quality samples;
- `spec`: the page's controls and the experiment they define (the open tab's model).
"""
