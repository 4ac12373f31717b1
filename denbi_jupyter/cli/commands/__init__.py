"""Subcommands of the ``denbi-jupyter`` command line, one module each."""
