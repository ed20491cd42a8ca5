"""The IoT platform's devices, readings and their rollups (issue 11)."""
