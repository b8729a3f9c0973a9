"""runs_cli: the ``runs-client`` command."""
