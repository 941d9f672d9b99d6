"""Pure geometry and rules for Redline: GeoDataFrames in, GeoDataFrames out.

Nothing in this package imports a web framework or a database driver, so the same code runs in the API,
in the CLI and inside Dask workers, and is tested alone.
"""
