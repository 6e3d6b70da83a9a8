"""clipsim: simulate clipped stochastic optimizers under heavy-tailed noise and check bounds."""
__version__ = "0.1.0"
