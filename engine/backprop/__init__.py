"""Backprop by hand: a small network's forward and backward pass written out per unit and per edge, in float64
NumPy, with every number available to show (and checked against torch's autograd in the tests)."""
