"""``python -m sympy_theano_printer``: the command line of :mod:`sympy_theano_printer.cli`."""
import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
