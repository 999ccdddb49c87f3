"""Expression Lab core library: everything but the user interface."""

__version__ = "0.1.0"
