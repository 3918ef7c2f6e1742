"""`dify-mock check`: what Dify would do with a plugin, found offline before it is published.

A layer above `testing/`: it reads the plugin's files as the daemon validates them (`static.py`), makes its
environment (`plugins/environments.py`), starts it under a mock as Dify runs it, invokes every entry point with
parameters its own schema allows (`parameters.py`, `invocations.py`), sends its network calls to a proxy that
refuses them and names the host (`network.py`), and audits its reverse calls against its manifest
(`permissions.py`). `runner.py` puts them together into a `PluginReport` (`findings.py`); `cli/check.py` prints it.
"""
