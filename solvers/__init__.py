"""Keel's optimisers: pure Python over plain data, each runnable on a JSON instance."""
