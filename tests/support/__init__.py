"""Test helpers shared by the suites: an in-memory cloud and an HTTP request recorder."""
