"""``python -m theory``: print the registry (name, kind, status, quantity, rate)."""
from .table import format_table

if __name__ == "__main__":
    print(format_table())
    print("\nrate: exponent of the leading term in the variable (in 1/x for delta, eps); "
          "log^: power of log of it. Status: V read, 2nd restated, R recalled, D derived.")
