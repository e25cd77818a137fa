"""Test support shared by every app's tests: data built through the services, API clients."""
