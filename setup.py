"""Build the optional C accelerator (tcptrace._engine). Everything else is in pyproject.toml.

optional=True: without a C compiler or Python headers the install still succeeds and tcptrace runs its
pure-Python reference path (the same results, slower; see docs/engine.md).
"""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "tcptrace._engine",
            ["tcptrace/_engine.c"],
            # generated from the Python tables by scripts/gen_vocab_h.py and committed: the build runs no Python step
            depends=["tcptrace/_vocab.h"],
            optional=True,
            extra_compile_args=["-O2"],
            libraries=["m"],
        )
    ]
)
