"""``python -m tcptrace``: the same command line as the ``tcptrace`` script."""

from .cli import entry

if __name__ == "__main__":
    entry()
