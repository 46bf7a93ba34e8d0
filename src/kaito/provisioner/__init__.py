"""The Machine reconciler and its node backends (fake for tests, Azure for AKS)."""
