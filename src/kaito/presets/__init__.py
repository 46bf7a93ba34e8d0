"""Model presets and GPU SKUs: what a model needs and what an instance type offers."""
