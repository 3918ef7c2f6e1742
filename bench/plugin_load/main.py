"""Entry point of the load plugin: `python -m main` from this folder (the load bench copies it once per plugin)."""

from dify_plugin import DifyPluginEnv, Plugin

plugin = Plugin(DifyPluginEnv())

if __name__ == "__main__":
    plugin.run()
