"""theory: SymPy registry of bounds for clipped stochastic optimization."""
