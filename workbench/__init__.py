"""TinyAgent Workbench."""
