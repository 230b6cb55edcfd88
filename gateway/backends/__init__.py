"""Vendor backends: one module per vendor behind the `Backend` protocol of `base`."""
