"""Process entry points: the workspace controller and the GPU provisioner."""
