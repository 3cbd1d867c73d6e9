"""Test helpers for idsync and its plugins: serving simulators and the plugin contract kit."""
