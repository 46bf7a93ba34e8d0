"""KAITO's runtime, shipped in the model images: the inference server and the tuning job."""
